import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import { expectAssignable, expectError, expectType } from 'tsd'
import hauyna, {
  type ChannelInfo,
  type Connection,
  type EndpointOptions,
  type ConnectionState,
  type HauynaOptions,
  type UserPresence,
  CloseCode,
  ErrorCode,
  memoryAdapter,
  schemas,
  STOP
} from '../..'

const app = Fastify()
app.register(hauyna, {
  path: '/ws',
  adapter: memoryAdapter(),
  authenticate: async (request) => ({ id: String(request.headers['x-user']), groups: ['staff', { name: 'ops', role: 'lead' }] }),
  heartbeat: { interval: 30_000, timeout: 60_000 },
  channels: { default: 'deny', policies: { 'private:*': { subscribe: ({ connection }) => connection.userId === 'admin' } } },
  permissions: { broadcast: false, group: 'members' }
})
expectError(app.register(hauyna, { heartbeat: { interval: 'fast' } }))
expectAssignable<HauynaOptions>({ rateLimit: false, stats: false })

// Operations: a guarded stats route, the Prometheus endpoint, the cleanup queue.
app.register(hauyna, {
  stats: { path: '/ops/stats', onRequest: async (request, reply) => { if (request.headers.authorization === undefined) await reply.code(401).send() } },
  metrics: { path: '/metrics' },
  cleanup: { batchSize: 100, queueSize: 5000, interval: 10, maxRetries: 1 }
})
expectAssignable<HauynaOptions>({ metrics: false, stats: { preHandler: [async () => {}] } })
// The AsyncAPI document: its path, info and guard, or none.
expectAssignable<HauynaOptions>({ asyncapi: { path: '/docs/ws.json', info: { title: 'Chat', version: '2.1.0' }, onRequest: async () => {} } })
expectAssignable<HauynaOptions>({ asyncapi: false })
expectError(app.register(hauyna, { asyncapi: { info: { version: 2 } } }))
expectError(app.register(hauyna, { cleanup: { batchSize: '50' } }))
expectType<Promise<number>>(app.hauyna.stats().then((stats) => stats.cleanup.queueSize))
// Identifying lists are optional (stats.detail); a demo without authenticate says so.
expectAssignable<HauynaOptions>({ stats: { detail: true }, allowUnverifiedIdentity: true })
expectError(app.register(hauyna, { stats: { detail: 'yes' } }))
expectType<Promise<Array<{ channel: string, subscribers: number }> | undefined>>(app.hauyna.stats().then((stats) => stats.channels.top))
// The live dashboard: off unless asked for, guarded by an onRequest hook.
expectAssignable<HauynaOptions>({ dashboard: true })
expectAssignable<HauynaOptions>({ dashboard: { path: '/ops/live', interval: 1000, onRequest: async (request, reply) => { if (request.headers.authorization === undefined) await reply.code(401).send() } } })
expectError(app.register(hauyna, { dashboard: { interval: '1s' } }))
expectError(app.register(hauyna, { dashboard: { preHandler: async () => {} } }))
// Rolling deploys: the drain option, and drain() on fastify.hauyna.
expectAssignable<HauynaOptions>({ drain: { timeout: 30_000 } })
expectError(app.register(hauyna, { drain: { timeout: '30s' } }))
expectType<Promise<void>>(app.hauyna.drain())
expectType<Promise<void>>(app.hauyna.drain({ timeout: 10_000 }))
expectError(app.hauyna.drain(10_000))

// Decorators arrive through declaration merging.
expectType<Promise<number>>(app.channels.broadcastTo('room', { text: 'hi' }))
expectType<Promise<number>>(app.connections.sendTo('alice', { hello: true }))
expectType<Promise<number>>(app.groups.sendTo('admins', 'x'))
expectType<Promise<UserPresence | null>>(app.presence.get('alice'))
expectType<Promise<boolean>>(app.channels.isSubscribed('connection-id', 'room'))
expectType<Connection[]>(app.connections.inState('idle'))
expectError(app.connections.inState('sleeping'))

// App message types: the handler's message is typed from its TypeBox schema.
app.events.on('chat_message', { schema: Type.Object({ room: Type.String(), text: Type.String() }) }, async (conn, msg) => {
  expectType<Connection>(conn)
  expectType<string>(msg.room)
  expectType<string>(msg.text)
  expectType<string>(msg.type)
  expectError(msg.missing)
  await app.channels.broadcastTo(msg.room, { text: msg.text }, { from: conn.userId })
})

// A plain JSON Schema (what a JavaScript app writes for its routes): any fields, plus the envelope.
app.events.on('vote', { schema: { type: 'object', properties: { choice: { type: 'integer' } }, required: ['choice'] } }, (conn, msg) => {
  expectType<Connection>(conn)
  expectType<unknown>(msg.choice)
  expectType<string>(msg.type)
  expectType<string | number | undefined>(msg.ref)
})
expectError(app.events.on('scalar', { schema: { type: 'string' } }, () => {}))
expectError(app.events.on('scalar', { schema: Type.String() }, () => {}))

// TypeBox 1.x (the `typebox` package, ESM only): the message is typed from its kinds.
async function typebox1 (): Promise<void> {
  const { Type: T1 } = await import('typebox')
  const schema = T1.Object({
    text: T1.String(),
    count: T1.Optional(T1.Integer()),
    mood: T1.Union([T1.Literal('happy'), T1.Literal('sad')]),
    tags: T1.Array(T1.String()),
    extra: T1.Record(T1.String(), T1.Boolean()),
    nested: T1.Object({ at: T1.Number(), note: T1.Null() }),
    level: T1.Enum(['low', 'high'])
  })
  app.events.on('typed_v1', { schema }, (_conn, msg) => {
    expectType<string>(msg.text)
    expectType<number | undefined>(msg.count)
    expectType<'happy' | 'sad'>(msg.mood)
    expectType<string[]>(msg.tags)
    expectType<Record<string, boolean>>(msg.extra)
    expectType<number>(msg.nested.at)
    expectType<null>(msg.nested.note)
    expectType<'low' | 'high'>(msg.level)
    expectType<string>(msg.type)
    expectError(msg.missing)
  })
}
void typebox1

// Lifecycle events are typed by name.
app.events.on('disconnect', (conn, info) => {
  expectType<string>(conn.userId)
  expectType<number>(info.code)
})
app.events.on('state_change', (_conn, from, to) => {
  expectType<ConnectionState>(from)
  expectType<ConnectionState>(to)
})
app.events.on('presence_change', (change) => {
  expectType<'join' | 'leave' | 'update'>(change.event)
})

// Connection context and meta, channel lifecycle, manual control.
app.events.on('connect', (conn) => {
  expectType<string>(conn.endpoint)
  expectType<string>(conn.ip)
  expectType<Readonly<Record<string, string>>>(conn.params)
  expectType<Readonly<Record<string, unknown>>>(conn.query)
  expectType<string | string[] | undefined>(conn.headers['x-client-version'])
  expectType<Connection>(conn.setMeta('role', 'admin'))
  expectError(conn.setMeta(1, 'x'))
})
app.events.on('channel_created', (info) => {
  expectType<ChannelInfo>(info)
  expectType<boolean>(info.explicit)
})
app.events.on('channel_removed', (info) => { expectType<number>(info.subscribers) })
expectType<Promise<ChannelInfo>>(app.channels.create('news', { meta: { owner: 'alice' } }))
expectType<Promise<ChannelInfo | null>>(app.channels.get('news'))
expectType<Promise<boolean>>(app.channels.remove('news'))
expectType<Promise<number>>(app.channels.kick('news', 'alice', 'spam'))
expectType<Promise<number>>(app.connections.closeUser('alice', 4001, 'banned'))
expectError(app.channels.create('news', { meta: 'x' }))

// Endpoints: several WebSocket routes sharing the services.
app.realtime('/chat/:room', {
  schema: { params: Type.Object({ room: Type.String() }) },
  authenticate: (request) => ({ id: String(request.query) }),
  onRequest: async (request) => { expectType<string>(request.url) },
  messages: ['publish', 'typing'],
  subscribe: (conn) => `room:${conn.params.room}`,
  onConnect: (conn) => { expectType<Connection>(conn); return STOP },
  onDisconnect: (_conn, info) => { expectType<number>(info.code) }
})
app.realtime('/public', { authenticate: false, subscribe: ['lobby', 'news'] })
expectAssignable<EndpointOptions>({ subscribe: async () => ['a'] })
expectError(app.realtime('/x', { messages: 'publish' }))
expectError(app.realtime('/x', { onConect: () => {} }))
app.events.on('subscribe', () => STOP)
expectType<typeof STOP>(STOP)

expectType<'invalid_json'>(ErrorCode.InvalidJson)
expectType<4000>(CloseCode.HeartbeatTimeout)
expectAssignable<object>(schemas.client.subscribe)
