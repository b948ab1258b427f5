import t from 'tap'
import type { HauynaClient } from '../lib/client/index'
import { redisAdapter } from '../lib/index'
import { createClient, publishSteadily, record } from './client-helpers'
import { delay, type Server, startServer, until } from './helpers'
import { REDIS_URL, requireRedis, skipRedis, testPrefix } from './redis-helpers'

// The SDK's side of a rolling deploy: told `reconnect`, it goes as soon as the server closes
// with 1001, to wherever its URL now points (the load balancer's choice, here a variable),
// without the backoff of an ordinary drop.

// A backoff this long would outlast every wait below: only the drain's immediate attempt gets there.
const slow = { baseDelay: 60_000, maxDelay: 60_000, jitter: 0 }

/** Open on `server`, on a connection other than `previous`. */
function openOn (client: HauynaClient, server: Server, previous: string | undefined): Promise<void> {
  return until(() => client.state === 'open' && client.connectionId !== previous &&
    server.app.connections.get(client.connectionId as string) !== undefined, 5000, 'the client open on the other server')
}

t.test('told to reconnect, the SDK goes at once on the 1001, to where its URL points; a plain 1001 still backs off', async (t) => {
  const a = await startServer(t)
  const b = await startServer(t)
  let target = a
  const client = createClient(t, () => target.url({ userId: 'alice' }), { retry: slow })
  const notices = record(client, 'reconnect')
  const disconnects = record(client, 'disconnected')
  const retries = record(client, 'retry')
  await client.start()
  const first = client.connectionId

  target = b
  await a.app.hauyna.drain({ timeout: 200 })
  await openOn(client, b, first)
  t.match(notices, [[{ type: 'reconnect', after: Number }]], 'the reconnect event, with after')
  t.match(disconnects, [[{ code: 1001, reason: 'server draining', willReconnect: true }]])
  t.same(retries, [[{ attempt: 1, delay: 0 }]], 'no backoff')

  await b.stop()
  await until(() => retries.length === 2, 3000, 'the next retry')
  t.match(disconnects[1], [{ code: 1001, reason: 'server shutting down' }])
  t.same(retries[1], [{ attempt: 1, delay: slow.baseDelay }], 'a 1001 without reconnect is an ordinary drop')
})

t.test('two nodes on Redis: node a drains while a history channel streams; every client ends on b with every message once, in order', { skip: skipRedis }, async (t) => {
  if (!requireRedis(t)) return
  const keyPrefix = testPrefix(t)
  const options = {
    resume: true,
    channels: { policies: { room: { history: { size: 10_000, ttl: 300_000 } } } }
  }
  const a = await startServer(t, { ...options, adapter: redisAdapter({ url: REDIS_URL, keyPrefix }) })
  const b = await startServer(t, { ...options, adapter: redisAdapter({ url: REDIS_URL, keyPrefix }) })
  let target = a
  const users = ['alice', 'bob', 'carol', 'dave', 'erin']
  const clients = users.map((userId) => {
    const client = createClient(t, () => target.url({ userId }), { retry: slow })
    const got: unknown[] = []
    const room = client.subscribe('room', (m) => { got.push(m.data) })
    return { client, got, room }
  })
  await Promise.all(clients.map(async ({ client, room }) => { await client.start(); await room.subscribed }))
  const firsts = clients.map(({ client }) => client.connectionId)

  const stream = publishSteadily(t, b.app, 'room')
  await until(() => clients.every(({ got }) => got.length >= 20), 5000, 'the stream to flow')

  target = b
  await a.app.hauyna.drain({ timeout: 500 })
  await Promise.all(clients.map(({ client }, i) => openOn(client, b, firsts[i])))
  const drainedAt = stream.published
  await until(() => stream.published >= drainedAt + 50, 5000, 'messages published after the move')
  await stream.stop()
  const published = stream.published
  await until(() => clients.every(({ got }) => got.length >= published), 5000, 'every message at every client')
  await delay(100)

  t.equal((await a.app.hauyna.stats()).connections, 0, 'nobody left on a')
  t.equal((await b.app.hauyna.stats()).connections, users.length, 'everybody on b')
  const expected = Array.from({ length: published }, (_, i) => i + 1)
  for (const [i, { got }] of clients.entries()) {
    const problems = got.filter((n, j) => n !== expected[j])
    t.same(problems.slice(0, 10), [], `${users[i]}: no gap, no duplicate, nothing out of order`)
    t.equal(got.length, published, `${users[i]}: all ${published} messages`)
  }
})
