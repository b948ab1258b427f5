import t, { type Test } from 'tap'
import { createConnection, type Socket } from 'node:net'
import { Type } from '@sinclair/typebox'
import WebSocket from 'ws'
import { Client, connect, expectInvalidOptions, LogSink, startServer, until, within } from './helpers'
import { internalsOf } from '../lib/plugin'

/** The `net.Socket` under a `ws` client: pausing it makes a peer that never answers a close. */
function rawSocket (client: Client): Socket {
  return (client.ws as unknown as { _socket: Socket })._socket
}


t.test('a connection closed for flooding is read no further and dropped after closeTimeout', async (t) => {
  const sink = new LogSink('info')
  const rateLimit = { burst: 5, perSecond: 1, maxViolations: 3 }
  const server = await startServer(t, { rateLimit, closeTimeout: 300 }, undefined, sink.logger)
  const flooder = await connect(server.url({ userId: 'flooder' }))
  const bystander = await connect(server.url({ userId: 'bystander' }))
  // The flooder never reads again, so it never answers the server's close frame.
  rawSocket(flooder).pause()
  const frame = JSON.stringify({ type: 'publish', channel: 'spam', data: 'x'.repeat(100) })
  for (let i = 0; i < 3000; i++) flooder.ws.send(frame)

  const started = Date.now()
  await until(async () => (await server.app.connections.count()) === 1, 5000, 'the flooder to be dropped')
  const dropped = Date.now() - started
  t.ok(dropped < 3000, `dropped ${dropped} ms after the flood began, within closeTimeout (not ws's 30 s)`)

  const stats = await server.app.hauyna.stats()
  // 5 pass the burst, 3 refusals are tolerated, the 4th closes: nothing after it is read.
  t.equal(stats.rateLimited, 4, 'no frame was refused after the close')
  t.equal(stats.messages.in, 5, 'no frame was handled after the close')
  t.equal(sink.matching('closing connection over its rate limit', 40).length, 1, 'one warning, not one per frame')
  t.equal((await bystander.request({ type: 'heartbeat' })).type, 'ack', 'others are served')
  t.same(bystander.violations, [])
  flooder.ws.terminate()
})

t.test('frames that arrive after the app closed a connection are dropped unread', async (t) => {
  const handled: number[] = []
  const server = await startServer(t, { rateLimit: false }, (app) => {
    app.events.on('work', { schema: Type.Object({ n: Type.Integer() }) }, async (conn, msg) => {
      handled.push(msg.n)
      if (msg.n === 0) conn.close(4001, 'done')
    })
  })
  const client = await connect(server.url({ userId: 'alice' }))
  for (let n = 0; n < 50; n++) client.send({ type: 'work', n })
  t.equal((await client.closed).code, 4001)
  t.same(handled, [0], 'nothing queued behind the closing frame ran')
  t.equal(internalsOf(server.app).inboxBytes, 0, 'the dropped frames gave their bytes back')
})

t.test('inbox byte limits', async (t) => {
  function gatedServer (t: Test, options: object) {
    let release: () => void = () => {}
    const gate = new Promise<void>((resolve) => { release = resolve })
    const handled: string[] = []
    const started = startServer(t, { rateLimit: false, maxPayload: 16 * 1024, ...options }, (app) => {
      app.events.on('slow', { schema: Type.Object({ n: Type.String(), pad: Type.String() }) }, async (_conn, msg) => {
        handled.push(msg.n)
        await gate
      })
    })
    return { started, handled, release }
  }
  const frame = (n: string) => ({ type: 'slow', n, pad: 'p'.repeat(10_000), ref: n })

  t.test('maxQueuedBytes caps one connection\'s parked frames', async (t) => {
    const { started, handled, release } = gatedServer(t, { maxQueuedBytes: 32 * 1024 })
    const server = await started
    const client = await connect(server.url({ userId: 'alice' }))
    // a0 holds the connection busy; a1-a3 (about 30 KB) wait; a4 and a5 would pass 32 KiB.
    for (let i = 0; i < 6; i++) client.send(frame(`a${i}`))
    await until(() => client.all('error').length === 2, 3000, 'two refusals')
    t.same(client.all('error').map((f) => [f.code, f.ref]), [['rate_limited', 'a4'], ['rate_limited', 'a5']])
    t.ok(internalsOf(server.app).inboxBytes > 30_000, 'the waiting bytes are counted')
    release()
    await until(() => client.all('ack').length === 4, 3000, 'four acks')
    t.same(handled, ['a0', 'a1', 'a2', 'a3'])
    t.equal(internalsOf(server.app).inboxBytes, 0, 'every byte given back')
    t.same(client.violations, [])
  })

  t.test('maxQueuedBytesTotal caps every connection\'s parked frames together', async (t) => {
    const { started, release } = gatedServer(t, { maxQueuedBytes: 32 * 1024, maxQueuedBytesTotal: 35 * 1024 })
    const server = await started
    const alice = await connect(server.url({ userId: 'alice' }))
    const bob = await connect(server.url({ userId: 'bob' }))
    for (let i = 0; i < 3; i++) alice.send(frame(`a${i}`))
    await until(() => internalsOf(server.app).inboxBytes > 20_000, 3000, 'alice\'s frames parked')
    // Within bob's own limit, but the node's budget (35 KiB, 20 KB taken) has room for one more frame.
    for (let i = 0; i < 4; i++) bob.send(frame(`b${i}`))
    await until(() => bob.all('error').length === 2, 3000, 'bob refused over the node budget')
    t.same(bob.all('error').map((f) => [f.code, f.ref]), [['rate_limited', 'b2'], ['rate_limited', 'b3']])
    t.ok(internalsOf(server.app).inboxBytes <= 35 * 1024, 'the budget was never exceeded')
    release()
    await until(() => alice.all('ack').length === 3 && bob.all('ack').length === 2, 3000, 'the parked frames to run')
    t.equal(internalsOf(server.app).inboxBytes, 0)
  })

  t.test('the options are validated', async (t) => {
    await expectInvalidOptions(t, [
      ['maxQueuedBytes under maxPayload', { maxPayload: 4096, maxQueuedBytes: 1024 }, 'maxQueuedBytes'],
      ['maxQueuedBytesTotal under maxQueuedBytes', { maxQueuedBytes: 70_000, maxQueuedBytesTotal: 65_536 }, 'maxQueuedBytesTotal'],
      ['a fractional maxQueuedBytesTotal', { maxQueuedBytesTotal: 1e6 + 0.5 }, 'maxQueuedBytesTotal'],
      ['a negative handshakeTimeout', { handshakeTimeout: -1 }, 'handshakeTimeout'],
      ['a handshakeTimeout string', { handshakeTimeout: '10s' }, 'handshakeTimeout']
    ])
  })
})

t.test('repeated protocol errors of one connection are logged a few times, then counted', async (t) => {
  const sink = new LogSink('debug')
  const server = await startServer(t, { rateLimit: false }, undefined, sink.logger)
  const client = await connect(server.url({ userId: 'alice' }))
  for (let i = 0; i < 200; i++) client.send('not json')
  await until(() => client.all('error').length === 200, 3000, '200 answers')
  const logged = sink.matching('protocol error')
  t.ok(logged.length <= 10, `at most 10 lines for 200 errors (got ${logged.length})`)
  await client.close()
  await until(() => sink.matching('websocket connection closed').length === 1, 3000, 'the close line')
  t.equal(sink.matching('websocket connection closed')[0].suppressed, 200 - logged.length, 'the close line counts the rest')
})

t.test('a frame nested thousands of levels deep is invalid_message, not internal_error', async (t) => {
  const sink = new LogSink('info')
  const server = await startServer(t, {}, undefined, sink.logger)
  const client = await connect(server.url({ userId: 'alice' }))
  await client.request({ type: 'subscribe', channel: 'deep' })
  const deep = '['.repeat(30_000) + ']'.repeat(30_000)
  client.send(`{"type":"publish","channel":"deep","ref":"d1","data":${deep}}`)
  const reply = await client.next((f) => f.ref === 'd1')
  t.match(reply, { type: 'error', code: 'invalid_message' })
  // Depth within the limit, and brackets inside strings, are fine.
  const fine = await client.request({ type: 'publish', channel: 'deep', data: { text: '['.repeat(500), nested: [[[[1]]]] } })
  t.equal(fine.type, 'ack')
  t.same(sink.lines.filter((l) => l.level >= 50), [], 'nothing logged as an error')
  t.same(client.violations, [])
})

t.test('invalid UTF-8 closes 1007 and is not logged as a server error', async (t) => {
  const sink = new LogSink('info')
  const errors: Error[] = []
  const changes: string[] = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('error', (error) => { errors.push(error) })
    app.events.on('state_change', (_conn, from, to) => { changes.push(`${from}->${to}`) })
  }, sink.logger)
  const client = await connect(server.url({ userId: 'alice' }))
  client.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false })
  t.equal((await client.closed).code, 1007)
  await until(async () => (await server.app.connections.count()) === 0, 3000, 'cleanup')
  t.same(sink.lines.filter((l) => l.level >= 50), [], 'no error-level line')
  t.equal(sink.matching('peer sent an invalid frame', 30).length, 1, 'one info line')
  t.same(errors, [], 'the app\'s error handlers are not called for a peer\'s fault')
  t.same(changes, ['connected->error'], 'the connection went to error, once')
  t.equal(internalsOf(server.app).connectionsById, 0)
})

t.test('a compressed frame that does not inflate is the peer\'s fault too', async (t) => {
  const sink = new LogSink('info')
  const errors: Error[] = []
  const server = await startServer(t, { websocket: { perMessageDeflate: true } },
    (app) => { app.events.on('error', (error) => { errors.push(error) }) }, sink.logger)
  const client = await connect(server.url({ userId: 'alice' }))
  t.match(client.ws.extensions, /permessage-deflate/, 'compression was negotiated')
  // A masked text frame with RSV1 (compressed) set, whose 4 bytes are no deflate data.
  rawSocket(client).write(Buffer.from([0xc1, 0x84, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]))
  t.equal((await client.closed).code, 1007)
  await until(async () => (await server.app.connections.count()) === 0, 3000, 'cleanup')
  t.same(sink.lines.filter((l) => l.level >= 50), [], 'no error-level line')
  t.match(sink.matching('peer sent an invalid frame', 30), [{ userId: 'alice', reason: /invalid block type/ }], 'one info line')
  t.same(errors, [], 'the app\'s error handlers are not called')
})

t.test('a socket error that is no protocol violation is reported as an error', async (t) => {
  // ws emits no other error on a server socket that a test could cause (only its compression
  // or Blob reads could fail), so these are emitted on the real socket.
  const sink = new LogSink('info')
  const reported: Array<[string, string | undefined]> = []
  const changes: string[] = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('error', (error, conn) => { reported.push([error.message, conn?.userId]) })
    app.events.on('state_change', (conn, from, to) => { changes.push(`${conn.userId}: ${from}->${to}`) })
  }, sink.logger)
  const cases: Array<[string, Error]> = [
    ['alice', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['bob', new Error('no code at all')]
  ]
  for (const [userId, error] of cases) {
    const client = await connect(server.url({ userId }))
    const conn = server.app.connections.byUser(userId)[0]
    t.equal(conn.socket.listenerCount('error'), 1, 'one error listener: @fastify/websocket\'s was replaced')
    conn.socket.emit('error', error)
    t.equal((await client.closed).code, 1006, 'the socket is dropped')
  }
  await until(() => reported.length === 2, 3000, 'both errors reported')
  t.same(reported, [['read ECONNRESET', 'alice'], ['no code at all', 'bob']], 'to the app\'s error handlers, with the connection')
  t.same(sink.matching('socket error', 50).map((l) => [l.err.message, l.userId]), reported, 'and logged as errors')
  t.same(sink.matching('peer sent an invalid frame'), [])
  t.same(changes, ['alice: connected->error', 'bob: connected->error'])
})

t.test('an invalid frame on a socket refused at upgrade: terminated at once, not logged as an error', async (t) => {
  // A refused socket (here: no user id, 1002) never becomes a connection, so its errors reach
  // @fastify/websocket's errorHandler, the plugin's terminateOnError.
  const sink = new LogSink('info')
  const server = await startServer(t, {}, undefined, sink.logger)
  const ws = new WebSocket(server.url())
  // Sent on open, before the refusal's close frame is read: a FIN frame with reserved opcode 0xF.
  ws.once('open', () => { (ws as unknown as { _socket: Socket })._socket.write(Buffer.from([0x8f, 0x80, 0, 0, 0, 0])) })
  const client = new Client(ws)
  const started = Date.now()
  // ws alone would wait 30 s for a close frame it no longer reads; the handler terminates.
  const { code } = await within(client.closed, 2000, 'the refused socket to be dropped')
  t.comment(`closed with ${code} after ${Date.now() - started} ms`)
  t.match(client.frames, [{ type: 'error', code: 'missing_user_id' }])
  t.same(sink.lines.filter((l) => l.level >= 50), [], 'no error-level line')
})

t.test('a connection that never finishes its upgrade request is dropped after handshakeTimeout', async (t) => {
  const server = await startServer(t, { handshakeTimeout: 300 })
  const port = Number(new URL(server.http).port)
  // One that gives up on its own first: the check forgets it, and drops the next one still.
  const quitter = createConnection({ port, host: '127.0.0.1' })
  await within(new Promise((resolve) => quitter.once('connect', resolve)), 2000, 'the first TCP connection')
  quitter.destroy()
  const halfOpen = createConnection({ port, host: '127.0.0.1' })
  const closed = new Promise<number>((resolve) => halfOpen.once('close', () => resolve(Date.now())))
  halfOpen.on('error', () => {})
  await within(new Promise((resolve) => halfOpen.once('connect', resolve)), 2000, 'the TCP connection')
  const started = Date.now()
  halfOpen.write('GET /ws?userId=slowloris HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n')
  const timer = setTimeout(() => halfOpen.destroy(), 5000)
  const elapsed = (await closed) - started
  clearTimeout(timer)
  t.ok(elapsed >= 250 && elapsed < 2000, `dropped after ${elapsed} ms`)

  // A completed upgrade is not cut by the timeout afterwards; nor is a plain request.
  const client = await connect(server.url({ userId: 'alice' }))
  await new Promise((resolve) => setTimeout(resolve, 600))
  t.equal((await client.request({ type: 'heartbeat' })).type, 'ack', 'the upgraded connection lives on')
  t.equal((await fetch(`${server.http}/health`)).status, 200)
})
