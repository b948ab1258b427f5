import t from 'tap'
import { connect, delay, startServer, until } from './helpers'

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
