import t from 'tap'
import type { HauynaError } from '../lib/client/index'
import { createClient, deadUrl, record } from './client-helpers'
import { connect, startServer, until } from './helpers'

t.test('stop() flushes the queue, then closes with 1000', async (t) => {
  const server = await startServer(t)
  const closes: number[] = []
  server.app.events.on('disconnect', (_conn, info) => { closes.push(info.code) })
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room' })
  const client = createClient(t, server.url({ userId: 'alice' }))
  const states = record(client, 'state')
  client.subscribe('room', () => {})
  const sends = [1, 2, 3].map((n) => client.publish('room', n))
  void client.start()
  const result = await client.stop({ timeout: 3000 })

  t.same(result, { graceful: true, unsent: 0 })
  await Promise.all(sends)
  await until(() => bob.all('message').length === 3, 2000, 'the flushed messages')
  t.same(bob.all('message').map((m) => m.data), [1, 2, 3])
  await until(() => closes.length === 1, 2000, "the server's disconnect event")
  t.same(closes, [1000])
  t.same(states.map(([to]) => to), ['connecting', 'open', 'closing', 'closed'])
  t.match(client.status(), { state: 'closed', started: false, stopping: false, queueSize: 0, pendingRequests: 0 })
})

t.test('stop() gives up on what it cannot send within the timeout', async (t) => {
  const client = createClient(t, await deadUrl(t), { retry: { baseDelay: 10, maxDelay: 10, jitter: 0 } })
  const sends = [1, 2].map((n) => client.publish('room', n))
  const started = client.start()
  const stopping = client.stop({ timeout: 100 })
  t.equal(client.status().stopping, true)
  t.equal(client.stop(), stopping, 'a second stop() joins the first')
  t.same(await stopping, { graceful: false, unsent: 2 })
  for (const send of sends) await t.rejects(send, { code: 'stopped', sent: false })
  await t.rejects(started, { code: 'stopped' })
  t.equal(client.state, 'closed')
  await t.rejects(client.publish('room', 3), { code: 'closed' })
})

t.test('stop() before start() rejects what was queued', async (t) => {
  const client = createClient(t, 'ws://127.0.0.1:9/ws')
  const send = client.publish('room', 1)
  t.same(await client.stop(), { graceful: false, unsent: 1 })
  await t.rejects(send, { code: 'stopped' })
})

t.test('stop() on an open client, and start() again afterwards', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  const received: unknown[] = []
  const unsubscribe = client.subscribe('room', (m) => received.push(m.data))
  await client.start()
  await unsubscribe.subscribed
  t.same(await client.stop(), { graceful: true, unsent: 0 })
  await until(() => server.app.connections.byUser('alice').length === 0, 2000, 'the server to let go')

  await client.start()
  await client.publish('room', 'back')
  await until(() => received.length === 1, 2000, 'the message')
  t.same(received, ['back'], 'subscriptions survive a stop and return with start()')
})

t.test('a subscription never confirmed is rejected when the client stops', async (t) => {
  const client = createClient(t, 'ws://127.0.0.1:9/ws')
  const unsubscribe = client.subscribe('room', () => {})
  await client.stop()
  const error = await unsubscribe.subscribed.catch((e: HauynaError) => e) as HauynaError
  t.equal(error.code, 'stopped')
})
