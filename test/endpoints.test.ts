import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyRequest } from 'fastify'
import t from 'tap'
import hauyna, { type Connection, STOP } from '../lib/index'
import { connect, expectInvalidOptions, open, refusal, startServer, until } from './helpers'

const userFromHeader = (request: FastifyRequest) => {
  const id = request.headers['x-user']
  return typeof id === 'string' ? { id } : null
}

const userFromToken = (request: FastifyRequest) => {
  const token = (request.query as { token?: string }).token
  return token?.startsWith('n-') === true ? { id: token.slice(2) } : null
}

t.test('two endpoints on one app: each its own authenticate and message types, the same services', async (t) => {
  const server = await startServer(t, { authenticate: userFromHeader }, (app) => {
    app.events.on('mark_read', { schema: Type.Object({ id: Type.String() }) }, (conn, message) => {
      conn.send({ type: 'direct', from: null, data: { marked: message.id }, ts: new Date().toISOString() })
    })
    app.realtime('/notifications', { authenticate: userFromToken, messages: ['mark_read'] })
  })
  const port = new URL(server.http).port
  const notifications = (query: Record<string, string>) => server.url(query, '/notifications')

  t.equal((await refusal(server.url(), {})).status, 401, '/ws wants the x-user header')
  t.equal((await refusal(notifications({}), { 'x-user': 'alice' })).status, 401, '/notifications ignores it and wants a token')
  const chat = await connect(`ws://127.0.0.1:${port}/ws`, { headers: { 'x-user': 'alice' } })
  const bell = await connect(notifications({ token: 'n-alice' }))
  t.equal(bell.frames[0].userId, 'alice', 'the token identified the same user')

  t.match(await bell.request({ type: 'publish', channel: 'room', data: 1 }),
    { type: 'error', code: 'unknown_type', message: 'message type "publish" is not accepted on /notifications' })
  t.equal((await bell.request({ type: 'mark_read', id: 'n1' })).type, 'ack')
  t.match(bell.all('direct'), [{ data: { marked: 'n1' } }], 'the handler answered before the ack')
  t.equal((await bell.request({ type: 'heartbeat' })).type, 'ack', 'heartbeat is always accepted')
  t.equal((await chat.request({ type: 'mark_read', id: 'n2' })).type, 'ack', '/ws accepts every type')

  t.equal(await server.app.connections.sendTo('alice', 'to both'), 2, 'direct messages reach both endpoints')
  t.match(await bell.next((f) => f.type === 'direct' && f.data === 'to both'), { from: null })
  const stats = await server.app.hauyna.stats()
  t.same(stats.endpoints, [{ path: '/ws', connections: 1 }, { path: '/notifications', connections: 1 }])
  t.equal(server.app.connections.get(bell.frames[0].connectionId as string)?.endpoint, '/notifications')
  t.same([chat.violations, bell.violations], [[], []])
})

t.test('/chat/:room: params validated before the upgrade, then the room subscribed', async (t) => {
  const connected: string[] = []
  const server = await startServer(t, { path: false, allowAnonymous: true }, (app) => {
    app.realtime('/chat/:room', {
      schema: {
        params: Type.Object({ room: Type.String({ pattern: '^[a-z]{1,16}$' }) }),
        querystring: Type.Object({ lang: Type.Optional(Type.Union([Type.Literal('en'), Type.Literal('es')])) })
      },
      subscribe: (conn) => `room:${conn.params.room}`,
      onConnect: (conn) => { connected.push(conn.params.room) }
    })
  })
  const room = (name: string, query: Record<string, string> = {}) => server.url(query, `/chat/${name}`)

  const badParams = await refusal(room('NOT-OK'))
  t.equal(badParams.status, 400, 'invalid params: 400')
  t.match(badParams.body, { code: 'FST_ERR_VALIDATION', message: /params\/room/ })
  t.equal((await refusal(room('lobby', { lang: 'xx' }))).status, 400, 'invalid querystring: 400')
  t.equal((await refusal(server.url({}, '/ws'))).status, 404, 'path: false leaves no default endpoint')
  t.equal(await server.app.connections.count(), 0, 'no socket was made for a refused request')

  const a = await connect(room('lobby', { lang: 'es' }))
  t.match(await a.next('subscribed'), { channel: 'room:lobby' })
  const b = await connect(room('kitchen'))
  t.match(await b.next('subscribed'), { channel: 'room:kitchen' })
  t.same(connected, ['lobby', 'kitchen'], 'onConnect ran after the subscription')
  t.equal(await server.app.channels.broadcastTo('room:lobby', 'hola'), 1, 'only the lobby hears the lobby')
  t.match(await a.next('message'), { channel: 'room:lobby', data: 'hola' })
  const conn = server.app.connections.get(a.frames[0].connectionId as string)
  t.same([conn?.endpoint, conn?.params, conn?.query], ['/chat/:room', { room: 'lobby' }, { lang: 'es' }])
  t.same([a.violations, b.violations], [[], []])
})

t.test('auto-subscribe obeys channel policies: a denied room is an error frame, the connection stays', async (t) => {
  const server = await startServer(t, {
    path: false, allowAnonymous: true, channels: { policies: { 'staff:*': { subscribe: false } } }
  }, (app) => {
    app.realtime('/join/:name', { subscribe: (conn) => [`public:${conn.params.name}`, `staff:${conn.params.name}`] })
  })
  const client = await connect(server.url({}, '/join/x'))
  t.match(await client.next('subscribed'), { channel: 'public:x' })
  t.match(await client.next('error'), { code: 'forbidden', message: 'not allowed to subscribe to channel "staff:x"' })
  t.same(await server.app.channels.subscribedChannels(client.frames[0].connectionId as string), ['public:x'])
  t.equal((await client.request({ type: 'heartbeat' })).type, 'ack')
})

t.test('auto-subscribe to a channel whose policy throws: internal_error without the details, reported, the connection stays', async (t) => {
  const reported: string[] = []
  const server = await startServer(t, {
    path: false, allowAnonymous: true,
    channels: { policies: { 'broken:*': { subscribe: () => { throw new Error('database password in this message') } } } }
  }, (app) => {
    app.realtime('/join', { subscribe: ['broken:a', 'open'] })
    app.events.on('error', (error: Error) => { reported.push(error.message) })
  })
  const client = await connect(server.url({}, '/join'))
  t.match(await client.next('error'), { code: 'internal_error', message: 'internal server error' })
  t.match(await client.next('subscribed'), { channel: 'open' }, 'the next channel is still subscribed')
  t.equal((await client.request({ type: 'heartbeat' })).type, 'ack')
  t.same(reported, ['database password in this message'], 'reported to the error sink')
  t.notOk(client.frames.some((f) => String(f.message).includes('password')), 'no detail reached the client')
})

t.test('Fastify hooks: route options and the encapsulating context both guard the upgrade', async (t) => {
  const server = await startServer(t, { allowAnonymous: true }, async (app) => {
    app.realtime('/beta', {
      onRequest: async (request, reply) => {
        if (request.headers['x-beta'] !== 'yes') await reply.code(403).send({ message: 'beta only' })
      }
    })
    await app.register(async (admin) => {
      admin.addHook('preHandler', async (request, reply) => {
        if (request.headers['x-admin'] !== 'yes') await reply.code(403).send({ message: 'admins only' })
      })
      admin.realtime('/admin')
    })
  })
  t.match(await refusal(server.url({}, '/beta')), { status: 403, body: { message: 'beta only' } })
  t.match(await refusal(server.url({}, '/admin')), { status: 403, body: { message: 'admins only' } })
  t.ok(await connect(server.url({}, '/beta'), { headers: { 'x-beta': 'yes' } }))
  t.ok(await connect(server.url({}, '/admin'), { headers: { 'x-admin': 'yes' } }))
  t.ok(await connect(server.url()), 'the default endpoint is outside the admin context')
})

t.test('onConnect and onDisconnect run before the app handlers and may STOP them', async (t) => {
  const calls: string[] = []
  const server = await startServer(t, { allowAnonymous: true }, (app) => {
    app.realtime('/quiet', {
      onConnect: () => { calls.push('quiet:onConnect'); return STOP },
      onDisconnect: (_conn, info) => { calls.push(`quiet:onDisconnect:${info.code}`); return STOP }
    })
    app.realtime('/loud', {
      onConnect: () => { calls.push('loud:onConnect') },
      onDisconnect: () => { calls.push('loud:onDisconnect') }
    })
    app.events.on('connect', (conn) => { calls.push(`connect:${conn.endpoint}`) })
    app.events.on('disconnect', (conn) => { calls.push(`disconnect:${conn.endpoint}`) })
  })
  const quiet = await connect(server.url({}, '/quiet'))
  await quiet.close()
  await until(() => calls.length === 2, 2000, 'the quiet endpoint handlers')
  const loud = await connect(server.url({}, '/loud'))
  await loud.close()
  await until(() => calls.length === 6, 2000, 'the loud endpoint handlers')
  t.same(calls, [
    'quiet:onConnect', 'quiet:onDisconnect:1005',
    'loud:onConnect', 'connect:/loud', 'loud:onDisconnect', 'disconnect:/loud'
  ])
})

t.test('STOP: a lifecycle handler stops the later ones; a declared type handler stops its listeners', async (t) => {
  const seen: string[] = []
  const server = await startServer(t, { allowAnonymous: true }, (app) => {
    app.events.on('subscribe', (_conn, channel) => { seen.push(`first:${channel}`); return channel === 'muted' ? STOP : undefined })
    app.events.on('subscribe', async (_conn, channel) => { seen.push(`second:${channel}`) })
    app.events.on('vote', { schema: Type.Object({ up: Type.Boolean() }) }, async (_conn, message) => {
      seen.push(`vote:${String(message.up)}`)
      return message.up ? undefined : STOP
    })
    app.events.on('vote', (_conn: Connection, message: { up: boolean }) => { seen.push(`listener:${String(message.up)}`) })
  })
  const client = await connect(server.url())
  await client.request({ type: 'subscribe', channel: 'muted' })
  await client.request({ type: 'subscribe', channel: 'loud' })
  t.equal((await client.request({ type: 'vote', up: true })).type, 'ack')
  t.equal((await client.request({ type: 'vote', up: false })).type, 'ack', 'a STOP is still a success for the sender')
  t.same(seen, ['first:muted', 'first:loud', 'second:loud', 'vote:true', 'listener:true', 'vote:false'])
})

t.test('the error sink: failing endpoint and listener handlers are logged, reported and answered internal_error', async (t) => {
  const reported: string[] = []
  const server = await startServer(t, { path: false, allowAnonymous: true }, (app) => {
    app.realtime('/fragile', {
      subscribe: () => { throw new Error('subscribe option broke') },
      onConnect: () => { throw new Error('onConnect broke') }
    })
    app.events.on('ping_me', { schema: Type.Object({}) }, () => {})
    app.events.on('ping_me', () => { throw new Error('listener broke') })
    app.events.on('error', (error, conn) => { reported.push(`${error.message}:${conn?.endpoint ?? ''}`) })
  })
  const client = await connect(server.url({}, '/fragile'))
  t.match(await client.next('error'), { code: 'internal_error', message: /subscribe option/ })
  t.match(await client.next('error'), { code: 'internal_error', message: 'internal server error in "connect" handler' })
  t.equal((await client.request({ type: 'ping_me' })).type, 'ack', 'the declared handler succeeded')
  t.match(client.all('error')[2], { code: 'internal_error', message: 'internal server error in "ping_me" handler' },
    'the listener\'s failure, told before the ack')
  t.same(reported, ['subscribe option broke:/fragile', 'onConnect broke:/fragile', 'listener broke:/fragile'])
  t.equal(await server.app.connections.count(), 1, 'the connection is kept')
  t.same(client.violations, [])
})

t.test('endpoint options are validated with errors that name them', async (t) => {
  const declare = (path: unknown, options: unknown) => async () => {
    const app = Fastify({ logger: false })
    t.teardown(() => app.close())
    await app.register(hauyna)
    app.realtime(path as string, options as never)
  }
  await t.rejects(declare('chat', {}), { code: 'HAUYNA_INVALID_OPTION', message: /"realtime\(path\)": must start with "\/"/ })
  await t.rejects(declare('/c', { onConect: () => {} }), { message: /"realtime\("\/c"\)\.onConect": is not an endpoint option/ })
  await t.rejects(declare('/c', { messages: 'publish' }), { message: /"realtime\("\/c"\)\.messages"/ })
  await t.rejects(declare('/c', { subscribe: 42 }), { message: /"realtime\("\/c"\)\.subscribe"/ })
  await t.rejects(declare('/c', { onConnect: 'yes' }), { message: /"realtime\("\/c"\)\.onConnect": must be a function/ })
  await t.rejects(declare('/c', { authenticate: true }), { message: /"realtime\("\/c"\)\.authenticate": must be a function/ })
  await t.rejects(declare('/c', { preHandler: [1] }), { message: /"realtime\("\/c"\)\.preHandler"/ })
  await t.rejects(declare('/c', { allowAnonymous: 'no' }), { message: /"realtime\("\/c"\)\.allowAnonymous"/ })

  const app = Fastify({ logger: false })
  t.teardown(() => app.close())
  await app.register(hauyna)
  app.realtime('/typo', { messages: ['subscribe', 'mark_raed'] })
  await t.rejects(async () => { await app.ready() }, {
    code: 'HAUYNA_INVALID_OPTION', message: /"realtime\("\/typo"\)\.messages".*"mark_raed" is neither a built-in nor a declared message type/
  })
  await expectInvalidOptions(t, [['path: true', { path: true }, 'path']])
})

t.test('authenticate: false opens one endpoint of an authenticated app to anonymous users', async (t) => {
  const server = await startServer(t, { authenticate: userFromHeader }, (app) => {
    app.realtime('/public', { authenticate: false, allowAnonymous: true })
  })
  const guest = await open(server.url({}, '/public'))
  t.match(await guest.next('connected'), { userId: /^anon-/ })
  t.equal((await refusal(server.url())).status, 401, 'the default endpoint still authenticates')
})
