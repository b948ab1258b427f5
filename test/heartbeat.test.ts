import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { SWEEP_SLICE } from '../lib/core/heartbeat'
import { type Client, connect, delay, type Server, startServer, until } from './helpers'

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
