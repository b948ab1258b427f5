import { Type } from '@sinclair/typebox'
import t from 'tap'
import { type Connection, type PresenceChange, STOP } from '../lib/index'
import { connect, LogSink, startServer, until } from './helpers'

type Recorded = Array<[string, ...unknown[]]>

t.test('connect, subscribe, unsubscribe, state_change and disconnect fire with their arguments', async (t) => {
  const seen: Recorded = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('connect', (conn) => { seen.push(['connect', conn.userId, conn.id]) })
    app.events.on('subscribe', (conn, channel, meta) => { seen.push(['subscribe', conn.userId, channel, meta]) })
    app.events.on('unsubscribe', (conn, channel) => { seen.push(['unsubscribe', conn.userId, channel]) })
    app.events.on('state_change', (conn, from, to) => { seen.push(['state_change', conn.userId, from, to]) })
    app.events.on('disconnect', (conn, info) => { seen.push(['disconnect', conn.userId, info.code, info.reason]) })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  const id = a.frames[0].connectionId
  await until(() => seen.length === 1, 2000, 'connect')
  t.same(seen, [['connect', 'alice', id]], 'connect receives the connection')

  await a.request({ type: 'subscribe', channel: 'room', meta: { seat: 3 } })
  await a.request({ type: 'unsubscribe', channel: 'room' })
  t.same(seen.slice(1), [['subscribe', 'alice', 'room', { seat: 3 }], ['unsubscribe', 'alice', 'room']])

  await a.request({ type: 'subscribe', channel: 'left-open' })
  a.ws.close(4001, 'going home')
  await until(() => seen.some((e) => e[0] === 'disconnect'), 2000, 'disconnect')
  t.same(seen.slice(3), [
    ['subscribe', 'alice', 'left-open', {}],
    ['state_change', 'alice', 'connected', 'disconnected'],
    ['unsubscribe', 'alice', 'left-open'],
    ['disconnect', 'alice', 4001, 'going home']
  ], 'close: state change, then cleanup of subscriptions, then disconnect with code and reason')

  // A client `disconnect` message closes normally.
  const b = await connect(server.url({ userId: 'bob' }))
  t.equal((await b.request({ type: 'disconnect' })).type, 'ack')
  t.equal((await b.closed).code, 1000)
  await until(() => seen.some((e) => e[0] === 'disconnect' && e[1] === 'bob'), 2000, 'bob\'s disconnect')
  t.same(seen.find((e) => e[0] === 'disconnect' && e[1] === 'bob'), ['disconnect', 'bob', 1000, 'client disconnect'])
  t.same(a.violations, [])
  t.same(b.violations, [])
})

t.test('presence_change: join once per user, leave on the last close, update on `presence`', async (t) => {
  const changes: PresenceChange[] = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('presence_change', (change) => { changes.push(change) })
  })
  const events = () => changes.map((c) => [c.event, c.userId])
  const tab1 = await connect(server.url({ userId: 'alice' }))
  await until(() => changes.length === 1, 2000, 'join')
  t.match(changes[0], { event: 'join', userId: 'alice', connectionId: tab1.frames[0].connectionId, presence: { status: 'online' } })

  const tab2 = await connect(server.url({ userId: 'alice' }))
  await tab2.request({ type: 'heartbeat' })
  t.same(events(), [['join', 'alice']], 'no second join for a second tab')

  t.equal((await tab2.request({ type: 'presence', status: 'away', meta: { note: 'lunch' } })).type, 'ack')
  t.same(events(), [['join', 'alice'], ['update', 'alice']])
  t.match(changes[1], { connectionId: tab2.frames[0].connectionId, presence: { status: 'away', meta: { note: 'lunch' } } })

  await tab1.close()
  await tab2.request({ type: 'heartbeat' })
  await until(() => server.app.connections.byUser('alice').length === 1, 2000, 'tab1 released')
  t.same(events(), [['join', 'alice'], ['update', 'alice']], 'no leave while another tab is open')
  await tab2.close()
  await until(() => changes.length === 3, 2000, 'leave')
  t.match(changes[2], { event: 'leave', userId: 'alice', connectionId: tab2.frames[0].connectionId })
  t.same(tab1.violations, [])
  t.same(tab2.violations, [])
})

t.test('a throwing lifecycle handler reaches `error`; the connection stays open', async (t) => {
  const errors: Array<[string, unknown]> = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('connect', () => { throw new Error('connect handler broke') })
    app.events.on('subscribe', async () => { throw new Error('subscribe handler broke') })
    app.events.on('error', (error, conn) => { errors.push([error.message, conn]) })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  await until(() => errors.length === 1, 2000, 'the connect error')
  t.equal(errors[0][0], 'connect handler broke')
  t.equal((errors[0][1] as { userId?: string } | undefined)?.userId, 'alice', 'the error names the connection it was about')
  t.equal((await a.request({ type: 'subscribe', channel: 'room' })).type, 'ack', 'the subscription still succeeds')
  await until(() => errors.length === 2, 2000, 'the subscribe error')
  t.equal(errors[1][0], 'subscribe handler broke')
  t.equal((await a.request({ type: 'heartbeat' })).type, 'ack', 'the connection is still open')
  t.equal(server.app.connections.byUser('alice').length, 1)
  t.equal(await server.app.channels.broadcastTo('room', 'still here'), 1)
  t.same(a.violations, [])
})

t.test('a throwing message handler: the client gets internal_error, `error` gets the connection', async (t) => {
  const errors: Array<[string, string | undefined]> = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('explode', { schema: Type.Object({}) }, () => { throw new Error('handler broke') })
    app.events.on('error', (error, conn) => { errors.push([error.message, conn?.userId]) })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  t.match(await a.request({ type: 'explode' }), { type: 'error', code: 'internal_error', message: 'internal server error' },
    'the internal message is not leaked to the client')
  t.same(errors, [['handler broke', 'alice']])
  t.equal((await a.request({ type: 'heartbeat' })).type, 'ack', 'still open')
  t.same(a.violations, [])
})

t.test('a throwing `error` handler does not feed itself', async (t) => {
  let calls = 0
  const sink = new LogSink('error')
  const server = await startServer(t, {}, (app) => {
    app.events.on('connect', () => { throw new Error('first failure') })
    app.events.on('error', () => {
      calls++
      throw new Error('the error handler fails too')
    })
  }, sink.logger)
  const a = await connect(server.url({ userId: 'alice' }))
  // The end of the path: the handler's own failure is logged, where it would otherwise be re-emitted.
  await until(() => sink.matching('"error" handler failed').length > 0, 2000, 'the error handler\'s failure logged')
  t.equal(calls, 1, 'called once for the first failure, not again for its own')
  t.equal(sink.matching('"error" handler failed').length, 1)
  t.equal((await a.request({ type: 'heartbeat' })).type, 'ack')
  t.same(a.violations, [])
})

t.test('lifecycle event names cannot be declared as message types', async (t) => {
  const server = await startServer(t)
  for (const name of ['connect', 'disconnect', 'error', 'presence_change']) {
    t.throws(() => server.app.events.on(name, { schema: Type.Object({}) }, () => {}), { code: 'HAUYNA_RESERVED_TYPE' }, name)
  }
})

t.test('events.on(type, { schema }, handler): declaration errors', async (t) => {
  const server = await startServer(t)
  const { events } = server.app
  const schema = Type.Object({ text: Type.String() })
  const noop = () => {}
  t.throws(() => events.on('publish', { schema }, noop), { code: 'HAUYNA_RESERVED_TYPE' }, 'built-in types are reserved')
  t.throws(() => events.on('heartbeat', { schema }, noop), { code: 'HAUYNA_RESERVED_TYPE' })
  events.on('chat', { schema }, noop)
  t.throws(() => events.on('chat', { schema }, noop), { code: 'HAUYNA_DUPLICATE_TYPE' })
  // Schemas that are not object schemas, or do not compile: message-schemas.test.ts.
  t.throws(() => events.on('no-handler', { schema }, undefined as never),
    { code: 'HAUYNA_INVALID_SCHEMA', message: 'Message type "no-handler": a handler function is required' })
})

t.test('app message types: typed handler, additionalProperties: false still takes type and ref', async (t) => {
  const received: Array<{ text: string, type: string }> = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('chat', { schema: Type.Object({ text: Type.String({ maxLength: 20 }) }, { additionalProperties: false }) },
      async (conn, msg) => {
        received.push({ text: msg.text, type: msg.type })
        await app.channels.broadcastTo('room', { text: msg.text }, { from: conn.userId })
      })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  await a.request({ type: 'subscribe', channel: 'room' })
  t.equal((await a.request({ type: 'chat', text: 'hello' })).type, 'ack', '`type` and `ref` pass a closed schema')
  a.send({ type: 'chat', text: 'no ref' })
  await until(() => received.length === 2, 2000, 'the ref-less message')
  t.same(received, [{ text: 'hello', type: 'chat' }, { text: 'no ref', type: 'chat' }])
  t.match(a.all('message'), [{ channel: 'room', from: 'alice', data: { text: 'hello' } }, { data: { text: 'no ref' } }])

  const extra = await a.request({ type: 'chat', text: 'hi', extra: true })
  t.match(extra, { type: 'error', code: 'invalid_message' }, 'other unknown properties are still rejected')
  t.ok(Array.isArray(extra.details) && extra.details.length > 0, 'with details')
  t.match(await a.request({ type: 'chat', text: 'x'.repeat(21) }), { type: 'error', code: 'invalid_message' })
  t.match(await a.request({ type: 'chat' }), { type: 'error', code: 'invalid_message' })
  t.match(await a.request({ type: 'undeclared' }), { type: 'error', code: 'unknown_type' })
  t.equal(received.length, 2, 'invalid messages never reach the handler')
  t.same(a.violations, [])
})

t.test('emit runs custom handlers in order, waits for async ones; off removes', async (t) => {
  const server = await startServer(t)
  const { events } = server.app
  const order: string[] = []
  const first = (n: unknown) => { order.push(`first:${String(n)}`) }
  const second = async (n: unknown) => {
    // A macrotask: the next handler would run meanwhile if emit did not await this one.
    await new Promise((resolve) => setImmediate(resolve))
    order.push(`second:${String(n)}`)
  }
  const third = (n: unknown) => { order.push(`third:${String(n)}`) }
  events.on('audit', first)
  events.on('audit', second)
  events.on('audit', third)
  t.equal(events.listenerCount('audit'), 3)

  await events.emit('audit', 1)
  t.same(order, ['first:1', 'second:1', 'third:1'], 'in registration order, the async one awaited before the next')

  events.off('audit', second)
  await events.emit('audit', 2)
  t.same(order.slice(3), ['first:2', 'third:2'])
  events.off('audit', first)
  events.off('audit', third)
  t.equal(events.listenerCount('audit'), 0)
  await events.emit('audit', 3)
  t.equal(order.length, 5, 'nothing runs after every handler is off')
  await events.emit('never-registered')

  // A throwing custom handler does not stop the others nor reject emit.
  const errors: string[] = []
  events.on('error', (error) => { errors.push(error.message) })
  events.on('job', () => { throw new Error('job failed') })
  events.on('job', () => { order.push('after-failure') })
  await events.emit('job')
  t.equal(order.at(-1), 'after-failure')
  t.same(errors, ['job failed'])
})

t.test('off removes an app message type handler', async (t) => {
  const handler = () => {}
  const server = await startServer(t, {}, (app) => {
    app.events.on('ping_app', { schema: Type.Object({}) }, handler)
  })
  const a = await connect(server.url({ userId: 'alice' }))
  t.equal((await a.request({ type: 'ping_app' })).type, 'ack')
  server.app.events.off('ping_app', handler)
  t.match(await a.request({ type: 'ping_app' }), { type: 'error', code: 'unknown_type' })
  server.app.events.on('ping_app', { schema: Type.Object({}) }, handler)
  t.equal((await a.request({ type: 'ping_app' })).type, 'ack', 'the type can be declared again after off')
  t.same(a.violations, [])
})

t.test('off: a handler that is not registered removes nothing; a listener\'s off keeps its declared type', async (t) => {
  const listened: string[] = []
  const listener = (conn: Connection) => { listened.push(conn.userId) }
  const server = await startServer(t, {}, (app) => {
    app.events.on('chat', { schema: Type.Object({}) }, () => {})
    app.events.on('chat', listener)
  })
  const { events } = server.app
  const order: string[] = []
  events.on('audit', () => { order.push('a') })
  events.on('audit', () => { order.push('b') })
  t.equal(events.off('audit', () => {}), events, 'chainable')
  t.equal(events.off('never-registered', () => {}), events)
  t.equal(events.listenerCount('audit'), 2)
  await events.emit('audit')
  t.same(order, ['a', 'b'], 'both handlers still run')

  const a = await connect(server.url({ userId: 'alice' }))
  t.equal((await a.request({ type: 'chat' })).type, 'ack')
  events.off('chat', listener)
  t.equal((await a.request({ type: 'chat' })).type, 'ack', 'the declared type stays')
  t.same(listened, ['alice'], 'the listener ran only before its off')
  t.same(a.violations, [])
})

t.test('emit runs the handlers registered when it started, whatever they register or remove', async (t) => {
  const server = await startServer(t)
  const { events } = server.app
  const order: string[] = []
  const late = () => { order.push('late') }
  const once = () => { order.push('once'); events.off('tick', once) }
  let added = false
  events.on('tick', once)
  events.on('tick', () => {
    order.push('always')
    if (!added) events.on('tick', late)
    added = true
  })
  await events.emit('tick')
  t.same(order, ['once', 'always'], 'a handler that removes itself does not skip the next; one added waits')
  await events.emit('tick')
  t.same(order.slice(2), ['always', 'late'])
})

t.test('a declared type\'s listeners get (connection, message) after its handler, unless it returns STOP', async (t) => {
  const seen: unknown[] = []
  const schema = Type.Object({ stop: Type.Boolean() })
  const server = await startServer(t, {}, (app) => {
    app.events.on('vote', { schema }, (conn, message) => {
      seen.push(['vote', conn.userId, message.stop])
      return message.stop ? STOP : 'counted'
    })
    app.events.on('vote', (conn: Connection, message: { stop: boolean }) => { seen.push(['vote listener', conn.userId, message.stop]) })
    app.events.on('poll', { schema }, async (_conn, message) => {
      await new Promise((resolve) => setImmediate(resolve))
      seen.push(['poll', message.stop])
      return message.stop ? STOP : undefined
    })
    app.events.on('poll', (_conn: Connection, message: { stop: boolean }) => { seen.push(['poll listener', message.stop]) })
    app.events.on('solo', { schema }, () => { seen.push(['solo']) })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  for (const type of ['vote', 'poll', 'solo']) {
    for (const stop of [false, true]) t.equal((await a.request({ type, stop })).type, 'ack', `${type} stop=${String(stop)}`)
  }
  t.same(seen, [
    ['vote', 'alice', false], ['vote listener', 'alice', false], ['vote', 'alice', true],
    ['poll', false], ['poll listener', false], ['poll', true],
    ['solo'], ['solo']
  ])
  t.same(a.violations, [])
})

t.test('an endpoint\'s onConnect and onDisconnect run first, with or without app handlers', async (t) => {
  const calls: string[] = []
  const errors: string[] = []
  const server = await startServer(t, {}, (app) => {
    app.realtime('/solo', {
      onConnect: (conn) => { calls.push(`onConnect:${conn.userId}`) },
      onDisconnect: (conn, info) => { calls.push(`onDisconnect:${conn.userId}:${info.code}`) }
    })
    app.events.on('error', (error) => { errors.push(error.message) })
  })
  const alice = await connect(server.url({ userId: 'alice' }, '/solo'))
  alice.ws.close(4001)
  await until(() => calls.length === 2, 2000, 'alice\'s endpoint handlers')

  server.app.events.on('connect', (conn) => { calls.push(`connect:${conn.userId}`) })
  server.app.events.on('disconnect', (conn) => { calls.push(`disconnect:${conn.userId}`) })
  const bob = await connect(server.url({ userId: 'bob' }, '/solo'))
  bob.ws.close(4002)
  await until(() => calls.length === 6, 2000, 'bob\'s endpoint and app handlers')
  t.same(calls, [
    'onConnect:alice', 'onDisconnect:alice:4001',
    'onConnect:bob', 'connect:bob', 'onDisconnect:bob:4002', 'disconnect:bob'
  ])
  t.same(errors, [])
})

t.test('STOP is the registered symbol fastify-hauyna.stop: another copy of the package stops handlers too', async (t) => {
  t.equal(STOP, Symbol.for('fastify-hauyna.stop'))
  const server = await startServer(t)
  const order: string[] = []
  server.app.events.on('job', () => { order.push('first'); return Symbol.for('fastify-hauyna.stop') })
  server.app.events.on('job', () => { order.push('second') })
  await server.app.events.emit('job')
  t.same(order, ['first'])
})
