import { Type } from '@sinclair/typebox'
import t from 'tap'
import WebSocket from 'ws'
import { type ChannelMessage, HauynaClient, type HauynaError } from '../lib/client/index'
import { createClient, nextEvent, record, untilState } from './client-helpers'
import { connect, startServer, until } from './helpers'

const Typing = Type.Object({ room: Type.String({ minLength: 1 }) })

t.test('start(): connecting → open, the connected frame, and status', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  const states = record(client, 'state')
  const connected = record(client, 'connected')
  t.equal(client.state, 'closed', 'nothing happens before start()')
  t.same(client.status().started, false)

  await client.start()
  t.equal(client.state, 'open')
  t.same(states, [['connecting', 'closed'], ['open', 'connecting']])
  t.equal(connected.length, 1)
  t.equal(connected[0][0].userId, 'alice')
  t.equal(client.userId, 'alice')
  t.equal(client.connectionId, server.app.connections.byUser('alice')[0]?.id, 'the id the server gave this connection')
  t.same(client.status(), {
    state: 'open',
    connected: true,
    started: true,
    stopping: false,
    retryCount: 0,
    maxRetriesReached: false,
    queueSize: 0,
    pendingRequests: 0,
    subscriptions: [],
    connectionId: client.connectionId,
    userId: 'alice'
  })
  await client.start()
  t.equal(server.app.connections.byUser('alice').length, 1, 'start() while started opens no second socket')
})

t.test('subscribe: handler gets the channel messages; subscribed settles with the reply', async (t) => {
  const server = await startServer(t)
  const alice = createClient(t, server.url({ userId: 'alice' }))
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room' })
  const got: ChannelMessage<{ text: string }>[] = []
  const all = record(alice, 'message')
  const unsubscribe = alice.subscribe<{ text: string }>('room', (m) => got.push(m), { meta: { nick: 'Al' } })
  t.same(alice.status().subscriptions, ['room'], 'registered before the connection exists')

  await alice.start()
  const reply = await unsubscribe.subscribed
  t.equal(reply.type, 'subscribed')
  t.equal(reply.channel, 'room')
  const subscribers = await server.app.channels.subscribers('room')
  t.same(subscribers.find((s) => s.userId === 'alice')?.meta, { nick: 'Al' }, 'meta reached the server')

  bob.send({ type: 'publish', channel: 'room', data: { text: 'hi alice' } })
  await until(() => got.length === 1, 2000, 'the message')
  t.equal(got[0].from, 'bob')
  t.same(got[0].data, { text: 'hi alice' })
  t.equal(got[0].channel, 'room')
  t.equal(all.length, 1, 'the message event fires too')

  await unsubscribe()
  t.same(alice.status().subscriptions, [])
  t.equal(await server.app.channels.isSubscribed(alice.connectionId as string, 'room'), false, 'the server forgot it')
  await unsubscribe()
  t.pass('a second unsubscribe is a no-op')
})

t.test('two handlers on one channel: one server subscription, left with the last handler', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  await client.start()
  const first: unknown[] = []
  const second: unknown[] = []
  const offFirst = client.subscribe('room', (m) => first.push(m.data))
  const offSecond = client.subscribe('room', (m) => second.push(m.data))
  await offFirst.subscribed
  t.equal(offSecond.subscribed, offFirst.subscribed, 'both handlers share the subscription')
  await client.publish('room', 1)
  await until(() => first.length === 1 && second.length === 1, 2000, 'both handlers')

  await offFirst()
  t.equal(await server.app.channels.isSubscribed(client.connectionId as string, 'room'), true, 'still subscribed for the other handler')
  await client.publish('room', 2)
  await until(() => second.length === 2, 2000, 'the second message')
  t.same(first, [1], 'the removed handler gets nothing more')
  t.same(second, [1, 2])
  await offSecond()
  t.equal(await server.app.channels.isSubscribed(client.connectionId as string, 'room'), false)
})

t.test('leaving a channel the server already dropped still resolves', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  await client.start()
  const off = client.subscribe('room', () => {})
  await off.subscribed
  t.equal(await server.app.channels.unsubscribe(client.connectionId as string, 'room'), true, 'dropped server-side')
  await off()
  t.same(client.status().subscriptions, [])
  t.equal(client.state, 'open')
})

t.test('subscribing again with new meta re-sends the subscription', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  await client.start()
  await client.subscribe('room', () => {}, { meta: { mood: 'calm' } }).subscribed
  client.subscribe('room', () => {}, { meta: { mood: 'busy' } })
  await until(async () => (await server.app.channels.subscribers('room'))[0]?.meta?.mood === 'busy', 2000, 'the new meta')
  t.same((await server.app.channels.subscribers('room')).map((s) => s.meta), [{ mood: 'busy' }])
})

t.test('a refused subscription rejects `subscribed`, is reported, and is not kept', async (t) => {
  const server = await startServer(t, { channels: { policies: { 'private:*': { subscribe: false } } } })
  const client = createClient(t, server.url({ userId: 'alice' }))
  const errors = record(client, 'error')
  await client.start()
  const off = client.subscribe('private:x', () => {})
  await t.rejects(off.subscribed, { code: 'forbidden', channel: 'private:x' })
  t.equal(errors.length, 1)
  t.equal(errors[0][0].code, 'forbidden')
  t.equal(errors[0][0].channel, 'private:x')
  t.same(client.status().subscriptions, [], 'not retried on the next reconnect')
})

t.test('publish, direct, group, broadcast and presence resolve on the server ack', async (t) => {
  const server = await startServer(t, {
    authenticate: (request) => ({ id: String((request.query as Record<string, string>).userId), groups: ['staff'] }),
    permissions: { broadcast: true }
  })
  const alice = createClient(t, server.url({ userId: 'alice' }))
  const bob = createClient(t, server.url({ userId: 'bob' }))
  const directs = record(bob, 'direct')
  const groups = record(bob, 'group')
  const broadcasts = record(bob, 'broadcast')
  await Promise.all([alice.start(), bob.start()])

  await alice.direct('bob', { secret: 1 })
  await alice.group('staff', 'meeting')
  await alice.broadcast('everyone')
  await alice.presence('away', { note: 'lunch' })
  await until(() => directs.length === 1 && groups.length === 1 && broadcasts.length === 1, 2000, 'three deliveries')
  t.match(directs[0][0], { type: 'direct', from: 'alice', data: { secret: 1 } })
  t.match(groups[0][0], { type: 'group', group: 'staff', from: 'alice', data: 'meeting' })
  t.match(broadcasts[0][0], { type: 'broadcast', from: 'alice', data: 'everyone' })
  t.match(await server.app.presence.get('alice'), { status: 'away', meta: { note: 'lunch' } })
  t.equal(alice.status().pendingRequests, 0, 'every request was answered')
})

t.test('errors reject with the server code: not_subscribed, forbidden, unknown_type, invalid_message', async (t) => {
  const server = await startServer(t, {}, (app) => {
    app.events.on('typing', { schema: Typing }, () => {})
  })
  const client = createClient<{ typing: typeof Typing }>(t, server.url({ userId: 'alice' }))
  const errorEvents = record(client, 'error')
  await client.start()

  const notSubscribed = await client.publish('room', 'x').catch((e: HauynaError) => e)
  t.match(notSubscribed, { name: 'HauynaError', code: 'not_subscribed', sent: true })
  t.match((notSubscribed as HauynaError).ref, /^c\d+$/, 'the ref the client generated')
  await t.rejects(client.broadcast('x'), { code: 'forbidden' }, 'broadcast is denied by default')
  await t.rejects(client.send('nope', { a: 1 }), { code: 'unknown_type' })
  const invalid = await client.send('typing', { room: '' }).catch((e: HauynaError) => e) as HauynaError
  t.equal(invalid.code, 'invalid_message')
  t.ok(Array.isArray(invalid.details) && invalid.details.length > 0, 'validation details are passed on')
  await client.send('typing', { room: 'lobby' })
  t.same(errorEvents, [], 'errors that answer a request are not also events')
})

t.test('app message types declared with a TypeBox schema reach their handler', async (t) => {
  const seen: Array<{ userId: string, room: string }> = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('typing', { schema: Typing }, (conn, msg) => { seen.push({ userId: conn.userId, room: msg.room }) })
  })
  const client = createClient<{ typing: typeof Typing }>(t, server.url({ userId: 'alice' }))
  await client.start()
  await client.send('typing', { room: 'lobby' })
  t.same(seen, [{ userId: 'alice', room: 'lobby' }], 'handled before the ack came back')
})

t.test('requests time out when the server does not answer', async (t) => {
  const release: Array<() => void> = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('slow', { schema: Type.Object({}) }, () => new Promise<void>((resolve) => { release.push(resolve) }))
  })
  t.teardown(() => { for (const r of release) r() })
  const client = createClient(t, server.url({ userId: 'alice' }), { requestTimeout: 5000 })
  await client.start()
  const error = await client.send('slow', {}, { timeout: 50 }).catch((e: HauynaError) => e) as HauynaError
  t.equal(error.code, 'timeout')
  t.equal(error.sent, true, 'it had been written: the server may still handle it')
  t.equal(client.status().pendingRequests, 0, 'a timed-out request is forgotten')
  await until(() => release.length === 1, 2000, 'the handler to run')
  release[0]()
  // The late ack answers nothing now; a later request still works.
  await client.publish('x', 1).catch(() => {})
  t.equal(client.state, 'open')
})

t.test('server error frames that answer no request are error events; bad frames too', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  await client.start()
  const conn = server.app.connections.get(client.connectionId as string)
  t.ok(conn, 'the server-side connection')

  const serverError = nextEvent(client, 'error')
  conn?.send({ type: 'error', code: 'rate_limited', message: 'slow down', details: [{ path: '/x', message: 'y' }] })
  const [error] = await serverError
  t.match(error, { code: 'rate_limited', message: 'slow down', details: [{ path: '/x', message: 'y' }] })

  const invalid = nextEvent(client, 'error')
  conn?.socket.send('this is not json')
  t.equal((await invalid)[0].code, 'invalid_frame')

  const noType = nextEvent(client, 'error')
  conn?.socket.send('{"no":"type"}')
  t.equal((await noType)[0].code, 'invalid_frame')

  // Frame types this client does not know (a newer server) are ignored, not errors.
  const errors = record(client, 'error')
  conn?.send({ type: 'from_the_future' })
  await client.subscribe('room', () => {}).subscribed
  t.same(errors, [])
})

t.test('presence_diff frames are events', async (t) => {
  const server = await startServer(t, { channels: { policies: { room: { presence: true } } } })
  const alice = createClient(t, server.url({ userId: 'alice' }))
  const bob = createClient(t, server.url({ userId: 'bob' }))
  const diffs = record(alice, 'presence_diff')
  await Promise.all([alice.start(), bob.start()])
  await alice.subscribe('room', () => {}).subscribed
  const joined = await bob.subscribe('room', () => {}).subscribed
  t.ok(joined.presence !== undefined && 'alice' in joined.presence, 'the subscribed reply carries the channel presence')
  await until(() => diffs.length >= 1, 2000, 'a presence_diff')
  t.match(diffs[0][0], { type: 'presence_diff', channel: 'room', joins: { bob: { status: 'online' } } })
})

t.test('health(): last message time, heartbeat round trip', async (t) => {
  const server = await startServer(t, { heartbeat: { interval: 30, timeout: 2000 } })
  const client = createClient(t, server.url({ userId: 'alice' }))
  t.match(client.health(), { healthy: false, state: 'closed', lastMessageAt: undefined, rtt: undefined, openSince: undefined })
  const before = Date.now()
  await client.start()
  await until(() => client.health().rtt !== undefined, 2000, 'a heartbeat_ack')
  const health = client.health()
  t.equal(health.healthy, true)
  t.equal(health.state, 'open')
  t.ok(typeof health.rtt === 'number' && health.rtt >= 0, `rtt ${health.rtt} ms`)
  t.ok((health.lastMessageAt as number) >= before, 'lastMessageAt is a recent Date.now()')
  t.ok((health.openSince as number) >= before)
  await client.stop()
  t.match(client.health(), { healthy: false, state: 'closed', openSince: undefined })
})

t.test('heartbeat: false sends none; health then only needs the connection open', async (t) => {
  const server = await startServer(t, { heartbeat: { interval: 20, timeout: 5000 } })
  const client = createClient(t, server.url({ userId: 'alice' }), { heartbeat: false })
  await client.start()
  const conn = server.app.connections.get(client.connectionId as string)
  const beats: string[] = []
  let pongs = 0
  conn?.socket.on('message', (data) => { if (JSON.parse(String(data)).type === 'heartbeat') beats.push('beat') })
  conn?.socket.on('pong', () => { pongs++ })
  // Five server pings answered = five announced intervals in which a heartbeat was due.
  await until(() => pongs >= 5, 3000, 'five pongs')
  t.same(beats, [])
  t.equal(client.health().healthy, true)
  t.equal(client.health().rtt, undefined)
})

t.test('listeners that throw become handler_error events; once and off work', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  const errors = record(client, 'error')
  let onceCalls = 0
  let offCalls = 0
  const offListener = (): void => { offCalls++ }
  client.once('state', () => { onceCalls++ })
  client.on('state', offListener)
  client.off('state', offListener)
  client.on('connected', () => { throw new Error('listener bug') })
  client.subscribe('room', () => { throw new Error('handler bug') })
  await client.start()
  await client.publish('room', 1)
  await until(() => errors.length === 2, 2000, 'two handler errors')
  t.equal(onceCalls, 1)
  t.equal(offCalls, 0)
  t.match(errors.map(([e]) => e.code), ['handler_error', 'handler_error'])
  t.match(errors[0][0].message, /"connected" listener threw: listener bug/)
  t.match(errors[1][0], { channel: 'room', message: /subscription threw: handler bug/ })
  t.equal(client.state, 'open', 'the client is unaffected')
})

t.test('channels the server subscribed this connection to arrive as message events', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  await client.start()
  const message = nextEvent(client, 'message')
  await server.app.channels.subscribe(client.connectionId as string, 'news')
  await server.app.channels.broadcastTo('news', 'extra')
  t.match((await message)[0], { channel: 'news', data: 'extra', from: null })
  t.same(client.status().subscriptions, [], 'not one the client asked for')
})

t.test('a server subscription is a subscribed event; a kick an unsubscribed event, not renewed on reconnect', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  await client.start()
  const subscribed = nextEvent(client, 'subscribed')
  await server.app.channels.subscribe(client.connectionId as string, 'news')
  t.match((await subscribed)[0], { channel: 'news' })
  t.notOk('ref' in (await subscribed)[0], 'answers no request of the client')

  const received: unknown[] = []
  await client.subscribe('room', (message) => { received.push(message.data) }).subscribed
  const unsubscribed = nextEvent(client, 'unsubscribed')
  t.equal(await server.app.channels.kick('room', 'alice', 'spamming'), 1)
  t.match((await unsubscribed)[0], { channel: 'room', reason: 'spamming' })
  t.same(client.status().subscriptions, [], 'forgotten by the client')

  const reopened = nextEvent(client, 'connected')
  await server.app.connections.close(client.connectionId as string, 4001, 'reconnect, please')
  await reopened
  await client.presence('online') // answered after anything the client sent on reopening
  t.same(await server.app.channels.subscribers('room'), [], 'not subscribed again after the reconnect')
  t.same(received, [])
})

t.test('subscription meta that cannot be serialized throws at once', async (t) => {
  const client = createClient(t, 'ws://127.0.0.1:9/ws')
  const circular: Record<string, unknown> = {}
  circular.self = circular
  t.throws(() => client.subscribe('room', () => {}, { meta: circular }), TypeError)
  t.same(client.status().subscriptions, [])
})

t.test('messages that cannot be serialized reject at once', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }))
  await client.start()
  const circular: Record<string, unknown> = {}
  circular.self = circular
  await t.rejects(client.publish('room', circular), TypeError)
  t.equal(client.status().queueSize, 0)
  t.equal(client.status().pendingRequests, 0)
})

t.test('options are validated', async (t) => {
  t.throws(() => new HauynaClient('ws://127.0.0.1:1/ws', { WebSocket, maxQueueSize: -1 }), RangeError)
  t.throws(() => new HauynaClient('ws://127.0.0.1:1/ws', { WebSocket, overflowStrategy: 'drop_all' as never }), RangeError)
  t.throws(() => new HauynaClient('ws://127.0.0.1:1/ws', { WebSocket, retry: { jitter: 2 } }), RangeError)
  if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'function') {
    t.ok(new HauynaClient('ws://127.0.0.1:1/ws'), 'a global WebSocket is used when present')
  } else {
    t.throws(() => new HauynaClient('ws://127.0.0.1:1/ws'), { name: 'TypeError', message: /no WebSocket implementation/ })
  }
})

t.test('an unusable URL fails start() with connect_failed', async (t) => {
  const client = createClient(t, 'not a url')
  const error = await client.start().catch((e: HauynaError) => e) as HauynaError
  t.equal(error.code, 'connect_failed')
  await untilState(client, 'closed')
  t.equal(client.status().started, false)
})
