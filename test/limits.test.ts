import t from 'tap'
import type { Socket } from 'node:net'
import { Type } from '@sinclair/typebox'
import type { Connection } from '../lib/index'
import { type Client, connect, delay, open, startServer, until } from './helpers'

/** The server-side connection of the (only) connection of `userId`. */
function serverConn (app: { connections: { byUser (id: string): Connection[] } }, userId: string): Connection {
  const [conn] = app.connections.byUser(userId)
  if (conn === undefined) throw new Error(`no connection for ${userId}`)
  return conn
}

/** The `net.Socket` under a `ws` client, to stop it from reading (TCP backpressure). */
function rawSocket (client: Client): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket
}

function publishOf (size: number): string {
  return JSON.stringify({ type: 'publish', channel: 'big', data: 'x'.repeat(size) })
}

t.test('maxPayload', async (t) => {
  t.test('a frame over the configured maxPayload closes with 1009', async (t) => {
    const server = await startServer(t, { maxPayload: 1024 })
    const client = await connect(server.url({ userId: 'alice' }))
    await client.request({ type: 'subscribe', channel: 'big' })
    // Under the limit: still works.
    t.equal((await client.request({ type: 'publish', channel: 'big', data: 'x'.repeat(500) })).type, 'ack')
    client.send(publishOf(2000))
    t.equal((await client.closed).code, 1009)
    await until(async () => (await server.app.connections.count()) === 0, 3000, 'server cleanup')
    t.same(client.violations, [])
  })

  t.test('the default is 64 KiB', async (t) => {
    const server = await startServer(t)
    const client = await connect(server.url({ userId: 'alice' }))
    await client.request({ type: 'subscribe', channel: 'big' })
    const ack = await client.request({ type: 'publish', channel: 'big', data: 'x'.repeat(60 * 1024) })
    t.equal(ack.type, 'ack', 'a 60 KiB publish is accepted')
    // The echo is written before the ack, so it is already here.
    t.equal(client.all('message')[0]?.data.length, 60 * 1024)
    client.send(publishOf(70 * 1024))
    t.equal((await client.closed).code, 1009, 'a 70 KiB frame is refused')
    t.same(client.violations, [])
  })
})

t.test('rate limit', async (t) => {
  const rateLimit = { burst: 5, perSecond: 1, maxViolations: 3 }

  t.test('messages beyond the burst get rate_limited and the connection stays open', async (t) => {
    const server = await startServer(t, { rateLimit })
    const client = await connect(server.url({ userId: 'alice' }))
    // 7 frames at once: 5 pass (the burst), 2 are refused; 2 violations stay under maxViolations.
    for (let i = 0; i < 7; i++) client.send({ type: 'heartbeat', ts: i })
    await until(() => client.all('heartbeat_ack').length + client.all('error').length === 7, 3000, '7 answers')
    t.same(client.all('heartbeat_ack').map((f) => f.ts), [0, 1, 2, 3, 4])
    t.same(client.all('error').map((f) => f.code), ['rate_limited', 'rate_limited'])
    t.equal(client.ws.readyState, client.ws.OPEN, 'still connected')
    t.equal((await server.app.hauyna.stats()).rateLimited, 2)
    t.same(client.violations, [])
  })

  t.test('a refused message that carries a ref is answered with that ref', async (t) => {
    const server = await startServer(t, { rateLimit })
    const client = await connect(server.url({ userId: 'alice' }))
    for (let i = 0; i < 5; i++) client.send({ type: 'heartbeat' })
    // PROTOCOL.md: a message with `ref` gets exactly one ack or error bearing that ref.
    const reply = await client.request({ type: 'heartbeat' })
    t.equal(reply.type, 'error')
    t.equal(reply.code, 'rate_limited')
    t.same(client.violations, [])
  })

  t.test('persistently exceeding the limit closes with 1008', async (t) => {
    const server = await startServer(t, { rateLimit })
    const client = await connect(server.url({ userId: 'alice' }))
    const other = await connect(server.url({ userId: 'bob' }))
    // 5 pass, 3 refusals are tolerated, the 4th refusal in the same second closes.
    for (let i = 0; i < 20; i++) client.send({ type: 'heartbeat', ts: i })
    t.equal((await client.closed).code, 1008)
    t.equal(client.all('heartbeat_ack').length, 5)
    t.equal(client.all('error').filter((f) => f.code === 'rate_limited').length, 3)
    // The limit is per connection: another connection is untouched.
    t.equal((await other.request({ type: 'heartbeat' })).type, 'ack')
    t.same(client.violations, [])
    t.same(other.violations, [])
  })

  t.test('the bucket refills at perSecond', async (t) => {
    const server = await startServer(t, { rateLimit: { burst: 2, perSecond: 10, maxViolations: 100 } })
    const client = await connect(server.url({ userId: 'alice' }))
    const answers = async (n: number) => {
      const replies = []
      for (let i = 0; i < n; i++) replies.push(client.request({ type: 'heartbeat' }))
      return (await Promise.all(replies)).map((f) => f.type === 'ack' ? 'ack' : f.code)
    }
    t.same(await answers(3), ['ack', 'ack', 'rate_limited'], 'the burst is spent')
    // 10 tokens a second: after 250 ms two are back (and a fraction), never more than the burst.
    await delay(250)
    t.same(await answers(3), ['ack', 'ack', 'rate_limited'], 'two tokens refilled')
    await delay(1200)
    t.same(await answers(3), ['ack', 'ack', 'rate_limited'], 'refilled up to the burst only')
    t.same(client.violations, [])
  })

  t.test('violations are forgiven after a pause of one second', async (t) => {
    const server = await startServer(t, { rateLimit: { burst: 1, perSecond: 1, maxViolations: 2 } })
    const client = await connect(server.url({ userId: 'alice' }))
    // One passes, two refusals: at maxViolations, not over it.
    for (let i = 0; i < 3; i++) client.send({ type: 'heartbeat', ts: i })
    await until(() => client.all('error').length === 2, 3000, 'two refusals')
    await delay(1100)
    // After the pause the count starts again: one passes, one refusal. Without forgiveness
    // this third violation would close the connection.
    for (let i = 3; i < 5; i++) client.send({ type: 'heartbeat', ts: i })
    await until(() => client.all('error').length === 3, 3000, 'a third refusal')
    t.same(client.all('heartbeat_ack').map((f) => f.ts), [0, 3])
    await delay(1100)
    t.equal((await client.request({ type: 'heartbeat' })).type, 'ack', 'still open and served')
    t.equal(client.ws.readyState, client.ws.OPEN)
    t.same(client.violations, [])
  })

  t.test('rateLimit: false disables it', async (t) => {
    const server = await startServer(t, { rateLimit: false })
    const client = await connect(server.url({ userId: 'alice' }))
    for (let i = 0; i < 300; i++) client.send({ type: 'heartbeat', ts: i })
    await until(() => client.all('heartbeat_ack').length === 300, 5000, '300 heartbeat_acks')
    t.equal(client.all('error').length, 0)
    t.equal(client.ws.readyState, client.ws.OPEN)
    t.same(client.violations, [])
  })
})

t.test('maxConnectionsPerUser', async (t) => {
  const server = await startServer(t, { maxConnectionsPerUser: 2 })
  const a1 = await connect(server.url({ userId: 'alice' }))
  const a2 = await connect(server.url({ userId: 'alice' }))
  // The third of alice's connections: an error frame, then 1008; it is never registered.
  const refused = await openRaw(server.url({ userId: 'alice' }))
  t.equal(refused.error.type, 'error')
  t.equal(refused.error.code, 'forbidden')
  t.equal(refused.close.code, 1008)
  t.equal(refused.frames, 1, 'no connected frame')
  t.same(refused.violations, [])
  t.equal(server.app.connections.byUser('alice').length, 2)

  // Other users are not affected.
  const b = await connect(server.url({ userId: 'bob' }))
  t.equal((await b.request({ type: 'heartbeat' })).type, 'ack')
  // Closing one of alice's connections frees a slot.
  await a1.close()
  await until(() => server.app.connections.byUser('alice').length === 1, 3000, 'alice at 1 connection')
  const a4 = await connect(server.url({ userId: 'alice' }))
  t.equal((await a4.request({ type: 'heartbeat' })).type, 'ack')
  for (const c of [a2, b, a4]) t.same(c.violations, [])
})

/** Opens a client expected to be refused: resolves with its first frame and its close. */
async function openRaw (url: string): Promise<{ error: Record<string, any>, frames: number, close: { code: number }, violations: string[] }> {
  const client = await open(url)
  const close = await client.closed
  return { error: client.frames[0], frames: client.frames.length, close, violations: client.violations }
}

/** Records the codes the server passes to `ws` when closing `conn` (ws's own method, wrapped). */
function recordCloseCodes (conn: Connection): number[] {
  const codes: number[] = []
  const socket = conn.socket
  const close = socket.close.bind(socket)
  socket.close = (code?: number, reason?: string | Buffer) => {
    if (code !== undefined) codes.push(code)
    close(code, reason)
  }
  return codes
}

t.test('slow consumer: a client that stops reading is closed and server memory stays bounded', async (t) => {
  const cap = 64 * 1024
  const size = 16 * 1024
  const server = await startServer(t, { maxBufferedBytes: cap, closeTimeout: 200, maxPayload: 64 * 1024 })
  const disconnects: Array<{ userId: string, code: number }> = []
  server.app.events.on('disconnect', (conn, info) => { disconnects.push({ userId: conn.userId, code: info.code }) })

  const slow = await connect(server.url({ userId: 'slow' }))
  const healthy = await connect(server.url({ userId: 'healthy' }))
  await slow.request({ type: 'subscribe', channel: 'feed' })
  await healthy.request({ type: 'subscribe', channel: 'feed' })
  // The slow client stops reading from TCP: the kernel buffers fill, then the server's.
  rawSocket(slow).pause()

  const conn = serverConn(server.app, 'slow')
  const sentCodes = recordCloseCodes(conn)
  const payload = 'y'.repeat(size)
  let maxBuffered = 0
  let sent = 0
  const deadline = Date.now() + 10_000
  while (sent < 2000 && Date.now() < deadline && server.app.connections.byUser('slow').length > 0 && conn.isOpen) {
    await server.app.channels.broadcastTo('feed', { n: sent, payload })
    sent++
    maxBuffered = Math.max(maxBuffered, conn.socket.bufferedAmount)
    // Let the event loop run so the healthy client (which reads) drains its socket.
    await new Promise((resolve) => setImmediate(resolve))
  }
  t.comment(`published ${sent} messages of ${size} bytes; slow consumer max buffered ${maxBuffered} bytes`)
  t.ok(sent < 2000, 'the slow consumer was cut off before the loop ended')

  await until(() => server.app.connections.byUser('slow').length === 0, 5000, 'slow consumer removed')
  // The close frame waits behind the unread data and the socket is then terminated, so the
  // peer (and the disconnect event) may only see 1006: the code is checked where it is sent.
  t.same(sentCodes, [1008], 'the server closed the slow consumer with 1008')
  const closed = disconnects.find((d) => d.userId === 'slow')
  t.ok(closed !== undefined && [1006, 1008].includes(closed.code), `disconnect event: 1008 or 1006 (got ${closed?.code})`)
  t.ok(maxBuffered <= cap + size + 64, `server-side buffer stayed near the cap (${maxBuffered} <= ${cap} + one message)`)
  t.equal((await server.app.hauyna.stats()).slowConsumers, 1)

  // The healthy subscriber is still connected and still receiving.
  t.equal(server.app.connections.byUser('healthy').length, 1)
  await server.app.channels.broadcastTo('feed', { last: true })
  const last = await healthy.next((f) => f.type === 'message' && f.data.last === true, 5000)
  t.equal(last.channel, 'feed')
  t.equal(healthy.all('message').length, sent + 1, 'the healthy client got every message')
  t.same(healthy.violations, [])
  rawSocket(slow).resume()
  slow.ws.terminate()
})

/** A `direct` message whose frame is `bytes` long: a 4-byte header for 126-65535 bytes of payload. */
function directOf (bytes: number): object {
  const message = { type: 'direct', from: null, data: '', ts: new Date().toISOString() }
  return { ...message, data: 'x'.repeat(bytes - 4 - JSON.stringify(message).length) }
}

t.test('slow consumer: exactly maxBufferedBytes waiting is still fine, the next send over it closes', async (t) => {
  const max = 4096
  const server = await startServer(t, { maxBufferedBytes: max, closeTimeout: 200 })
  const client = await connect(server.url({ userId: 'alice' }))
  const conn = serverConn(server.app, 'alice')
  const sentCodes = recordCloseCodes(conn)
  // The server's own TCP socket holds its writes: the send buffer is exactly what was sent.
  const tcp = (conn.socket as unknown as { _socket: Socket })._socket
  tcp.cork()
  t.equal(conn.send(directOf(max)), true, 'written into an empty buffer')
  t.equal(conn.socket.bufferedAmount, max, 'which now holds exactly maxBufferedBytes')
  t.equal(conn.send(directOf(1000)), true, 'not over the limit: still written')
  t.equal(conn.socket.bufferedAmount, max + 1000)
  t.equal(conn.send(directOf(1000)), false, 'over it: not written')
  t.same(sentCodes, [1008], 'and closed as a slow consumer')
  t.equal((await server.app.hauyna.stats()).slowConsumers, 1)
  tcp.uncork()
  t.same(await client.closed, { code: 1008, reason: 'slow consumer' })
  t.equal(client.all('direct').length, 2, 'the two written messages arrived, the refused one did not')
  t.same(client.violations, [])
})

t.test('subscription meta', async (t) => {
  const server = await startServer(t, { maxMetaBytes: 64 })
  const client = await connect(server.url({ userId: 'alice' }))

  t.test('over maxMetaBytes is too_large', async (t) => {
    const reply = await client.request({ type: 'subscribe', channel: 'room', meta: { note: 'z'.repeat(100) } })
    t.equal(reply.type, 'error')
    t.equal(reply.code, 'too_large')
    t.notOk(await server.app.channels.isSubscribed(serverConn(server.app, 'alice'), 'room'))
    // Within the limit it works.
    t.equal((await client.request({ type: 'subscribe', channel: 'room', meta: { note: 'ok' } })).type, 'ack')
  })

  t.test('prototype keys are refused as invalid_message', async (t) => {
    // Raw JSON text: JSON.parse makes "__proto__" an own key, which an object literal would not.
    for (const [i, key] of ['__proto__', 'constructor', 'prototype'].entries()) {
      const ref = `proto-${i}`
      client.send(`{"type":"subscribe","channel":"p${i}","ref":"${ref}","meta":{"a":{"${key}":{"polluted":true}}}}`)
      const reply = await client.next((f) => f.ref === ref)
      t.equal(reply.type, 'error', key)
      t.equal(reply.code, 'invalid_message', key)
    }
    t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
    t.same(await server.app.channels.subscribedChannels(serverConn(server.app, 'alice')), ['room'])
    await delay(0)
    t.same(client.violations, [])
  })
})

t.test('maxQueuedMessages: frames arriving while a handler runs queue up to the cap', async (t) => {
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const handled: number[] = []
  const server = await startServer(t, { maxQueuedMessages: 3, rateLimit: false }, (app) => {
    app.events.on('slow', { schema: Type.Object({ n: Type.Integer() }) }, async (_conn, msg) => {
      handled.push(msg.n)
      if (msg.n === 0) await gate
    })
  })
  const client = await connect(server.url({ userId: 'alice' }))
  // 0 holds the connection busy; 1-3 fill the inbox; 4 and 5 overflow.
  for (let n = 0; n < 6; n++) client.send({ type: 'slow', n, ref: `q${n}` })
  await until(() => client.all('error').length === 2, 3000, 'two overflow errors')
  t.same(client.all('error').map((f) => [f.code, f.ref]), [['rate_limited', 'q4'], ['rate_limited', 'q5']])
  t.same(handled, [0], 'nothing else ran while the handler was busy')
  release()
  await until(() => client.all('ack').length === 4, 3000, 'four acks')
  t.same(handled, [0, 1, 2, 3], 'queued frames ran in order')
  t.same(client.all('ack').map((f) => f.ref), ['q0', 'q1', 'q2', 'q3'])
  t.same(client.violations, [])
})
