import { Type } from '@sinclair/typebox'
import t, { type Test } from 'tap'
import { type Client, connect, open, startServer, until } from './helpers'

let beat = 0

/**
 * A heartbeat round-trip without a ref. The server handles one connection's frames in
 * order, so once its `heartbeat_ack` arrives every reply to earlier frames has arrived too.
 */
async function roundTrip (client: Client): Promise<void> {
  const ts = `rt-${++beat}`
  client.send({ type: 'heartbeat', ts })
  await client.next((f) => f.type === 'heartbeat_ack' && f.ts === ts)
}

/** `ack` and `error` frames answering `ref`, received so far. */
function answers (client: Client, ref: unknown): Array<Record<string, any>> {
  return client.frames.filter((f) => (f.type === 'ack' || f.type === 'error') && f.ref === ref)
}

/**
 * Frames of `type` received so far, once there are `count` of them. Unlike `next()` this
 * also sees frames that arrived before an awaited `ack` (a publish's echo precedes its ack).
 */
async function received (client: Client, type: string, count = 1): Promise<Array<Record<string, any>>> {
  await until(() => client.all(type).length >= count, 2000, `${count} ${type} frame(s)`)
  return client.all(type)
}

/** The next `error` frame, whatever it answers. */
function nextError (client: Client): Promise<Record<string, any>> {
  return client.next('error')
}

function detailsAreWellFormed (details: unknown): boolean {
  return Array.isArray(details) && details.length > 0 &&
    details.every((d) => typeof d?.path === 'string' && typeof d?.message === 'string')
}

t.test('identity resolution', async (t) => {
  t.test('?userId= names the connection', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    t.equal(a.all('connected')[0].userId, 'alice')
    t.equal(server.app.connections.byUser('alice').length, 1)
    t.same(a.violations, [])
  })

  t.test('?user_id= is accepted too', async (t) => {
    const server = await startServer(t)
    const b = await connect(server.url({ user_id: 'bob' }))
    t.equal(b.all('connected')[0].userId, 'bob')
    t.equal(server.app.connections.byUser('bob').length, 1)
    t.same(b.violations, [])
  })

  t.test('allowAnonymous generates an anon- id', async (t) => {
    const server = await startServer(t, { allowAnonymous: true })
    const a = await connect(server.url())
    const b = await connect(server.url())
    const idA = a.all('connected')[0].userId
    const idB = b.all('connected')[0].userId
    t.match(idA, /^anon-.+/)
    t.match(idB, /^anon-.+/)
    t.not(idA, idB, 'every anonymous connection gets its own id')
    t.same(a.violations, [])
    t.same(b.violations, [])
  })

  t.test('a query id still wins over anonymous', async (t) => {
    const server = await startServer(t, { allowAnonymous: true })
    const a = await connect(server.url({ userId: 'carol' }))
    t.equal(a.all('connected')[0].userId, 'carol')
  })

  t.test('no identity: missing_user_id, then close 1002', async (t) => {
    const server = await startServer(t)
    const c = await open(server.url())
    const error = await c.next('error')
    t.equal(error.code, 'missing_user_id')
    t.type(error.message, 'string')
    t.equal((await c.closed).code, 1002)
    t.same(c.all('connected'), [], 'never announced as connected')
    t.equal(await server.app.connections.count(), 0)
    t.same(c.violations, [])
  })

  t.test('an invalid query id is no identity', async (t) => {
    const server = await startServer(t)
    const c = await open(server.url({ userId: 'x'.repeat(201) }))
    t.equal((await c.next('error')).code, 'missing_user_id')
    t.equal((await c.closed).code, 1002)
  })

  t.test('the connected frame', async (t) => {
    const server = await startServer(t, { heartbeat: { interval: 5000, timeout: 12000 } })
    const a = await connect(server.url({ userId: 'alice' }))
    t.equal(a.frames[0].type, 'connected', 'connected is the first frame')
    const frame = a.frames[0]
    t.equal(frame.userId, 'alice')
    t.equal(frame.connectionId, server.app.connections.byUser('alice')[0].id)
    t.equal(new Date(frame.ts).toISOString(), frame.ts, 'ts is ISO-8601 UTC')
    t.same(frame.heartbeat, { interval: 5000, timeout: 12000 })
    const b = await connect(server.url({ userId: 'alice' }))
    t.not(b.frames[0].connectionId, frame.connectionId, 'connection ids are unique')
    t.same(a.violations, [])
  })
  t.end()
})

t.test('client → server types', async (t) => {
  t.test('subscribe replies subscribed with the ref, then the ack', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send({ type: 'subscribe', channel: 'room', ref: 's1' })
    const subscribed = await a.next('subscribed')
    t.same(subscribed, { type: 'subscribed', channel: 'room', ref: 's1' })
    t.same(await a.next('ack'), { type: 'ack', ref: 's1' })
    t.ok(await server.app.channels.isSubscribed(a.frames[0].connectionId, 'room'))
    t.same(a.violations, [])
  })

  t.test('unsubscribe replies unsubscribed', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    await a.request({ type: 'subscribe', channel: 'room' })
    a.send({ type: 'unsubscribe', channel: 'room', ref: 'u1' })
    t.same(await a.next('unsubscribed'), { type: 'unsubscribed', channel: 'room', ref: 'u1' })
    t.same(await a.next('ack'), { type: 'ack', ref: 'u1' })
    t.same(await server.app.channels.subscribers('room'), [])
    t.same(a.violations, [])
  })

  t.test('publish: from is the sender, never client input', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    const b = await connect(server.url({ userId: 'bob' }))
    await a.request({ type: 'subscribe', channel: 'room' })
    await b.request({ type: 'subscribe', channel: 'room' })
    const ack = await a.request({ type: 'publish', channel: 'room', data: { n: 1 }, from: 'mallory' })
    t.equal(ack.type, 'ack')
    for (const client of [a, b]) {
      const [msg] = await received(client, 'message')
      t.match(msg, { channel: 'room', from: 'alice', data: { n: 1 } })
      t.equal(new Date(msg.ts).toISOString(), msg.ts)
    }
    t.same(a.violations, [])
    t.same(b.violations, [])
  })

  t.test('direct reaches every connection of the target, from the sender', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    const tab1 = await connect(server.url({ userId: 'bob' }))
    const tab2 = await connect(server.url({ userId: 'bob' }))
    t.equal((await a.request({ type: 'direct', to: 'bob', data: 'psst', from: 'mallory' })).type, 'ack')
    for (const tab of [tab1, tab2]) t.match(await tab.next('direct'), { from: 'alice', data: 'psst' })
    await roundTrip(a)
    t.same(a.all('direct'), [], 'the sender is not a recipient')
    for (const c of [a, tab1, tab2]) t.same(c.violations, [])
  })

  t.test('direct: the target is validated like every name', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    for (const [what, to] of [['a control character', 'bo\u0001b'], ['10 KB', 'b'.repeat(10_000)], ['empty', '']]) {
      const reply = await a.request({ type: 'direct', to, data: 'psst' })
      t.match(reply, { type: 'error', code: 'invalid_message' }, what)
      t.match(reply.details, [{ path: '/to' }], `${what}: names /to`)
    }
    t.same(a.violations, [])
  })

  t.test('group reaches members; non-members are forbidden', async (t) => {
    const server = await startServer(t)
    await server.app.groups.add('alice', 'team')
    await server.app.groups.add('bob', 'team')
    const a = await connect(server.url({ userId: 'alice' }))
    const b = await connect(server.url({ userId: 'bob' }))
    const outsider = await connect(server.url({ userId: 'eve' }))
    t.equal((await a.request({ type: 'group', group: 'team', data: { hi: 1 }, from: 'mallory' })).type, 'ack')
    t.match(await b.next('group'), { group: 'team', from: 'alice', data: { hi: 1 } })
    const denied = await outsider.request({ type: 'group', group: 'team', data: 'x' })
    t.match(denied, { type: 'error', code: 'forbidden' })
    await roundTrip(b)
    t.equal(b.all('group').length, 1, 'the denied message was not delivered')
    for (const c of [a, b, outsider]) t.same(c.violations, [])
  })

  t.test('broadcast is denied by default', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    const b = await connect(server.url({ userId: 'bob' }))
    t.match(await a.request({ type: 'broadcast', data: 'all' }), { type: 'error', code: 'forbidden' })
    await roundTrip(b)
    t.same(b.all('broadcast'), [])
    t.same(a.violations, [])
  })

  t.test('broadcast reaches everyone when permitted', async (t) => {
    const server = await startServer(t, { permissions: { broadcast: true } })
    const a = await connect(server.url({ userId: 'alice' }))
    const b = await connect(server.url({ userId: 'bob' }))
    t.equal((await a.request({ type: 'broadcast', data: 'all', from: 'mallory' })).type, 'ack')
    for (const c of [a, b]) t.match(await received(c, 'broadcast'), [{ from: 'alice', data: 'all' }])
    t.same(a.violations, [])
    t.same(b.violations, [])
  })

  t.test('presence updates status and meta', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    t.match(await server.app.presence.get('alice'), { status: 'online' })
    const ack = await a.request({ type: 'presence', status: 'away', meta: { mood: 'busy day' } })
    t.equal(ack.type, 'ack')
    t.match(await server.app.presence.get('alice'), { userId: 'alice', status: 'away', meta: { mood: 'busy day' } })
    t.equal((await a.request({ type: 'presence', status: 'in-a-meeting' })).type, 'ack', 'app-defined status')
    t.match(await server.app.presence.get('alice'), { status: 'in-a-meeting', meta: { mood: 'busy day' } })
    t.same(a.violations, [])
  })

  t.test('heartbeat echoes ts and adds serverTs', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send({ type: 'heartbeat', ts: 'client-1', ref: 'h1' })
    const hb = await a.next('heartbeat_ack')
    t.equal(hb.ts, 'client-1')
    t.equal(new Date(hb.serverTs).toISOString(), hb.serverTs)
    t.same(await a.next('ack'), { type: 'ack', ref: 'h1' })
    a.send({ type: 'heartbeat', ts: 1234 })
    t.equal((await a.next('heartbeat_ack')).ts, 1234, 'numeric ts echoed as a number')
    a.send({ type: 'heartbeat' })
    const bare = await a.next('heartbeat_ack')
    t.notOk('ts' in bare, 'no ts sent, none echoed')
    t.same(a.violations, [])
  })

  t.test('disconnect: ack, then close 1000', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send({ type: 'disconnect', ref: 'bye' })
    t.same(await a.next('ack'), { type: 'ack', ref: 'bye' })
    t.equal((await a.closed).code, 1000)
    await until(async () => (await server.app.connections.count()) === 0, 2000, 'the connection to unregister')
    t.same(a.violations, [])
  })
  t.end()
})

t.test('refs', async (t) => {
  t.test('a ref gets exactly one ack', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send({ type: 'subscribe', channel: 'room', ref: 'once' })
    a.send({ type: 'publish', channel: 'room', data: 1, ref: 'twice?' })
    await a.next((f) => f.type === 'ack' && f.ref === 'twice?')
    await roundTrip(a)
    t.same(answers(a, 'once'), [{ type: 'ack', ref: 'once' }])
    t.same(answers(a, 'twice?'), [{ type: 'ack', ref: 'twice?' }])
    t.same(a.violations, [])
  })

  t.test('a ref gets exactly one error, and no ack', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send({ type: 'publish', channel: 'room', data: 1, ref: 'bad' })
    await a.next((f) => f.type === 'error' && f.ref === 'bad')
    await roundTrip(a)
    const replies = answers(a, 'bad')
    t.equal(replies.length, 1)
    t.match(replies[0], { type: 'error', code: 'not_subscribed', ref: 'bad' })
    t.same(a.violations, [])
  })

  t.test('without a ref success is silent, failure is not', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send({ type: 'subscribe', channel: 'room' })
    a.send({ type: 'publish', channel: 'room', data: 'x' })
    a.send({ type: 'presence', status: 'away' })
    await roundTrip(a)
    t.same(a.all('ack'), [], 'no ack without a ref')
    t.same(a.all('error'), [])
    t.same(a.all('subscribed'), [{ type: 'subscribed', channel: 'room' }], 'the reply itself still comes, without ref')
    t.equal(a.all('message').length, 1)
    a.send({ type: 'unsubscribe', channel: 'nowhere' })
    const error = await nextError(a)
    t.equal(error.code, 'not_subscribed')
    t.notOk('ref' in error)
    t.same(a.violations, [])
  })

  t.test('numeric refs are echoed as numbers', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send({ type: 'subscribe', channel: 'room', ref: 42 })
    t.same(await a.next('subscribed'), { type: 'subscribed', channel: 'room', ref: 42 })
    t.same(await a.next('ack'), { type: 'ack', ref: 42 })
    a.send({ type: 'unsubscribe', channel: 'nowhere', ref: 0 })
    t.match(await nextError(a), { code: 'not_subscribed', ref: 0 })
    await roundTrip(a)
    t.equal(answers(a, 42).length, 1)
    t.same(a.violations, [])
  })

  t.test('a 64-character ref is accepted', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    const ref = 'r'.repeat(64)
    a.send({ type: 'heartbeat', ref })
    t.same(await a.next('ack'), { type: 'ack', ref })
  })

  t.test('invalid refs are invalid_message', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    for (const ref of [{ id: 1 }, 'r'.repeat(65), true, [1]]) {
      a.send({ type: 'heartbeat', ref })
      const error = await nextError(a)
      t.equal(error.code, 'invalid_message', `ref ${JSON.stringify(ref)}`)
      t.ok(detailsAreWellFormed(error.details))
      t.equal(error.details[0].path, '/ref')
    }
    await roundTrip(a)
    t.equal(a.all('heartbeat_ack').length, 1, 'messages with invalid refs were not handled')
    t.same(a.all('ack'), [])
    t.same(a.violations, [])
  })
  t.end()
})

t.test('error codes', async (t) => {
  t.test('invalid_json keeps the connection open', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.send('{"type": "subscribe", ')
    const error = await nextError(a)
    t.equal(error.code, 'invalid_json')
    t.type(error.message, 'string')
    t.equal((await a.request({ type: 'subscribe', channel: 'room' })).type, 'ack', 'still served afterwards')
    t.same(a.violations, [])
  })

  t.test('non-object JSON is invalid_message', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    for (const frame of ['[1,2]', '"subscribe"', 'null', '{"channel":"x"}', '{"type":7}']) {
      a.send(frame)
      const error = await nextError(a)
      t.equal(error.code, 'invalid_message', frame)
      t.ok(detailsAreWellFormed(error.details))
    }
    t.equal((await a.request({ type: 'heartbeat' })).type, 'ack')
    t.same(a.violations, [])
  })

  t.test('invalid_message carries details {path, message}', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    const cases: Array<[string, Record<string, unknown>]> = [
      ['no channel', { type: 'subscribe' }],
      ['201-character channel', { type: 'subscribe', channel: 'c'.repeat(201) }],
      ['empty channel', { type: 'subscribe', channel: '' }],
      ['control character', { type: 'subscribe', channel: 'room\u0007' }],
      ['DEL character', { type: 'publish', channel: 'ro\u007fom', data: 1 }],
      ['channel of the wrong type', { type: 'unsubscribe', channel: 12 }],
      ['meta that is not an object', { type: 'subscribe', channel: 'room', meta: [1] }],
      ['echo that is not a boolean', { type: 'subscribe', channel: 'room', echo: 'yes' }]
    ]
    for (const [name, message] of cases) {
      const error = await a.request(message)
      t.equal(error.code, 'invalid_message', name)
      t.ok(detailsAreWellFormed(error.details), `${name}: details`)
      const paths = error.details.map((d: { path: string }) => d.path)
      const field = name.includes('meta') ? '/meta' : name.includes('echo') ? '/echo' : '/channel'
      t.ok(paths.includes(field), `${name}: details name ${field} (got ${paths.join(', ')})`)
    }
    t.equal((await a.request({ type: 'subscribe', channel: 'c'.repeat(200) })).type, 'ack', '200 characters is fine')
    t.same(await server.app.channels.subscribedChannels(server.app.connections.byUser('alice')[0]), ['c'.repeat(200)],
      'no invalid subscription was made')
    t.same(a.violations, [])
  })

  t.test('unknown_type', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    t.match(await a.request({ type: 'teleport' }), { type: 'error', code: 'unknown_type' })
    a.send({ type: 'teleport' })
    t.equal((await nextError(a)).code, 'unknown_type', 'without a ref too')
    t.equal((await a.request({ type: 'heartbeat' })).type, 'ack')
    t.same(a.violations, [])
  })

  t.test('binary frames are invalid_message', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    a.ws.send(Buffer.from(JSON.stringify({ type: 'subscribe', channel: 'room', ref: 'bin' })), { binary: true })
    const error = await nextError(a)
    t.equal(error.code, 'invalid_message')
    await roundTrip(a)
    t.same(a.all('subscribed'), [], 'the binary frame was not handled')
    t.equal((await a.request({ type: 'subscribe', channel: 'room' })).type, 'ack')
    t.same(a.violations, [])
  })

  t.test('not_subscribed', async (t) => {
    const server = await startServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    const b = await connect(server.url({ userId: 'bob' }))
    await b.request({ type: 'subscribe', channel: 'room' })
    t.match(await a.request({ type: 'publish', channel: 'room', data: 1 }), { type: 'error', code: 'not_subscribed' })
    t.match(await a.request({ type: 'unsubscribe', channel: 'room' }), { type: 'error', code: 'not_subscribed' })
    await a.request({ type: 'subscribe', channel: 'room' })
    await a.request({ type: 'unsubscribe', channel: 'room' })
    t.match(await a.request({ type: 'unsubscribe', channel: 'room' }), { type: 'error', code: 'not_subscribed' },
      'a second unsubscribe')
    await roundTrip(b)
    t.same(b.all('message'), [], 'the refused publish was not delivered')
    t.same(a.violations, [])
  })

  t.test('forbidden by channel policy', async (t) => {
    const server = await startServer(t, { channels: { policies: { 'private:*': { subscribe: false } } } })
    const a = await connect(server.url({ userId: 'alice' }))
    t.match(await a.request({ type: 'subscribe', channel: 'private:ops' }), { type: 'error', code: 'forbidden' })
    t.same(await server.app.channels.subscribers('private:ops'), [])
    t.equal((await a.request({ type: 'subscribe', channel: 'public' })).type, 'ack')
    t.same(a.violations, [])
  })

  t.test('too_large subscription meta', async (t) => {
    const server = await startServer(t, { maxMetaBytes: 64 })
    const a = await connect(server.url({ userId: 'alice' }))
    const error = await a.request({ type: 'subscribe', channel: 'room', meta: { pad: 'x'.repeat(100) } })
    t.match(error, { type: 'error', code: 'too_large' })
    t.same(await server.app.channels.subscribers('room'), [], 'no subscription made')
    t.equal((await a.request({ type: 'subscribe', channel: 'room', meta: { pad: 'x' } })).type, 'ack')
    t.same(await server.app.channels.subscribers('room'),
      [{ connectionId: a.frames[0].connectionId, userId: 'alice', meta: { pad: 'x' }, nodeId: server.app.hauyna.nodeId }])
    t.same(a.violations, [])
  })

  t.test('internal_error from a throwing handler keeps the connection open', async (t) => {
    const reported: Error[] = []
    const server = await startServer(t, {}, (app) => {
      app.events.on('explode', { schema: Type.Object({}) }, () => { throw new Error('kaboom') })
      app.events.on('explode_later', { schema: Type.Object({}) }, async () => { throw new Error('later') })
      app.events.on('error', (err) => { reported.push(err) })
    })
    const a = await connect(server.url({ userId: 'alice' }))
    const sync = await a.request({ type: 'explode' })
    t.match(sync, { type: 'error', code: 'internal_error' })
    t.notMatch(sync.message, /kaboom/, 'internal details are not leaked')
    t.match(await a.request({ type: 'explode_later' }), { type: 'error', code: 'internal_error' })
    t.equal((await a.request({ type: 'subscribe', channel: 'room' })).type, 'ack', 'still served afterwards')
    await until(() => reported.length === 2, 2000, 'both errors to be reported')
    t.same(reported.map((e) => e.message), ['kaboom', 'later'])
    t.same(a.violations, [])
  })
  t.end()
})

t.test('app message types', async (t) => {
  const Chat = Type.Object({ room: Type.String({ minLength: 1 }), text: Type.String(), urgent: Type.Optional(Type.Boolean()) })

  async function chatServer (t: Test) {
    const handled: Array<{ room: string, text: string, urgent: boolean | undefined }> = []
    const server = await startServer(t, {}, (app) => {
      app.events.on('chat_message', { schema: Chat }, async (conn, msg) => {
        // Typed from the schema: these assignments fail `tsc` if inference breaks.
        const room: string = msg.room
        const text: string = msg.text
        const urgent: boolean | undefined = msg.urgent
        // @ts-expect-error not a field of the schema
        void msg.nope
        handled.push({ room, text, urgent })
        // A reply with a protocol frame (PROTOCOL.md has no app-defined server types).
        conn.send({ type: 'direct', from: null, data: { echo: text.toUpperCase() }, ts: new Date().toISOString() })
      })
    })
    return { server, handled }
  }

  t.test('a valid message reaches its handler with typed fields', async (t) => {
    const { server, handled } = await chatServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    t.equal((await a.request({ type: 'chat_message', room: 'lobby', text: 'hello', urgent: true })).type, 'ack')
    t.same(handled, [{ room: 'lobby', text: 'hello', urgent: true }])
    t.match(await received(a, 'direct'), [{ from: null, data: { echo: 'HELLO' } }], 'the handler replied via conn.send')
    a.send({ type: 'chat_message', room: 'lobby', text: 'quiet' })
    await received(a, 'direct', 2)
    await roundTrip(a)
    t.equal(a.all('ack').length, 1, 'no ack without a ref')
    t.same(a.violations, [])
  })

  t.test('a schema failure is invalid_message with details; the handler is not called', async (t) => {
    const { server, handled } = await chatServer(t)
    const a = await connect(server.url({ userId: 'alice' }))
    const missing = await a.request({ type: 'chat_message', room: 'lobby' })
    t.match(missing, { type: 'error', code: 'invalid_message' })
    t.ok(detailsAreWellFormed(missing.details))
    t.ok(missing.details.some((d: { path: string }) => d.path === '/text'))
    const wrong = await a.request({ type: 'chat_message', room: '', text: 'x', urgent: 'very' })
    t.equal(wrong.code, 'invalid_message')
    const paths = wrong.details.map((d: { path: string }) => d.path)
    t.ok(paths.includes('/room') && paths.includes('/urgent'), `details name both fields (got ${paths.join(', ')})`)
    t.same(handled, [])
    t.same(a.violations, [])
  })

  t.test('built-in types cannot be redeclared', async (t) => {
    const server = await startServer(t)
    t.throws(() => server.app.events.on('publish', { schema: Type.Object({}) }, () => {}), { code: 'HAUYNA_RESERVED_TYPE' })
  })
  t.end()
})

t.test('a frame without a string type still gets its ref back on the error', async (t) => {
  const server = await startServer(t)
  const a = await connect(server.url({ userId: 'alice' }))
  a.send({ ref: 'no-type' })
  t.match(await a.next((f) => f.ref === 'no-type'), { type: 'error', code: 'invalid_message', details: [{ path: '/type' }] })
  a.send({ type: 7, ref: 8 })
  t.match(await a.next((f) => f.ref === 8), { type: 'error', code: 'invalid_message' })
  t.same(a.violations, [])
})
