import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { buildPresenceServer, type PresenceServerOptions } from '../example/presence-server/app'
import { CLOSE_WAIT_MS, until, within } from './helpers'

type Frame = Record<string, any>

/** A client that follows the presence-system document, nothing else. */
class SeedClient {
  readonly frames: Frame[] = []
  readonly ws: WebSocket
  private readonly closing: Promise<{ code: number, reason: string }>

  constructor (url: string, options: WebSocket.ClientOptions = {}) {
    this.ws = new WebSocket(url, options)
    this.ws.on('message', (data) => this.frames.push(JSON.parse(data.toString())))
    this.ws.on('error', () => {})
    this.closing = new Promise((resolve) => this.ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
  }

  get closed (): Promise<{ code: number, reason: string }> {
    return within(this.closing, CLOSE_WAIT_MS, 'the socket to close')
  }

  send (type: string, extra: Record<string, unknown> = {}): void {
    this.ws.send(JSON.stringify({ type, ...extra, timestamp: new Date().toISOString() }))
  }

  async frame (type: string): Promise<Frame> {
    await until(() => this.frames.some((f) => f.type === type), 3000, `a ${type} frame`)
    return this.frames.find((f) => f.type === type) as Frame
  }
}

async function start (t: Test, options: PresenceServerOptions = {}, setup?: (app: FastifyInstance) => void) {
  const app = await buildPresenceServer({ logger: false, ...options })
  setup?.(app)
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  return { app, ws: (query: string) => `ws://127.0.0.1:${port}${query}`, http: `http://127.0.0.1:${port}` }
}

const iso = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

t.test('CONNECT, PRESENCE_UPDATE, HEARTBEAT, DISCONNECT as the document describes', async (t) => {
  const server = await start(t)
  const alice = new SeedClient(server.ws('?userId=alice'))
  const connect = await alice.frame('CONNECT')
  t.equal(connect.userId, 'alice')
  t.match(connect.timestamp, iso)
  t.equal(alice.frames[0].type, 'CONNECT', 'CONNECT is the first frame')

  alice.send('PRESENCE_UPDATE', { payload: { status: 'away', metadata: { device: 'phone' } } })
  await until(async () => (await server.app.presence.get('alice'))?.status === 'away', 3000, 'the update')
  const listed = await (await fetch(`${server.http}/presence`)).json() as Frame[]
  t.same(listed, [{ userId: 'alice', status: 'away', metadata: { device: 'phone' }, connections: 1 }])

  alice.send('HEARTBEAT')
  const ack = await alice.frame('HEARTBEAT_ACK')
  t.match(ack.timestamp, iso)
  t.same(Object.keys(ack).sort(), ['timestamp', 'type'])

  alice.send('DISCONNECT')
  t.equal((await alice.closed).code, 1000)
  await until(async () => !(await server.app.presence.isPresent('alice')), 3000, 'alice gone')
  t.same(alice.frames.map((f) => f.type), ['CONNECT', 'HEARTBEAT_ACK'], 'no frame outside the document')
})

t.test('the other users hear of a connect, a status change and a disconnect as PRESENCE_UPDATE', async (t) => {
  const server = await start(t)
  const bob = new SeedClient(server.ws('?userId=bob'))
  await bob.frame('CONNECT')
  const alice = new SeedClient(server.ws('?userId=alice'))
  await alice.frame('CONNECT')
  const updates = async (n: number): Promise<Frame[]> => {
    await until(() => bob.frames.filter((f) => f.type === 'PRESENCE_UPDATE').length >= n, 3000, `${n} updates`)
    return bob.frames.filter((f) => f.type === 'PRESENCE_UPDATE')
  }

  const [connected] = await updates(1)
  t.match(connected, { userId: 'alice', payload: { status: 'online', metadata: {} } })
  t.match(connected.timestamp, iso)

  alice.send('PRESENCE_UPDATE', { payload: { status: 'busy', metadata: { device: 'phone' } } })
  t.match((await updates(2))[1], { userId: 'alice', payload: { status: 'busy', metadata: { device: 'phone' } } })

  // A protocol v1 frame the document does not know passes through the codec as it is.
  alice.ws.send(JSON.stringify({ type: 'direct', to: 'bob', data: { text: 'hi' } }))
  t.match(await bob.frame('direct'), { from: 'alice', data: { text: 'hi' } }, 'a user\'s direct message reaches bob as v1')

  alice.send('DISCONNECT')
  await alice.closed
  t.match((await updates(3))[2], { userId: 'alice', payload: { status: 'offline' } })
  t.same(Object.keys(connected).sort(), ['payload', 'timestamp', 'type', 'userId'])
  t.same(alice.frames.map((f) => f.type), ['CONNECT'], 'alice hears nothing of her own changes')
})

t.test('a missing userId is a protocol error: 1002', async (t) => {
  const server = await start(t)
  const anonymous = new SeedClient(server.ws(''))
  t.equal((await anonymous.closed).code, 1002)
  t.match(anonymous.frames, [{ type: 'ERROR', code: 'missing_user_id' }])
})

t.test('a server error closes with 1011', async (t) => {
  const server = await start(t, {}, (app) => {
    app.events.on('REPORT', { schema: Type.Object({}) }, () => { throw new Error('storage unavailable') })
  })
  const alice = new SeedClient(server.ws('?userId=alice'))
  await alice.frame('CONNECT')
  alice.send('REPORT')
  t.equal((await alice.closed).code, 1011)
})

t.test('a client that misses its heartbeats is terminated', async (t) => {
  const server = await start(t, { heartbeat: { interval: 50, timeout: 200 } })
  const silent = new SeedClient(server.ws('?userId=silent'), { autoPong: false })
  await silent.frame('CONNECT')
  const { code } = await silent.closed
  t.ok(code === 4000 || code === 1006, `terminated (close ${code})`)
  await until(async () => !(await server.app.presence.isPresent('silent')), 3000, 'silent gone')
})

t.test('GET /health', async (t) => {
  const server = await start(t)
  const response = await fetch(`${server.http}/health`)
  t.equal(response.status, 200)
  const body = await response.json() as Frame
  t.same(Object.keys(body).sort(), ['status', 'timestamp', 'uptime'])
  t.equal(body.status, 'OK')
  t.match(body.timestamp, iso)
  t.type(body.uptime, 'number')
})

t.test('GET /metrics is Prometheus text with the document\'s metrics', async (t) => {
  const server = await start(t)
  const alice = new SeedClient(server.ws('?userId=alice'))
  await alice.frame('CONNECT')
  const response = await fetch(`${server.http}/metrics`)
  t.equal(response.status, 200)
  t.match(response.headers.get('content-type'), /^text\/plain/)
  const text = await response.text()
  for (const name of ['ws_connections_total', 'ws_connections_current', 'ws_messages_total', 'ws_errors_total',
    'ws_clients_current', 'ws_message_size_bytes', 'ws_latency_seconds']) {
    t.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name)
  }
  t.match(text, /^ws_connections_current 1$/m)
  t.match(text, /^ws_clients_current 1$/m)
})
