import { once } from 'node:events'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import type { Connection } from '../lib/index'
import { SWEEP_SLICE } from '../lib/session/heartbeat'
import { type Client, connect, delay, type Server, startServer, until, within } from './helpers'

const heartbeat = { interval: 50, timeout: 200 }

t.test('the connected frame announces the heartbeat settings', async (t) => {
  const server = await startServer(t, { heartbeat })
  const client = await connect(server.url({ userId: 'alice' }))
  t.same(client.frames[0].heartbeat, heartbeat)
  t.same(client.violations, [])
})

t.test('the server sends protocol pings every interval', async (t) => {
  const server = await startServer(t, { heartbeat })
  const client = await connect(server.url({ userId: 'alice' }))
  let pings = 0
  client.ws.on('ping', () => { pings++ })
  await until(() => pings >= 3, 3000, 'three pings')
  t.ok(pings >= 3, `received ${pings} pings`)
  // A client that answers pings (ws does by default) stays connected well past the timeout.
  await delay(heartbeat.timeout * 2)
  t.equal(client.ws.readyState, client.ws.OPEN)
  t.equal(server.app.connections.byUser('alice')[0]?.state, 'connected')
})

t.test('a client that answers nothing is terminated with 4000', async (t) => {
  const server = await startServer(t, { heartbeat, closeTimeout: 200 })
  const changes: Array<{ userId: string, from: string, to: string }> = []
  server.app.events.on('state_change', (conn, from, to) => { changes.push({ userId: conn.userId, from, to }) })
  const disconnects: number[] = []
  server.app.events.on('disconnect', (_conn, info) => { disconnects.push(info.code) })

  // autoPong: false (ws >= 8.16) — the client neither pongs nor sends frames.
  const silent = await connect(server.url({ userId: 'silent' }), { autoPong: false })
  // A well-behaved client on the same server is not affected.
  const alive = await connect(server.url({ userId: 'alive' }))

  const closed = await silent.closed
  // The client still answers the close handshake, so it sees the 4000 close frame.
  t.equal(closed.code, 4000)
  t.equal(closed.reason, 'heartbeat timeout')
  await until(() => disconnects.length === 1, 3000, 'the disconnect event')
  t.same(changes.filter((c) => c.userId === 'silent'), [{ userId: 'silent', from: 'connected', to: 'error' }],
    'the server moved the connection to error')
  t.equal(server.app.connections.byUser('silent').length, 0)
  t.equal(alive.ws.readyState, alive.ws.OPEN)
  t.equal(server.app.connections.byUser('alive').length, 1)
  t.same(silent.violations, [])
  t.same(alive.violations, [])
})

t.test('heartbeat frames count as traffic and are answered with heartbeat_ack', async (t) => {
  const server = await startServer(t, { heartbeat })
  // A browser-like client: it never pongs, but sends `heartbeat` frames.
  const client = await connect(server.url({ userId: 'browser' }), { autoPong: false })
  const rounds = 12 // 12 × 50 ms = 3 × the timeout
  for (let i = 0; i < rounds; i++) {
    client.send({ type: 'heartbeat', ts: i })
    const ack = await client.next('heartbeat_ack')
    t.equal(ack.ts, i, `heartbeat_ack echoes ts ${i}`)
    t.ok(!Number.isNaN(Date.parse(ack.serverTs)), 'serverTs is a date')
    await delay(heartbeat.interval)
  }
  t.equal(client.ws.readyState, client.ws.OPEN, 'not terminated')
  t.equal(server.app.connections.byUser('browser')[0]?.state, 'connected')
  // A string ts is echoed too, and a heartbeat with a ref gets both the reply and the ack.
  const reply = await client.request({ type: 'heartbeat', ts: 'abc' })
  t.equal(reply.type, 'ack')
  t.equal(client.all('heartbeat_ack').at(-1)?.ts, 'abc')
  t.same(client.violations, [])
})

t.test('unsolicited pongs do not keep a client that never answers pings alive', async (t) => {
  const server = await startServer(t, { heartbeat, closeTimeout: 200 })
  const silent = await connect(server.url({ userId: 'forger' }), { autoPong: false })
  // Within the rate limit: empty pongs, and 16 bytes shaped like a stamp (this process's clock, no valid tag).
  const forged = Buffer.alloc(16)
  const pongs = setInterval(() => {
    forged.writeDoubleBE(performance.now())
    silent.ws.pong(forged)
    silent.ws.pong()
  }, 40)
  t.teardown(() => clearInterval(pongs))
  const result = await Promise.race([silent.closed, delay(3000).then(() => ({ code: 0, reason: 'still open after 3 s' }))])
  t.same(result, { code: 4000, reason: 'heartbeat timeout' })
  t.same(silent.violations, [])
})

/** The `net.Socket` under a `ws` socket: the client's, to stop reading; the server's, to hold writes (cork). */
function tcpOf (ws: Client['ws'] | Connection['socket']): Socket {
  return (ws as unknown as { _socket: Socket })._socket
}

/** The payloads of the pongs `client` receives from now on. */
function recordPongs (client: Client): string[] {
  const pongs: string[] = []
  client.ws.on('pong', (data: Buffer) => { pongs.push(data.toString()) })
  return pongs
}

t.test('pings are answered with a pong carrying their payload, with or without a rate limit', async (t) => {
  for (const rateLimit of [undefined, false] as const) {
    const server = await startServer(t, { rateLimit })
    const client = await connect(server.url({ userId: 'alice' }))
    const pongs = recordPongs(client)
    client.ws.ping('a')
    client.ws.ping('b')
    // The server writes each pong as it reads the ping, so they arrive before the settle's ack.
    await client.settle()
    t.same(pongs, ['a', 'b'], `rateLimit ${String(rateLimit)}: one pong per ping`)
    t.same(client.violations, [])
  }
})

t.test('pings over the rate limit are not answered', async (t) => {
  const server = await startServer(t, { rateLimit: { burst: 3, perSecond: 1, maxViolations: 10 } })
  const client = await connect(server.url({ userId: 'alice' }))
  const pongs = recordPongs(client)
  for (const payload of ['1', '2', '3', '4', '5']) client.ws.ping(payload)
  // Answered with an ack, or rate_limited if no token came back meanwhile: either is a barrier.
  await client.request({ type: 'heartbeat' })
  t.same(pongs, ['1', '2', '3'], 'the burst is answered, the rest dropped without a pong')
  const { rateLimited } = await server.app.hauyna.stats()
  t.ok(rateLimited >= 2, `the dropped pings were counted (${rateLimited})`)
  t.equal(client.ws.readyState, client.ws.OPEN, 'and did not close the connection')
})

t.test("with ws's autoPong turned back on, ws answers a ping and hauyna does not answer it again", async (t) => {
  const server = await startServer(t, { websocket: { autoPong: true } })
  const client = await connect(server.url({ userId: 'alice' }))
  const pongs = recordPongs(client)
  client.ws.ping('once')
  await client.settle()
  t.same(pongs, ['once'], 'exactly one pong')
})

/** A `direct` message whose frame is `bytes` long: a 4-byte header for 126-65535 bytes of payload. */
function directOf (bytes: number): object {
  const message = { type: 'direct', from: null, data: '', ts: new Date().toISOString() }
  return { ...message, data: 'x'.repeat(bytes - 4 - JSON.stringify(message).length) }
}

t.test('a ping is answered while the send buffer is within maxBufferedBytes, and not beyond', async (t) => {
  const max = 4096
  const server = await startServer(t, { maxBufferedBytes: max })
  const client = await connect(server.url({ userId: 'alice' }))
  const conn = server.app.connections.byUser('alice')[0]
  const pongs = recordPongs(client)
  /** Pings while the server holds `bytes` unsent (its TCP socket corked), then lets them go. */
  async function pingWith (bytes: number, payload: string): Promise<void> {
    tcpOf(conn.socket).cork()
    t.equal(conn.send(directOf(bytes)), true)
    t.equal(conn.socket.bufferedAmount, bytes, `${bytes} bytes wait in the send buffer`)
    const pinged = once(conn.socket, 'ping')
    client.ws.ping(payload)
    await within(pinged, 2000, 'the ping to reach the server')
    tcpOf(conn.socket).uncork()
    await until(() => conn.socket.bufferedAmount === 0, 2000, 'the send buffer to drain')
    await client.settle()
  }
  await pingWith(max, 'at the limit')
  t.same(pongs, ['at the limit'], 'exactly maxBufferedBytes waiting: answered')
  await pingWith(max + 1, 'over the limit')
  t.same(pongs, ['at the limit'], 'one byte more: no pong piles up')
  t.equal(client.all('direct').length, 2, 'both messages arrived')
  t.same(client.violations, [])
})

t.test('a pong that arrives after the server closed the connection is no sign of life', async (t) => {
  const server = await startServer(t, { heartbeat: { interval: 50, timeout: 5000 } })
  const client = await connect(server.url({ userId: 'alice' }), { autoPong: false })
  const conn = server.app.connections.byUser('alice')[0]
  const [stamp] = await within(once(client.ws, 'ping'), 2000, 'a heartbeat ping') as [Buffer]
  /** Answers the ping, waits for the server to read the pong, and tells whether lastSeen moved. */
  async function pongMoves (): Promise<boolean> {
    const before = conn.lastSeen
    await until(() => Date.now() > before, 1000, 'the clock to move')
    const read = once(conn.socket, 'pong')
    client.ws.pong(stamp)
    await within(read, 2000, 'the pong to reach the server')
    return conn.lastSeen > before
  }
  t.equal(await pongMoves(), true, 'while open, the pong answering a ping counts')
  // The client stops reading: it never sees the close frame and goes on sending.
  tcpOf(client.ws).pause()
  conn.close(4001, 'bye')
  t.equal(await pongMoves(), false, 'once closed, it does not')
  tcpOf(client.ws).resume()
  t.same(await client.closed, { code: 4001, reason: 'bye' })
})

const FLOOD_FRAMES = 20_000
const FLOOD_MS = 3000

/** Sends control frames until the server closes the socket, bounded in count and time; resolves with the count sent. */
async function flood (client: Client, send: () => void): Promise<number> {
  let closed = false
  void client.closed.then(() => { closed = true })
  const deadline = Date.now() + FLOOD_MS
  let sent = 0
  while (!closed && sent < FLOOD_FRAMES && Date.now() < deadline) {
    for (let i = 0; i < 200; i++) send()
    sent += 200
    await new Promise(setImmediate)
  }
  return sent
}

async function expectResponsive (t: Test, server: Server, bystander: Client): Promise<void> {
  const health = await fetch(`${server.http}/health`, { signal: AbortSignal.timeout(2000) })
  t.equal(health.status, 200, '/health answers')
  bystander.send({ type: 'heartbeat', ts: 1 })
  t.equal((await bystander.next('heartbeat_ack')).ts, 1, 'another connection is served')
}

for (const kind of ['pong', 'ping'] as const) {
  t.test(`a connection flooding ${kind}s is closed with 1008 by the rate limit`, async (t) => {
    const rateLimit = { burst: 100, perSecond: 50, maxViolations: 50 }
    const server = await startServer(t, { rateLimit })
    const bystander = await connect(server.url({ userId: 'bystander' }))
    const flooder = await connect(server.url({ userId: 'flooder' }))
    let pongs = 0
    flooder.ws.on('pong', () => { pongs++ })
    const started = Date.now()
    const sent = await flood(flooder, () => flooder.ws[kind]())
    const closed = await Promise.race([flooder.closed, delay(2000).then(() => ({ code: 0, reason: `still open after ${sent} ${kind}s` }))])
    t.same(closed, { code: 1008, reason: 'rate limit exceeded' })
    const admitted = rateLimit.burst + rateLimit.perSecond * Math.ceil((Date.now() - started) / 1000)
    t.ok(pongs <= admitted, `only admitted pings are answered (${pongs} pongs for ${sent} ${kind}s)`)
    await expectResponsive(t, server, bystander)
  })
}

t.test('a sweep runs in slices of at most SWEEP_SLICE connections with the event loop free in between', async (t) => {
  const count = SWEEP_SLICE * 3 + 17
  const server = await startServer(t, { heartbeat: { interval: 300, timeout: 10_000 } })
  const clients: Client[] = []
  for (let i = 0; i < count; i += 50) {
    clients.push(...await Promise.all(Array.from({ length: Math.min(50, count - i) }, (_, j) => connect(server.url({ userId: `u${i + j}` })))))
  }
  t.teardown(() => { for (const client of clients) client.ws.terminate() })
  // Each slice pings with its own stamp, whose first 8 bytes are performance.now() when it was made.
  const slices = new Map<string, { madeAt: number, firstSeenAt: number, sockets: number }>()
  const pinged = new Map<Client, number>()
  for (const client of clients) {
    client.ws.on('ping', (data: Buffer) => {
      const slice = slices.get(data.toString('hex')) ?? { madeAt: data.readDoubleBE(0), firstSeenAt: performance.now(), sockets: 0 }
      slice.sockets++
      slices.set(data.toString('hex'), slice)
      pinged.set(client, (pinged.get(client) ?? 0) + 1)
    })
  }
  // Two pings each: at least one whole round after listening started.
  await until(() => clients.every((client) => (pinged.get(client) ?? 0) >= 2), 10_000, 'two pings for every connection')
  const sizes = [...slices.values()].map((slice) => slice.sockets)
  t.ok(Math.max(...sizes) <= SWEEP_SLICE, `no slice pings more than ${SWEEP_SLICE} connections (largest ${Math.max(...sizes)})`)
  t.ok(slices.size >= Math.ceil(count / SWEEP_SLICE), `${slices.size} slices for ${count} connections`)
  // Clients live in this process: a ping read before the next slice's stamp was made means the loop turned in between.
  const ordered = [...slices.values()].sort((a, b) => a.madeAt - b.madeAt)
  const yielded = ordered.slice(1).filter((slice, i) => ordered[i].firstSeenAt < slice.madeAt).length
  t.ok(yielded > 0, `the event loop ran between slices (${yielded} of ${ordered.length - 1} times)`)
})
