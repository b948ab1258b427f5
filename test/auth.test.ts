import type { FastifyRequest } from 'fastify'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { Client, connect, delay, LogSink, refusal, startServer, until } from './helpers'

/** Identity from an `x-user` header, with groups and meta from others. */
function headerIdentity (request: FastifyRequest) {
  const id = request.headers['x-user']
  if (typeof id !== 'string') return null
  const groups = typeof request.headers['x-groups'] === 'string' ? request.headers['x-groups'].split(',') : []
  return { id, groups, meta: { plan: 'pro', via: 'header' } }
}

/** Sends `messages` synchronously inside the 'open' event, before any frame has been read. */
function openAndSendAtOnce (url: string, messages: Array<Record<string, unknown>>, headers: Record<string, string> = {}): Client {
  const ws = new WebSocket(url, { headers })
  const client = new Client(ws)
  ws.once('open', () => { for (const m of messages) ws.send(JSON.stringify(m)) })
  return client
}

/** A subscribe followed by numbered publishes, every one with a ref. */
function burst (count: number): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [{ type: 'subscribe', channel: 'room', ref: 'sub' }]
  for (let i = 1; i <= count; i++) out.push({ type: 'publish', channel: 'room', data: { seq: i }, ref: `p${i}` })
  return out
}

/** Checks a `burst(count)` was processed in full and in order, nothing before `connected`. */
async function assertBurstProcessed (t: Test, client: Client, count: number): Promise<void> {
  await until(() => client.all('ack').length === count + 1, 3000, 'every message to be acked')
  t.equal(client.frames[0].type, 'connected', 'connected is still the first frame')
  t.same(client.all('ack').map((f) => f.ref), ['sub', ...Array.from({ length: count }, (_, i) => `p${i + 1}`)],
    'acks in the order sent')
  await until(() => client.all('message').length === count, 3000, 'every publish to be delivered')
  t.same(client.all('message').map((f) => f.data.seq), Array.from({ length: count }, (_, i) => i + 1),
    'messages in the order published')
  t.same(client.all('error'), [], 'nothing refused')
  t.same(client.violations, [])
}

t.test('authenticate gives the identity: id, groups, meta', async (t) => {
  const server = await startServer(t, { authenticate: headerIdentity })
  const alice = await connect(server.url(), { headers: { 'x-user': 'alice', 'x-groups': 'team,ops' } })
  const bob = await connect(server.url(), { headers: { 'x-user': 'bob', 'x-groups': 'team' } })
  const connected = alice.frames[0]
  t.equal(connected.userId, 'alice')
  const conn = server.app.connections.get(connected.connectionId)
  t.ok(conn, 'registered under the announced connection id')
  t.equal(conn?.userId, 'alice')
  t.same(conn?.meta, { plan: 'pro', via: 'header' }, 'conn.meta is the identity meta')
  t.ok(await server.app.groups.has('alice', 'team'))
  t.ok(await server.app.groups.has('alice', 'ops'))
  t.notOk(await server.app.groups.has('bob', 'ops'))

  // A member sending to the group reaches the other member; the server can send too.
  t.equal((await bob.request({ type: 'group', group: 'team', data: 'standup' })).type, 'ack')
  t.match(await alice.next('group'), { group: 'team', from: 'bob', data: 'standup' })
  t.equal(await server.app.groups.sendTo('ops', 'deploy'), 1, 'only alice is in ops')
  t.match(await alice.next('group'), { group: 'ops', from: null, data: 'deploy' })
  t.match(await bob.request({ type: 'group', group: 'ops', data: 'x' }), { type: 'error', code: 'forbidden' },
    'bob is not a member of ops')
  t.same(alice.violations, [])
  t.same(bob.violations, [])
})

t.test('authenticate failures are HTTP errors and no socket', async (t) => {
  t.test('throwing: 401', async (t) => {
    const sink = new LogSink('info')
    const server = await startServer(t, {
      authenticate: (request) => {
        if (request.headers.authorization !== 'Bearer good') throw new Error('bad token')
        return { id: 'alice' }
      }
    }, undefined, sink.logger)
    const refused = await refusal(server.url({ userId: 'alice' }), { authorization: 'Bearer bad' })
    t.equal(refused.status, 401)
    t.equal(refused.body.code, 'HAUYNA_UNAUTHORIZED')
    t.equal(refused.body.message, 'Unauthorized: bad token')
    t.match(sink.matching('websocket authentication failed', 30), [{ err: { message: 'bad token' } }],
      'one info line with the error')
    const stats = await server.app.hauyna.stats()
    t.equal(stats.connections, 0, 'no connection registered')
    t.equal(stats.connectionsTotal, 0, 'no connection was ever opened')
    // The same server accepts a good token, so the refusal was the token's doing.
    const ok = await connect(server.url(), { headers: { authorization: 'Bearer good' } })
    t.equal(ok.frames[0].userId, 'alice')
    t.same(ok.violations, [])
  })

  t.test('async throwing: 401', async (t) => {
    const server = await startServer(t, {
      authenticate: async () => { await delay(10); throw new Error('expired') }
    })
    t.equal((await refusal(server.url())).status, 401)
    t.equal((await server.app.hauyna.stats()).connectionsTotal, 0)
  })

  t.test('returning null or undefined: 401', async (t) => {
    let calls = 0
    const server = await startServer(t, {
      authenticate: async () => (++calls % 2 === 0 ? undefined : null)
    })
    t.equal((await refusal(server.url({ userId: 'alice' }))).status, 401)
    t.equal((await refusal(server.url({ userId: 'alice' }))).status, 401)
    t.equal(calls, 2)
    t.equal((await server.app.hauyna.stats()).connectionsTotal, 0)
  })

  t.test('an identity with an invalid id: 401', async (t) => {
    const server = await startServer(t, { authenticate: () => ({ id: '' }) })
    const refused = await refusal(server.url())
    t.equal(refused.status, 401)
    t.equal(refused.body.message, 'Unauthorized: invalid user id "": 1-200 characters without control or invisible characters')
    t.equal((await server.app.hauyna.stats()).connectionsTotal, 0)
  })

  t.test('an identity without a string id: 401, no identity', async (t) => {
    const sink = new LogSink('info')
    const server = await startServer(t, {
      // A JavaScript app may return a user record whose id is a number, or has no id at all.
      authenticate: (request) => ((request.query as { userId?: string }).userId === 'numeric' ? { id: 42 } : { name: 'alice' }) as never
    }, undefined, sink.logger)
    for (const query of [{ userId: 'numeric' }, {}] as Array<Record<string, string>>) {
      const refused = await refusal(server.url(query))
      t.equal(refused.status, 401)
      t.same([refused.body.code, refused.body.message], ['HAUYNA_UNAUTHORIZED', 'Unauthorized: no identity'])
    }
    t.equal(sink.matching('websocket authentication returned no identity', 30).length, 2, 'one info line each')
    t.equal((await server.app.hauyna.stats()).connectionsTotal, 0)
  })

  t.test('an error with its own statusCode keeps it: 403', async (t) => {
    const server = await startServer(t, {
      authenticate: () => { throw Object.assign(new Error('banned'), { statusCode: 403 }) }
    })
    const refused = await refusal(server.url({ userId: 'alice' }))
    t.equal(refused.status, 403)
    t.equal(refused.body.message, 'banned')
    t.equal((await server.app.hauyna.stats()).connections, 0)
  })

  t.test('the helper client also sees the status', async (t) => {
    const server = await startServer(t, { authenticate: () => null })
    const ws = new WebSocket(server.url())
    const client = new Client(ws)
    const status = await client.opened.then(() => 0, (err: { statusCode?: number }) => err.statusCode)
    t.equal(status, 401)
    ws.terminate()
  })
  t.end()
})

t.test('frames sent right after open are not lost', async (t) => {
  t.test('with a slow async authenticate', async (t) => {
    const server = await startServer(t, {
      authenticate: async (request) => {
        await delay(100)
        return headerIdentity(request)
      }
    })
    const reader = await connect(server.url(), { headers: { 'x-user': 'reader' } })
    await reader.request({ type: 'subscribe', channel: 'room' })
    const count = 10
    const client = openAndSendAtOnce(server.url(), burst(count), { 'x-user': 'alice' })
    await client.opened
    await assertBurstProcessed(t, client, count)
    await until(() => reader.all('message').length === count, 3000, 'the reader to get every message')
    t.same(reader.all('message').map((f) => f.from), Array(count).fill('alice'))
    t.same(reader.violations, [])
  })

  t.test('with a slow async connect handler', async (t) => {
    const count = 10
    const setupDone = new Set<string>()
    const handledAfterSetup: boolean[] = []
    const server = await startServer(t, {}, (app) => {
      app.events.on('connect', async (conn) => {
        // Count raw arrivals so the test knows the burst landed while setup was running.
        let arrived = 0
        conn.socket.on('message', () => { arrived++ })
        await delay(100)
        await until(() => arrived === count + 1, 2000, 'the burst to arrive during setup')
        setupDone.add(conn.id)
      })
      app.events.on('subscribe', (conn) => { handledAfterSetup.push(setupDone.has(conn.id)) })
    })
    const client = openAndSendAtOnce(server.url({ userId: 'alice' }), burst(count))
    await client.opened
    await assertBurstProcessed(t, client, count)
    t.same(handledAfterSetup, [true], 'the queued subscribe ran only after the connect handler finished')
  })

  t.test('queued frames keep their errors and refs', async (t) => {
    const server = await startServer(t, {}, (app) => {
      app.events.on('connect', async () => { await delay(100) })
    })
    const client = openAndSendAtOnce(server.url({ userId: 'alice' }), [
      { type: 'publish', channel: 'room', data: 0, ref: 'early' },
      { type: 'subscribe', channel: 'room', ref: 'sub' },
      { type: 'publish', channel: 'room', data: 1, ref: 'late' }
    ])
    await client.opened
    await until(() => client.all('ack').length + client.all('error').length === 3, 3000, 'three answers')
    t.same(client.frames.filter((f) => f.type === 'ack' || f.type === 'error').map((f) => [f.type, f.ref, f.code]),
      [['error', 'early', 'not_subscribed'], ['ack', 'sub', undefined], ['ack', 'late', undefined]],
      'processed in order: the publish before the subscribe is refused')
    t.same(client.violations, [])
  })
  t.end()
})

t.test("an app's own onRequest hook gates the upgrade", async (t) => {
  const server = await startServer(t, { authenticate: headerIdentity }, (app) => {
    app.addHook('onRequest', async (request, reply) => {
      if (request.url.startsWith('/ws') && request.headers['x-token'] !== 'secret') {
        return reply.code(401).send({ error: 'missing x-token' })
      }
    })
  })
  const refused = await refusal(server.url(), { 'x-user': 'alice' })
  t.equal(refused.status, 401)
  t.same(refused.body, { error: 'missing x-token' }, 'the app hook answered, not authenticate')
  t.equal((await refusal(server.url(), { 'x-user': 'alice', 'x-token': 'wrong' })).status, 401)
  t.equal((await server.app.hauyna.stats()).connectionsTotal, 0)

  const ok = await connect(server.url(), { headers: { 'x-user': 'alice', 'x-token': 'secret' } })
  t.equal(ok.frames[0].userId, 'alice')
  const health = await fetch(`${server.http}/health`)
  t.equal(health.status, 200, 'the hook only gates /ws')
  t.same(ok.violations, [])
})

t.test('a request decorator used inside authenticate (the @fastify/jwt shape)', async (t) => {
  // Stands in for @fastify/jwt's `request.jwtVerify()`: resolves the token's payload or
  // throws an error carrying statusCode 401.
  interface VerifyingRequest extends FastifyRequest { jwtVerify (): Promise<{ sub: string, groups: string[] }> }
  const server = await startServer(t, {
    authenticate: async (request) => {
      const payload = await (request as VerifyingRequest).jwtVerify()
      return { id: payload.sub, groups: payload.groups }
    }
  }, (app) => {
    app.decorateRequest('jwtVerify', async function (this: FastifyRequest) {
      const match = /^Bearer (\w+)\.signed$/.exec(this.headers.authorization ?? '')
      if (match === null) throw Object.assign(new Error('Authorization token is invalid'), { statusCode: 401 })
      return { sub: match[1], groups: ['staff'] }
    })
  })
  t.equal((await refusal(server.url(), { authorization: 'Bearer alice.forged' })).status, 401)
  const ok = await connect(server.url(), { headers: { authorization: 'Bearer alice.signed' } })
  t.equal(ok.frames[0].userId, 'alice')
  t.ok(await server.app.groups.has('alice', 'staff'))
  t.same(ok.violations, [])
})

t.test('query-string identity is ignored when authenticate is set', async (t) => {
  const server = await startServer(t, { authenticate: headerIdentity, allowAnonymous: true })
  const client = await connect(server.url({ userId: 'mallory', user_id: 'mallory' }), { headers: { 'x-user': 'alice' } })
  t.equal(client.frames[0].userId, 'alice')
  t.same(server.app.connections.byUser('mallory'), [])
  t.equal(server.app.connections.byUser('alice').length, 1)
  // Neither the query nor allowAnonymous stands in for a failed authenticate.
  t.equal((await refusal(server.url({ userId: 'mallory' }))).status, 401)
  t.same(client.violations, [])
})
