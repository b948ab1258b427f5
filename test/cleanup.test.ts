import t from 'tap'
import { connect, startServer, until } from './helpers'
import { internalsOf } from '../lib/plugin'

const CYCLES = 4_000
const CONCURRENCY = 50
const CHANNELS = 100
const USERS = 500
const GROUPS = 20


/** Runs `task(i)` for i in [0, count) with at most `limit` running at once. */
async function pool (count: number, limit: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  async function worker (): Promise<void> {
    while (next < count) await task(next++)
  }
  await Promise.all(Array.from({ length: limit }, worker))
}

t.test(`${CYCLES} connect/subscribe/disconnect cycles leave every map empty`, async (t) => {
  const server = await startServer(t, {
    // Identity groups are dropped with the user's last connection (unlike groups.add()).
    authenticate: (request) => {
      const { userId, group } = request.query as { userId: string, group: string }
      return { id: userId, groups: [{ name: group, role: 'member' }] }
    },
    rateLimit: false
  })
  const { app } = server
  let connects = 0
  let disconnects = 0
  let subscribes = 0
  let unsubscribes = 0
  app.events.on('connect', () => { connects++ })
  app.events.on('disconnect', () => { disconnects++ })
  app.events.on('subscribe', () => { subscribes++ })
  app.events.on('unsubscribe', () => { unsubscribes++ })

  const violations: string[] = []
  const started = Date.now()
  await pool(CYCLES, CONCURRENCY, async (i) => {
    const userId = `user-${i % USERS}`
    const client = await connect(server.url({ userId, group: `group-${i % GROUPS}` }))
    const reply = await client.request({ type: 'subscribe', channel: `channel-${i % CHANNELS}`, meta: { i } })
    if (reply.type !== 'ack') violations.push(`cycle ${i}: ${JSON.stringify(reply)}`)
    // Every fourth cycle also joins a second channel and sets presence, so more paths run.
    if (i % 4 === 0) {
      await client.request({ type: 'subscribe', channel: `extra-${i % 7}` })
      await client.request({ type: 'presence', status: 'busy', meta: { i } })
    }
    violations.push(...client.violations)
    // Half the clients leave with a `disconnect` frame, half by closing the socket.
    if (i % 2 === 0) client.send({ type: 'disconnect' })
    else client.ws.close()
    await client.closed
  })
  await until(async () => (await app.connections.count()) === 0 && disconnects === CYCLES, 10_000, 'all cleaned up')
  const elapsed = Date.now() - started
  t.comment(`${CYCLES} cycles (${CONCURRENCY} at a time) took ${elapsed} ms`)

  t.same(violations, [], 'every frame matched the protocol')
  t.equal(connects, CYCLES)
  t.equal(disconnects, CYCLES)
  t.equal(subscribes, CYCLES + CYCLES / 4)
  t.equal(unsubscribes, subscribes, 'every subscription was released on close')

  const stats = await app.hauyna.stats()
  t.match(stats, {
    connections: 0,
    users: 0,
    topics: 0,
    channels: { count: 0, top: [] },
    groups: 0,
    presence: 0,
    connectionsTotal: CYCLES
  })
  t.same(stats.states, { connected: 0, idle: 0, disconnected: 0, reconnecting: 0, error: 0 })
  t.match(internalsOf(app), {
    connectionsById: 0, connectionsByUser: 0, hubTopics: 0, groupMemberships: 0, userGroups: 0, presenceUsers: 0
  })
  t.same(internalsOf(app).sharedSets, {}, 'no shared set is left: channels, presence channels, users, identity groups')
  t.same(await app.presence.list(), [])
  t.same(await app.groups.list(), [])

  // The server still works after all that.
  const client = await connect(server.url({ userId: 'after', group: 'g' }))
  t.equal((await client.request({ type: 'subscribe', channel: 'channel-1' })).type, 'ack')
  t.same(await app.channels.subscribers('channel-1'), [{ connectionId: app.connections.byUser('after')[0].id, userId: 'after', meta: {}, nodeId: app.hauyna.nodeId }])
})

t.test('groups added through the API survive disconnects until removed', async (t) => {
  const server = await startServer(t)
  const { app } = server
  const client = await connect(server.url({ userId: 'alice' }))
  await app.groups.add('alice', 'staff', { role: 'admin' })
  await client.close()
  await until(async () => (await app.connections.count()) === 0, 3000, 'closed')
  // Sticky by design: the membership is kept while the user is offline…
  t.same(await app.groups.members('staff'), [{ userId: 'alice', role: 'admin' }])
  t.equal((await app.hauyna.stats()).topics, 0, '…but no topic is held without a connection')
  t.equal(await app.groups.remove('alice', 'staff'), true)
  t.match(internalsOf(app), {
    connectionsById: 0, connectionsByUser: 0, hubTopics: 0, groupMemberships: 0, userGroups: 0, presenceUsers: 0
  })
})
