import { type Static, Type } from '@sinclair/typebox'
import t from 'tap'
import hauyna from '../lib/index'
import { type Client, connect, type Server, startServer, until } from './helpers'

// A client's `next()` skips frames it passes over, so these tests read received messages
// with `all()` and wait with `until()` whenever acks and messages interleave.

async function subscribe (client: Client, channel: string, extra: Record<string, unknown> = {}) {
  return client.request({ type: 'subscribe', channel, ...extra })
}

function messagesOn (client: Client, channel: string): unknown[] {
  return client.all('message').filter((f) => f.channel === channel).map((f) => f.data)
}

function connectionOf (server: Server, userId: string) {
  const [conn] = server.app.connections.byUser(userId)
  if (conn === undefined) throw new Error(`no connection for ${userId}`)
  return conn
}

t.test('subscriptions: meta, subscribedChannels, isSubscribed, idempotent resubscribe', async (t) => {
  const server = await startServer(t)
  const a = await connect(server.url({ userId: 'alice' }))
  const b = await connect(server.url({ userId: 'bob' }))
  t.equal((await subscribe(a, 'room', { meta: { role: 'host' } })).type, 'ack')
  t.equal((await subscribe(b, 'room', { meta: { role: 'guest' } })).type, 'ack')
  t.equal((await subscribe(a, 'lobby')).type, 'ack')

  const subscribers = await server.app.channels.subscribers('room')
  t.same(subscribers.map((s) => [s.userId, s.meta]).sort(),
    [['alice', { role: 'host' }], ['bob', { role: 'guest' }]], 'each subscriber carries its own meta')
  t.same((await server.app.channels.subscribers('lobby'))[0].meta, {}, 'meta defaults to an empty object')
  t.same(await server.app.channels.subscribers('nowhere'), [])

  const alice = connectionOf(server, 'alice')
  t.same((await server.app.channels.subscribedChannels(alice)).sort(), ['lobby', 'room'])
  t.same((await server.app.channels.subscribedChannels(alice.id)).sort(), ['lobby', 'room'], 'by connection id too')
  t.equal(await server.app.channels.isSubscribed(alice, 'room'), true)
  t.equal(await server.app.channels.isSubscribed(alice.id, 'room'), true)
  t.equal(await server.app.channels.isSubscribed(connectionOf(server, 'bob').id, 'lobby'), false)
  await t.rejects(server.app.channels.isSubscribed('no-such-connection', 'room'), { code: 'HAUYNA_UNKNOWN_CONNECTION' })

  // Subscribing again replaces the meta and never duplicates the subscriber.
  t.equal((await subscribe(a, 'room', { meta: { role: 'moderator' } })).type, 'ack')
  const after = await server.app.channels.subscribers('room')
  t.equal(after.filter((s) => s.userId === 'alice').length, 1, 'one entry after resubscribing')
  t.same(after.find((s) => s.userId === 'alice')?.meta, { role: 'moderator' })
  t.same(await server.app.channels.list(), [{ channel: 'room', subscribers: 2 }, { channel: 'lobby', subscribers: 1 }])

  // One message delivered once, not twice, after the resubscribe.
  await b.request({ type: 'publish', channel: 'room', data: 'once' })
  t.match(await a.once((f) => f.type === 'message' && f.data === 'once', 'the message on alice'), { channel: 'room' })
  t.same(messagesOn(a, 'room'), ['once'])

  t.equal(a.all('subscribed').length, 3)
  t.same(a.violations, [])
  t.same(b.violations, [])
})

t.test('echo: false skips the publisher; default echo gives every subscriber one ordered stream', async (t) => {
  const server = await startServer(t)
  const quiet = await connect(server.url({ userId: 'quiet' }))
  const p1 = await connect(server.url({ userId: 'p1' }))
  const p2 = await connect(server.url({ userId: 'p2' }))
  const reader = await connect(server.url({ userId: 'reader' }))
  await subscribe(quiet, 'news', { echo: false })
  await subscribe(p1, 'news')
  await subscribe(p2, 'news')
  await subscribe(reader, 'news')

  t.equal((await quiet.request({ type: 'publish', channel: 'news', data: 'from-quiet' })).type, 'ack')
  for (const c of [p1, p2, reader]) {
    await until(() => messagesOn(c, 'news').includes('from-quiet'), 2000, 'others to get the echo-less publish')
  }
  // Two publishers interleave several messages each; every subscriber must see one identical sequence.
  for (let i = 0; i < 10; i++) {
    p1.send({ type: 'publish', channel: 'news', data: `p1-${i}` })
    p2.send({ type: 'publish', channel: 'news', data: `p2-${i}` })
  }
  const everyone = [p1, p2, reader, quiet]
  for (const c of everyone) await until(() => messagesOn(c, 'news').length >= 20, 3000, 'all 20 messages')
  // `quiet` never receives its own publish.
  t.same(messagesOn(quiet, 'news').filter((d) => d === 'from-quiet'), [])
  t.equal(messagesOn(p1, 'news')[0], 'from-quiet')

  const sequence = messagesOn(reader, 'news').slice(1)
  t.equal(sequence.length, 20)
  t.same(sequence.filter((d) => String(d).startsWith('p1-')), Array.from({ length: 10 }, (_, i) => `p1-${i}`),
    'each publisher\'s messages stay in send order')
  t.same(sequence.filter((d) => String(d).startsWith('p2-')), Array.from({ length: 10 }, (_, i) => `p2-${i}`))
  t.same(messagesOn(p1, 'news').slice(1), sequence, 'the publisher p1 sees its own messages in the shared order')
  t.same(messagesOn(p2, 'news').slice(1), sequence, 'p2 sees the same order')
  t.same(messagesOn(quiet, 'news'), sequence, 'an echo:false subscriber still sees others in the same order')
  for (const frame of p1.all('message').slice(1)) {
    t.equal(frame.from, String(frame.data).slice(0, 2), 'from is the publishing user')
  }
  for (const c of everyone) t.same(c.violations, [])
})

t.test('echo: false is per connection: the publisher\'s other tab still gets its message once', async (t) => {
  const server = await startServer(t)
  const quietTab = await connect(server.url({ userId: 'alice' }))
  const otherTab = await connect(server.url({ userId: 'alice' }))
  await subscribe(quietTab, 'news', { echo: false })
  await subscribe(otherTab, 'news')
  await quietTab.request({ type: 'publish', channel: 'news', data: 'from-tab-1' })
  t.match(await otherTab.once((f) => f.type === 'message' && f.data === 'from-tab-1', 'the message on the other tab'),
    { from: 'alice' })
  await quietTab.settle()
  t.same(messagesOn(quietTab, 'news'), [], 'the publishing tab gets none')
  for (const c of [quietTab, otherTab]) t.same(c.violations, [])
})

t.test('echo: false does not apply to server publishes: broadcastTo reaches that subscriber once', async (t) => {
  const server = await startServer(t)
  const quiet = await connect(server.url({ userId: 'quiet' }))
  await subscribe(quiet, 'news', { echo: false })
  t.equal(await server.app.channels.broadcastTo('news', 'server news', { from: 'quiet' }), 1)
  t.match(await quiet.once((f) => f.type === 'message' && f.data === 'server news', 'the server publish'), { from: 'quiet' },
    'even with `from` naming the echo:false subscriber')
  t.same(quiet.violations, [])
})

t.test('a re-subscribe replaces echo: false → true → false, client-side and server-side', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  const publish = async (data: string) => {
    await alice.request({ type: 'publish', channel: 'news', data })
    await alice.settle()
    return messagesOn(alice, 'news').filter((d) => d === data).length
  }
  await subscribe(alice, 'news', { echo: false })
  t.equal(await publish('one'), 0, 'echo: false')
  await subscribe(alice, 'news', { echo: true })
  t.equal(await publish('two'), 1, 'back to true: exactly one echo')
  await subscribe(alice, 'news', { echo: false })
  t.equal(await publish('three'), 0, 'false again')
  await subscribe(alice, 'news')
  t.equal(await publish('four'), 1, 'a re-subscribe without echo restores the default, true')
  await server.app.channels.subscribe(connectionOf(server, 'alice'), 'news', { echo: false })
  t.equal(await publish('five'), 0, 'a server-side re-subscribe replaces it too')
  t.same(alice.violations, [])
})

t.test('policies from options: patterns, default deny, exact names, publish rules, async functions', async (t) => {
  const server = await startServer(t, {
    channels: {
      default: 'deny',
      policies: {
        'private:*': { subscribe: ({ connection }) => connection.userId === 'admin' },
        'public:*': { subscribe: true, publish: 'subscribers' },
        'public:readonly': { subscribe: true, publish: false },
        'open:*': { subscribe: true, publish: true },
        'async:*': {
          subscribe: async ({ connection, channel }) => {
            await new Promise((resolve) => setImmediate(resolve))
            return channel === `async:${connection.userId}`
          }
        }
      }
    }
  })
  const admin = await connect(server.url({ userId: 'admin' }))
  const user = await connect(server.url({ userId: 'user' }))

  t.equal((await subscribe(admin, 'private:ops')).type, 'ack')
  t.match(await subscribe(user, 'private:ops'), { type: 'error', code: 'forbidden' }, 'pattern policy denies others')
  // A matched policy that only governs subscribing still lets its subscribers publish under default deny.
  t.equal((await admin.request({ type: 'publish', channel: 'private:ops', data: 'ops' })).type, 'ack')
  t.match(await user.request({ type: 'publish', channel: 'private:ops', data: 'x' }), { type: 'error', code: 'not_subscribed' })
  t.match(await subscribe(user, 'elsewhere'), { type: 'error', code: 'forbidden' }, 'default deny for unmatched names')
  t.match(await user.request({ type: 'publish', channel: 'elsewhere', data: 1 }), { type: 'error', code: 'forbidden' })

  t.equal((await subscribe(user, 'public:chat')).type, 'ack')
  t.equal((await user.request({ type: 'publish', channel: 'public:chat', data: 'hi' })).type, 'ack')
  t.match(await admin.request({ type: 'publish', channel: 'public:chat', data: 'x' }),
    { type: 'error', code: 'not_subscribed' }, '"subscribers" requires a subscription')

  // The exact name wins over the `public:*` pattern that also matches it.
  t.equal((await subscribe(user, 'public:readonly')).type, 'ack')
  t.match(await user.request({ type: 'publish', channel: 'public:readonly', data: 'x' }),
    { type: 'error', code: 'forbidden' }, 'publish: false forbids even subscribers')

  // publish: true lets a non-subscriber publish; subscribers receive it.
  t.equal((await subscribe(user, 'open:feed')).type, 'ack')
  t.equal((await admin.request({ type: 'publish', channel: 'open:feed', data: 'outside' })).type, 'ack')
  await until(() => messagesOn(user, 'open:feed').includes('outside'), 2000, 'user to get the outsider publish')
  t.same(messagesOn(admin, 'open:feed'), [], 'the non-subscribed publisher gets no copy')

  t.equal((await subscribe(user, 'async:user')).type, 'ack', 'async policy allows')
  t.match(await subscribe(user, 'async:admin'), { type: 'error', code: 'forbidden' }, 'async policy denies')

  t.equal(await server.app.channels.isSubscribed(connectionOf(server, 'user'), 'private:ops'), false)
  t.same(admin.violations, [])
  t.same(user.violations, [])
})

t.test('channels.policy() changes policies at runtime', async (t) => {
  const server = await startServer(t)
  const a = await connect(server.url({ userId: 'alice' }))
  t.equal((await subscribe(a, 'vip:lounge')).type, 'ack', 'allowed by default')
  t.equal(server.app.channels.policy('vip:*', { subscribe: false }), server.app.channels, 'chainable')
  t.match(await subscribe(a, 'vip:bar'), { type: 'error', code: 'forbidden' })
  server.app.channels.policy('vip:*', { subscribe: async ({ connection }) => connection.userId === 'alice' })
  t.equal((await subscribe(a, 'vip:bar')).type, 'ack', 'a replaced pattern policy applies')
  server.app.channels.policy('vip:bar', { publish: false })
  t.match(await a.request({ type: 'publish', channel: 'vip:bar', data: 1 }), { type: 'error', code: 'forbidden' })
  t.equal((await a.request({ type: 'publish', channel: 'vip:lounge', data: 1 })).type, 'ack')
  t.same(a.violations, [])
})

const NotifyBody = Type.Object({ channel: Type.String({ minLength: 1 }), data: Type.Unknown() }, { additionalProperties: false })
type NotifyBody = Static<typeof NotifyBody>

t.test('broadcastTo from an HTTP route with a TypeBox body schema', async (t) => {
  const server = await startServer(t, {}, (app) => {
    app.post<{ Body: NotifyBody }>('/notify', { schema: { body: NotifyBody } }, async (request) => {
      const delivered = await app.channels.broadcastTo(request.body.channel, request.body.data)
      return { delivered }
    })
  })
  const post = (body: unknown) => fetch(`${server.http}/notify`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
  })
  const subscribers = await Promise.all(['u1', 'u2', 'u3'].map((id) => connect(server.url({ userId: id }))))
  const outsider = await connect(server.url({ userId: 'outsider' }))
  for (const c of subscribers) await subscribe(c, 'alerts')

  const ok = await post({ channel: 'alerts', data: { level: 'high' } })
  t.equal(ok.status, 200)
  t.same(await ok.json(), { delivered: 3 }, 'delivered counts every subscriber')
  for (const c of subscribers) {
    const msg = await c.next('message')
    t.match(msg, { channel: 'alerts', from: null, data: { level: 'high' } }, 'from is null for server publishes')
  }

  const bad = await post({ channel: 'alerts' })
  t.equal(bad.status, 400, 'a body missing `data` fails the route schema')
  t.equal((await post({ channel: '', data: 1 })).status, 400)
  t.same(await (await post({ channel: 'empty', data: 1 })).json(), { delivered: 0 })
  await t.rejects(server.app.channels.broadcastTo('bad\u0000name', 1), { code: 'HAUYNA_INVALID_NAME' })

  await outsider.request({ type: 'heartbeat' })
  t.same(outsider.all('message'), [], 'non-subscribers get nothing')
  for (const c of [...subscribers, outsider]) t.same(c.violations, [])
})

t.test('an HTTP route reuses the plugin\'s Name schema; a name it lets through but the plugin refuses is a 400', async (t) => {
  const Body = Type.Object({ channel: hauyna.schemas.Name, data: Type.Unknown() })
  const server = await startServer(t, {}, (app) => {
    app.post<{ Body: Static<typeof Body> }>('/notify', { schema: { body: Body } }, async (request) => {
      return { delivered: await app.channels.broadcastTo(request.body.channel, request.body.data) }
    })
  })
  const post = (body: unknown) => fetch(`${server.http}/notify`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
  })
  const control = await post({ channel: 'a\u0001b', data: 1 })
  t.equal(control.status, 400, 'a control character fails the route schema')
  t.match(await control.json(), { code: 'FST_ERR_VALIDATION' })
  const invisible = await post({ channel: 'a\u200bb', data: 1 })
  t.equal(invisible.status, 400, 'an invisible character passes the schema, and the service refuses it as a bad request')
  t.match(await invisible.json(), { statusCode: 400, code: 'HAUYNA_INVALID_NAME' })
  t.same(await (await post({ channel: 'room', data: 1 })).json(), { delivered: 0 })
})

t.test('server-side subscribe and unsubscribe notify the client', async (t) => {
  const server = await startServer(t)
  const a = await connect(server.url({ userId: 'alice' }))
  const conn = connectionOf(server, 'alice')
  await server.app.channels.subscribe(conn, 'ops', { meta: { via: 'server' } })
  t.match(await a.next('subscribed'), { type: 'subscribed', channel: 'ops' })
  t.same((await server.app.channels.subscribers('ops'))[0].meta, { via: 'server' })

  t.equal(await server.app.channels.broadcastTo('ops', 'deploy'), 1)
  t.match(await a.next('message'), { channel: 'ops', from: null, data: 'deploy' })

  await server.app.channels.subscribe(conn.id, 'by-id')
  t.match(await a.next('subscribed'), { channel: 'by-id' }, 'a connection id works as the target')

  t.equal(await server.app.channels.unsubscribe(conn, 'ops'), true)
  t.match(await a.next('unsubscribed'), { type: 'unsubscribed', channel: 'ops' })
  t.equal(await server.app.channels.unsubscribe(conn, 'ops'), false, 'a second unsubscribe is a no-op')
  t.equal(await server.app.channels.broadcastTo('ops', 'after'), 0)
  t.same(await server.app.channels.subscribedChannels(conn), ['by-id'])
  await t.rejects(server.app.channels.subscribe('missing', 'ops'), { code: 'HAUYNA_UNKNOWN_CONNECTION' })
  await a.settle()
  t.equal(a.all('unsubscribed').length, 1, 'the no-op unsubscribe sent no frame')
  t.same(a.violations, [])
})

t.test('maxSubscriptionsPerConnection', async (t) => {
  const server = await startServer(t, { maxSubscriptionsPerConnection: 2 })
  const a = await connect(server.url({ userId: 'alice' }))
  t.equal((await subscribe(a, 'one')).type, 'ack')
  t.equal((await subscribe(a, 'two')).type, 'ack')
  t.match(await subscribe(a, 'three'), { type: 'error', code: 'forbidden' }, 'over the limit')
  t.equal((await subscribe(a, 'two', { meta: { again: true } })).type, 'ack', 'resubscribing within the limit is fine')
  await t.rejects(server.app.channels.subscribe(connectionOf(server, 'alice'), 'four'), { code: 'HAUYNA_FORBIDDEN' },
    'the limit applies to server-side subscribes too')
  await a.request({ type: 'unsubscribe', channel: 'one' })
  t.equal((await subscribe(a, 'three')).type, 'ack', 'room again after unsubscribing')
  t.same((await server.app.channels.subscribedChannels(connectionOf(server, 'alice'))).sort(), ['three', 'two'])
  t.same(a.violations, [])
})

t.test('channels.list() counts subscribers and forgets empty channels', async (t) => {
  const server = await startServer(t)
  const clients = await Promise.all(['a', 'b', 'c'].map((id) => connect(server.url({ userId: id }))))
  for (const c of clients) await subscribe(c, 'big')
  await subscribe(clients[0], 'small')
  t.same(await server.app.channels.list(), [{ channel: 'big', subscribers: 3 }, { channel: 'small', subscribers: 1 }])
  await clients[0].close()
  await until(async () => (await server.app.channels.list()).length === 1, 2000, 'the closed client to be cleaned up')
  t.same(await server.app.channels.list(), [{ channel: 'big', subscribers: 2 }])
  await clients[1].request({ type: 'unsubscribe', channel: 'big' })
  t.same(await server.app.channels.list(), [{ channel: 'big', subscribers: 1 }])
  for (const c of clients) t.same(c.violations, [])
})

t.test('server-side name, meta and limit errors say what they are about', async (t) => {
  const server = await startServer(t, { maxSubscriptionsPerConnection: 1 })
  const a = await connect(server.url({ userId: 'alice' }))
  const conn = connectionOf(server, 'alice')
  const { channels } = server.app
  const badName = /^Invalid channel name: must be 1-200 characters without control or invisible characters, got ""$/
  await t.rejects(channels.create(''), { code: 'HAUYNA_INVALID_NAME', message: badName })
  await t.rejects(channels.create('news', { meta: [] as never }),
    { code: 'HAUYNA_INVALID_META', message: /^Invalid channel meta: must be an object$/ })
  await t.rejects(channels.broadcastTo('', 1), { code: 'HAUYNA_INVALID_NAME', message: badName })
  await t.rejects(channels.subscribe(conn, ''), { code: 'HAUYNA_INVALID_NAME', message: badName })
  await t.rejects(channels.subscribe(conn, 'room', { meta: 'x' as never }),
    { code: 'HAUYNA_INVALID_META', message: /^Invalid subscription meta: must be an object$/ })

  await channels.subscribe(conn, 'room')
  const limit = /^subscription limit of 1 channels per connection reached$/
  await t.rejects(channels.subscribe(conn, 'other'), { code: 'HAUYNA_FORBIDDEN', message: limit })
  t.match(await subscribe(a, 'other'), { type: 'error', code: 'forbidden', message: limit }, 'the client is told the same')
  t.same(await channels.subscribedChannels(conn), ['room'])
  t.same(a.violations, [])
})

t.test('channels.list() is largest first, whatever order the channels were created in', async (t) => {
  const server = await startServer(t)
  const clients = await Promise.all(['a', 'b', 'c'].map((id) => connect(server.url({ userId: id }))))
  await subscribe(clients[0], 'one')
  for (const c of clients.slice(0, 2)) await subscribe(c, 'two')
  for (const c of clients) await subscribe(c, 'three')
  t.same(await server.app.channels.list(),
    [{ channel: 'three', subscribers: 3 }, { channel: 'two', subscribers: 2 }, { channel: 'one', subscribers: 1 }])
  for (const c of clients) t.same(c.violations, [])
})

t.test('policy patterns: other characters are literal, `*` spans any character', async (t) => {
  const audited: unknown[] = []
  const server = await startServer(t, {
    channels: {
      policies: {
        'team.(a)*': { subscribe: false },
        'audit:*': { publish: ({ channel }) => { audited.push(channel); return false } }
      }
    }
  })
  const a = await connect(server.url({ userId: 'alice' }))
  t.match(await subscribe(a, 'team.(a)1'), { type: 'error', code: 'forbidden' }, 'the pattern matches its own dot and parentheses')
  t.equal((await subscribe(a, 'teamXa1')).type, 'ack', '"." and "(a)" are not regular expression syntax')
  // A line separator passes the protocol's name pattern, so a publish rule must still see it.
  t.match(await a.request({ type: 'publish', channel: 'audit:x\u2028y', data: 1 }), { type: 'error', code: 'forbidden' })
  t.same(audited, ['audit:x\u2028y'], 'the audit:* rule decided')
  t.same(a.violations, [])
})

t.test('presence is off unless a policy says so: under default deny, and in a policy that does not mention it', async (t) => {
  const server = await startServer(t, { channels: { default: 'deny', policies: { 'open:*': { subscribe: true } } } })
  const a = await connect(server.url({ userId: 'alice' }))
  t.equal((await subscribe(a, 'open:1')).type, 'ack')
  // The `subscribed` reply is written before the ack.
  const open = a.all('subscribed').find((f) => f.channel === 'open:1')
  t.ok(open !== undefined && !('presence' in open), 'no snapshot where the matched policy leaves presence out')
  // Policies do not apply to server-side subscribes: the default's presence setting still does.
  await server.app.channels.subscribe(connectionOf(server, 'alice'), 'unmatched')
  const unmatched = await a.next((f) => f.type === 'subscribed' && f.channel === 'unmatched')
  t.notOk('presence' in unmatched, 'no snapshot for a channel only the default deny covers')
  t.same(a.violations, [])
})
