import t from 'tap'
import Fastify from 'fastify'
import websocket from '@fastify/websocket'
import hauyna, { type HauynaOptions } from '../lib/index'
import { connect, open, startServer, until } from './helpers'

/** Registers the plugin with `options` on a fresh app and returns the registration error. */
async function registrationError (options: unknown): Promise<Error & { code?: string }> {
  const app = Fastify({ logger: false })
  try {
    await app.register(hauyna, options as HauynaOptions)
    await app.ready()
  } catch (error) {
    return error as Error & { code?: string }
  } finally {
    await app.close().catch(() => {})
  }
  throw new Error(`register accepted ${JSON.stringify(options)}`)
}

t.test('a wrong option rejects register with HAUYNA_INVALID_OPTION naming it', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['unknown key', { heartbeats: { interval: 1000 } }, 'heartbeats'],
    ['negative heartbeat.interval', { heartbeat: { interval: -5 } }, 'heartbeat.interval'],
    ['heartbeat.timeout shorter than the interval', { heartbeat: { interval: 5000, timeout: 1000 } }, 'heartbeat.timeout'],
    ['path without a leading slash', { path: 'ws' }, 'path'],
    ['rateLimit.burst 0', { rateLimit: { burst: 0 } }, 'rateLimit.burst'],
    ['channels.default not allow/deny', { channels: { default: 'maybe' } }, 'channels.default'],
    ['authenticate not a function', { authenticate: 'yes' }, 'authenticate'],
    ['maxPayload a string', { maxPayload: '1024' }, 'maxPayload'],
    ['permissions.broadcast a bad word', { permissions: { broadcast: 'sometimes' } }, 'permissions.broadcast'],
    ['stats.path without a slash', { stats: { path: 'stats' } }, 'stats.path'],
    ['channel policy rule', { channels: { policies: { 'private:*': { publish: 'anyone' } } } }, 'channels.policies["private:*"].publish'],
    ['idleTimeout negative', { idleTimeout: -1 }, 'idleTimeout'],
    ['maxConnectionsPerUser fractional', { maxConnectionsPerUser: 1.5 }, 'maxConnectionsPerUser'],
    ['allowAnonymous a string', { allowAnonymous: 'true' }, 'allowAnonymous'],
    ['presence.defaultStatus over 64 characters', { presence: { defaultStatus: 's'.repeat(65) } }, 'presence.defaultStatus'],
    ['presence.defaultStatus invisible', { presence: { defaultStatus: 'on\u200bline' } }, 'presence.defaultStatus'],
    ['adapter without publish and init', { adapter: { name: 'mine' } }, 'adapter']
  ]
  for (const [what, options, name] of cases) {
    const error = await registrationError(options)
    t.equal(error.code, 'HAUYNA_INVALID_OPTION', `${what}: code`)
    t.ok(error.message.includes(`"${name}"`), `${what}: message names ${name} (${error.message})`)
  }
})

t.test('defaults, seen through behaviour', async (t) => {
  const server = await startServer(t)
  const client = await connect(server.url({ userId: 'alice' }))
  t.same(client.frames[0].heartbeat, { interval: 30_000, timeout: 60_000 }, 'heartbeat 30 s / 60 s')
  t.equal(server.app.connections.byUser('alice')[0].state, 'connected')
  // Default policies: any channel may be subscribed and published to by subscribers; broadcast is denied.
  t.equal((await client.request({ type: 'subscribe', channel: 'anything' })).type, 'ack')
  t.equal((await client.request({ type: 'publish', channel: 'anything', data: 1 })).type, 'ack')
  t.match(await client.request({ type: 'publish', channel: 'other', data: 1 }), { type: 'error', code: 'not_subscribed' })
  t.match(await client.request({ type: 'broadcast', data: 1 }), { type: 'error', code: 'forbidden' })
  // Default routes.
  t.equal((await fetch(`${server.http}/health`)).status, 200)
  t.equal((await fetch(`${server.http}/ws/stats`)).status, 200)
  // No anonymous connections by default.
  const anonymous = await open(server.url())
  t.equal((await anonymous.closed).code, 1002)
  t.same(client.violations, [])
})

t.test('a heartbeat interval alone derives the timeout', async (t) => {
  const server = await startServer(t, { heartbeat: { interval: 40_000 } })
  const client = await connect(server.url({ userId: 'alice' }))
  t.same(client.frames[0].heartbeat, { interval: 40_000, timeout: 80_000 })
})

t.test('the websocket option reaches ws: permessage-deflate is negotiated and applied', async (t) => {
  const server = await startServer(t, { websocket: { perMessageDeflate: { threshold: 0 } } })
  const client = await connect(server.url({ userId: 'alice' }), { perMessageDeflate: true })
  t.match(client.ws.extensions, /permessage-deflate/, 'the extension was negotiated')
  await client.request({ type: 'subscribe', channel: 'room' })
  const conn = server.app.connections.byUser('alice')[0]
  const socket = (conn.socket as unknown as { _socket: { bytesWritten: number } })._socket
  const before = socket.bytesWritten
  await server.app.channels.broadcastTo('room', { text: 'a'.repeat(100_000) })
  t.equal((await client.next('message')).data.text.length, 100_000)
  const written = socket.bytesWritten - before
  t.ok(written < 5_000, `100 KB of one letter went out compressed (${written} bytes)`)
  t.same(client.violations, [])
})

t.test('works when the app registered @fastify/websocket itself', async (t) => {
  const app = Fastify({ logger: false })
  await app.register(websocket)
  // Registering it a second time would throw (duplicate decorator): the plugin must skip it.
  await app.register(hauyna, { maxPayload: 1024 })
  app.get('/plain', { websocket: true }, (socket) => { socket.send('own route') })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }

  const client = await connect(`ws://127.0.0.1:${port}/ws?userId=alice`)
  t.equal((await client.request({ type: 'subscribe', channel: 'room' })).type, 'ack')
  t.equal((await client.request({ type: 'publish', channel: 'room', data: 'hi' })).type, 'ack')
  t.equal(client.all('message')[0]?.data, 'hi')
  // The app's ws server has no maxPayload of ours, so the plugin enforces it itself (1009).
  client.send({ type: 'publish', channel: 'room', data: 'x'.repeat(2000) })
  t.equal((await client.closed).code, 1009)
  t.same(client.violations, [])
})

t.test('stats: false and health: false remove the routes', async (t) => {
  const server = await startServer(t, { stats: false, health: false })
  t.equal((await fetch(`${server.http}/ws/stats`)).status, 404)
  t.equal((await fetch(`${server.http}/health`)).status, 404)
})

t.test('custom paths', async (t) => {
  const server = await startServer(t, { path: '/realtime', stats: { path: '/admin/stats' }, health: { path: '/up' } })
  const client = await connect(server.url({ userId: 'alice' }))
  t.equal(client.frames[0].userId, 'alice', 'the WebSocket route moved')
  t.equal((await fetch(`${server.http}/admin/stats`)).status, 200)
  t.equal((await fetch(`${server.http}/up`)).status, 200)
  t.equal((await fetch(`${server.http}/ws/stats`)).status, 404)
  t.equal((await fetch(`${server.http}/health`)).status, 404)
  const old = await fetch(`${server.http}/ws`)
  t.equal(old.status, 404, 'nothing left at /ws')
})

t.test('GET /health', async (t) => {
  const server = await startServer(t)
  const response = await fetch(`${server.http}/health`)
  t.equal(response.status, 200)
  const body = await response.json() as Record<string, unknown>
  t.same(Object.keys(body).sort(), ['status', 'timestamp', 'uptime'])
  t.equal(body.status, 'OK')
  t.ok(typeof body.timestamp === 'string' && !Number.isNaN(Date.parse(body.timestamp)), 'timestamp is a date')
  t.ok(typeof body.uptime === 'number' && body.uptime >= 0, 'uptime in seconds')
})

t.test('GET /ws/stats reflects the connected clients', async (t) => {
  const server = await startServer(t, {
    stats: { detail: true },
    authenticate: (request) => {
      const { userId } = request.query as { userId: string }
      return { id: userId, groups: userId === 'bob' ? ['ops'] : [] }
    }
  })
  const alice1 = await connect(server.url({ userId: 'alice' }))
  const alice2 = await connect(server.url({ userId: 'alice' }))
  const bob = await connect(server.url({ userId: 'bob' }))
  for (const c of [alice1, alice2, bob]) await c.request({ type: 'subscribe', channel: 'lobby' })
  await alice1.request({ type: 'subscribe', channel: 'dev' })
  await bob.request({ type: 'subscribe', channel: 'dev' })
  await alice2.request({ type: 'subscribe', channel: 'quiet' })
  await alice1.request({ type: 'publish', channel: 'lobby', data: 'hello' })

  const response = await fetch(`${server.http}/ws/stats`)
  t.equal(response.status, 200)
  const stats = await response.json() as Record<string, any>
  t.match(stats, {
    adapter: 'memory',
    nodeId: server.app.hauyna.nodeId,
    connections: 3,
    users: 2,
    states: { connected: 3, idle: 0, disconnected: 0, reconnecting: 0, error: 0 },
    channels: {
      count: 3,
      top: [{ channel: 'lobby', subscribers: 3 }, { channel: 'dev', subscribers: 2 }, { channel: 'quiet', subscribers: 1 }]
    },
    groups: 1,
    presence: 2,
    connectionsTotal: 3
  })
  t.ok(stats.messages.in >= 7, 'inbound messages counted')
  t.ok(stats.messages.out >= 3, 'outbound messages counted')
  // Times move between the two reads; the rest is the same snapshot.
  const again = await server.app.hauyna.stats()
  t.same(stats, JSON.parse(JSON.stringify({ ...again, uptime: stats.uptime, messages: stats.messages, cluster: stats.cluster })),
    'the route serves hauyna.stats()')
  t.match(stats.cluster, { connections: 3, nodes: [{ nodeId: stats.nodeId, connections: 3, users: 2 }] }, 'the memory adapter\'s cluster: this node alone')
  t.equal(stats.cluster.nodes.length, 1)

  await bob.close()
  await until(async () => (await server.app.hauyna.stats()).users === 1, 3000, 'bob gone')
  const after = await (await fetch(`${server.http}/ws/stats`)).json() as Record<string, any>
  t.match(after, { connections: 2, users: 1, groups: 0, channels: { top: [{ channel: 'lobby', subscribers: 2 }] } })
  for (const c of [alice1, alice2, bob]) t.same(c.violations, [])
})
