import websocket from '@fastify/websocket'
import Fastify from 'fastify'
import t from 'tap'
import type { AddressInfo, Socket } from 'node:net'
import hauyna, { type Authenticate } from '../lib/index'
import { type Client, connect, open, startServer, until } from './helpers'
import { internalsOf } from '../lib/plugin'

function rawSocket (client: Client): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket
}

t.test('app.close() sends 1001 to every client and resolves', async (t) => {
  const server = await startServer(t)
  const clients = await Promise.all(['alice', 'alice', 'bob', 'carol'].map((userId) => connect(server.url({ userId }))))
  await clients[0].request({ type: 'subscribe', channel: 'room' })
  await clients[2].request({ type: 'subscribe', channel: 'room' })
  const disconnects: number[] = []
  server.app.events.on('disconnect', (_conn, info) => { disconnects.push(info.code) })

  const started = Date.now()
  await server.app.close()
  t.comment(`app.close() with ${clients.length} clients took ${Date.now() - started} ms`)

  const closes = await Promise.all(clients.map((c) => c.closed))
  t.same(closes.map((c) => c.code), [1001, 1001, 1001, 1001], 'every client saw 1001')
  t.same(disconnects.sort(), [1001, 1001, 1001, 1001], 'every connection was cleaned up before close resolved')
  for (const c of clients) t.same(c.violations, [])
})

t.test('a client that ignores the close handshake is terminated, so close still resolves', async (t) => {
  const server = await startServer(t, { closeTimeout: 200 })
  const polite = await connect(server.url({ userId: 'polite' }))
  const deaf = await connect(server.url({ userId: 'deaf' }))
  // The deaf client stops reading: it never sees the close frame and never answers it.
  rawSocket(deaf).pause()

  const started = Date.now()
  await server.app.close()
  t.comment(`app.close() with one unresponsive client took ${Date.now() - started} ms`)
  t.equal((await polite.closed).code, 1001)
  t.equal(await server.app.connections.count(), 0, 'the deaf connection was dropped')
  rawSocket(deaf).resume()
  const deafClose = await deaf.closed
  t.comment(`the deaf client saw ${deafClose.code} once it read again`)
  t.ok([1001, 1006].includes(deafClose.code))
})

t.test('after close: stats are empty and new connections are refused', async (t) => {
  const server = await startServer(t, {
    authenticate: (request) => ({ id: (request.query as { userId: string }).userId, groups: ['team'] })
  })
  const clients = await Promise.all(['a', 'b', 'c'].map((userId) => connect(server.url({ userId }))))
  for (const c of clients) await c.request({ type: 'subscribe', channel: 'room' })
  await server.app.close()
  for (const c of clients) t.equal((await c.closed).code, 1001)

  t.match(await server.app.hauyna.stats(), {
    connections: 0, users: 0, topics: 0, channels: { count: 0, top: [] }, groups: 0, presence: 0
  })
  t.same(await server.app.presence.list(), [])
  t.same(await server.app.groups.list(), [])

  // The listener is gone: a new WebSocket cannot connect.
  const refused = await open(server.url({ userId: 'late' })).then(() => 'connected', (err: Error & { code?: string }) => err.code ?? err.message)
  t.equal(refused, 'ECONNREFUSED')
})

/** An `authenticate` that holds every upgrade until `release()`; `authenticating()` once one waits. */
function gatedAuthenticate (): { authenticate: Authenticate, authenticating: () => boolean, release: () => void } {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  let waiting = false
  const authenticate: Authenticate = async (request) => {
    waiting = true
    await gate
    return { id: (request.query as { userId: string }).userId }
  }
  return { authenticate, authenticating: () => waiting, release }
}

t.test('an upgrade whose authentication finishes during shutdown is refused and never registered', async (t) => {
  const { authenticate, authenticating, release } = gatedAuthenticate()
  const server = await startServer(t, { closeTimeout: 200, authenticate })
  let connects = 0
  server.app.events.on('connect', () => { connects++ })
  const pending = open(server.url({ userId: 'late' }))
  await until(authenticating, 3000, 'authenticate running')
  const closing = server.app.close()
  // Reaches an internal flag: the upgrade must complete only after draining has begun.
  await until(() => internalsOf(server.app).draining, 3000, 'draining')
  release()
  // The WebSocket server is already closed by then, so ws answers the upgrade with HTTP 503;
  // had the socket been upgraded, the plugin would close it with 1001 (the session's drain).
  const outcome = await pending.then(
    async (client) => `close ${(await client.closed).code}`,
    (err: Error & { statusCode?: number }) => `HTTP ${err.statusCode}`)
  t.comment(`the late upgrade got ${outcome}`)
  t.ok(['HTTP 503', 'close 1001'].includes(outcome), 'refused')
  await closing
  t.equal(connects, 0, 'never registered')
  t.equal(await server.app.connections.count(), 0)
})

t.test('an upgrade that completes while draining is closed with 1001 and never registered', async (t) => {
  // The app registered @fastify/websocket itself, with a preClose that leaves its ws server
  // open (hauyna's drain closes the clients): so a late upgrade completes, during the drain.
  const { authenticate, authenticating, release } = gatedAuthenticate()
  const app = Fastify({ logger: false })
  await app.register(websocket, { preClose: async () => {} })
  await app.register(hauyna, { closeTimeout: 200, authenticate })
  let connects = 0
  app.events.on('connect', () => { connects++ })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as AddressInfo

  const pending = open(`ws://127.0.0.1:${port}/ws?userId=late`)
  await until(authenticating, 3000, 'authenticate running')
  const closing = app.close()
  await until(() => internalsOf(app).draining, 3000, 'draining')
  release()
  const client = await pending
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' })
  t.same(client.frames, [], 'no connected frame')
  await closing
  t.equal(connects, 0, 'never registered')
})
