import { Type } from '@sinclair/typebox'
import t from 'tap'
import type { HauynaError } from '../lib/client/index'
import { BrowserLikeWebSocket, createClient, deadUrl, nextEvent, record, untilState } from './client-helpers'
import { connect, startServer, until } from './helpers'

const fast = { baseDelay: 20, maxDelay: 80, backoffMultiplier: 2, jitter: 0 }

t.test('server restarted on the same port: backoff, resubscribe, queued messages once and in order', async (t) => {
  const server = await startServer(t)
  const alice = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const bob = createClient(t, server.url({ userId: 'bob' }), { retry: fast })
  const states = record(alice, 'state')
  const retries = record(alice, 'retry')
  const disconnects = record(alice, 'disconnected')
  const confirmations = record(alice, 'subscribed')
  const seenByAlice: unknown[] = []
  const seenByBob: unknown[] = []
  // Alice hears her own publishes (echo), so her stream shows exactly what the server accepted, in order.
  const aliceRoom = alice.subscribe('room', (m) => seenByAlice.push(m.data))
  const bobRoom = bob.subscribe('room', (m) => seenByBob.push(m.data))
  await Promise.all([alice.start(), bob.start(), aliceRoom.subscribed, bobRoom.subscribed])
  const firstConnection = alice.connectionId
  await alice.publish('room', 'before')
  await until(() => seenByAlice.length === 1 && seenByBob.length === 1, 2000, 'the first message')

  await server.stop()
  await untilState(alice, 'reconnecting')
  t.match(disconnects[0][0], { code: 1001, willReconnect: true }, 'the server said it was shutting down')
  const queued = [1, 2, 3, 4, 5].map((n) => alice.publish('room', n))
  t.equal(alice.status().queueSize, 5, 'sent while down: queued')
  // Let several attempts fail against the closed port, so the backoff shows.
  await until(() => retries.length >= 4, 5000, 'four reconnection attempts')

  await server.restart()
  await untilState(alice, 'open', 5000)
  await untilState(bob, 'open', 5000)
  await Promise.all(queued)
  t.equal(alice.status().queueSize, 0)
  t.not(alice.connectionId, firstConnection, 'a new connection on the new server')
  t.same(retries.slice(0, 4).map(([r]) => r), [
    { attempt: 1, delay: 20 }, { attempt: 2, delay: 40 }, { attempt: 3, delay: 80 }, { attempt: 4, delay: 80 }
  ], 'delays follow the policy: 20 × 2^n capped at 80')
  t.equal(alice.status().retryCount, 0, 'the count resets once open')

  // Bob's resubscription is on the server before this is published: he hears it.
  await until(async () => (await server.app.channels.subscribers('room')).length === 2, 3000, 'both resubscribed')
  await alice.publish('room', 'after')
  await until(() => seenByAlice.includes('after') && seenByBob.includes('after'), 3000, 'the last message')
  t.same(seenByAlice, ['before', 1, 2, 3, 4, 5, 'after'], 'queued messages arrived once each, in order, before later ones')
  t.same(seenByBob.slice(-1), ['after'], 'bob was resubscribed too')
  t.same(states.map(([to]) => to), ['connecting', 'open', 'reconnecting', 'open'])
  t.same(confirmations.map(([frame]) => frame.channel), ['room', 'room'], 'a subscribed event on each server')
})

t.test('a socket that goes silent is detected by the client heartbeat and replaced', async (t) => {
  // The server's own heartbeat is slow to give up, so only the client can notice in time.
  const server = await startServer(t, { heartbeat: { interval: 1000, timeout: 60_000 }, closeTimeout: 100 })
  const client = createClient(t, server.url({ userId: 'alice' }), {
    heartbeat: { interval: 40, timeout: 250 },
    retry: fast
  })
  const received: unknown[] = []
  client.subscribe('room', (m) => received.push(m.data))
  await client.start()
  await until(() => client.health().rtt !== undefined, 2000, 'a first heartbeat_ack')
  const first = client.connectionId as string
  const conn = server.app.connections.get(first)
  t.ok(conn, 'the server-side connection')

  const lost = nextEvent(client, 'disconnected')
  // The server stops reading this socket: no heartbeat_ack, no frame at all comes back, and no close frame.
  conn?.socket.pause()
  const [info] = await lost
  t.match(info, { code: 4000, reason: 'heartbeat timeout', willReconnect: true })
  await until(() => client.state === 'open' && client.connectionId !== first, 3000, 'a new connection')
  conn?.socket.resume()

  await client.publish('room', 'still here')
  await until(() => received.length === 1, 2000, 'the message on the new connection')
  t.same(received, ['still here'], 'resubscribed on the new connection')
})

t.test('a socket killed without a close frame is reconnected', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  await client.start()
  await client.presence('busy')
  const first = client.connectionId as string
  const lost = nextEvent(client, 'disconnected')
  server.app.connections.get(first)?.socket.terminate()
  t.match((await lost)[0], { code: 1006, willReconnect: true })
  await until(() => client.state === 'open' && client.connectionId !== first, 3000, 'a new connection')
  await until(async () => (await server.app.presence.get('alice'))?.status === 'busy', 2000, 'presence restored')
  t.equal((await server.app.presence.get('alice'))?.status, 'busy', 'the last presence is sent again after a reconnect')
})

t.test('requests written to a socket that dies reject with connection_lost', async (t) => {
  const release: Array<() => void> = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('slow', { schema: Type.Object({}) }, () => new Promise<void>((resolve) => { release.push(resolve) }))
  })
  t.teardown(() => { for (const r of release) r() })
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  await client.start()
  const pending = client.send('slow', {})
  await until(() => release.length === 1, 2000, 'the handler to hold the request')
  server.app.connections.get(client.connectionId as string)?.socket.terminate()
  const error = await pending.catch((e: HauynaError) => e) as HauynaError
  t.match(error, { code: 'connection_lost', sent: true, closeCode: 1006 }, 'at most once: not resent')
  await untilState(client, 'open')
})

t.test('maxAttempts exhausted: reconnect_failed, closed, queued messages rejected', async (t) => {
  const url = await deadUrl(t)
  const client = createClient(t, url, { retry: { ...fast, maxAttempts: 3 } })
  const retries = record(client, 'retry')
  const failed = nextEvent(client, 'reconnect_failed')
  const queued = client.publish('room', 'never')
  const start = await client.start().catch((e: HauynaError) => e) as HauynaError
  t.same((await failed)[0], { attempts: 3 })
  t.equal(start.code, 'reconnect_failed', 'start() rejects with the reason')
  t.equal(retries.length, 3)
  t.equal(client.state, 'closed')
  t.match(client.status(), { started: false, maxRetriesReached: true, retryCount: 3, queueSize: 0 })
  await t.rejects(queued, { code: 'reconnect_failed', sent: false })
  await t.rejects(client.publish('room', 'later'), { code: 'closed' }, 'a closed client refuses sends until start()')
})

t.test('maxAttempts 0 gives up at the first failure', async (t) => {
  const client = createClient(t, await deadUrl(t), { retry: { maxAttempts: 0 } })
  const retries = record(client, 'retry')
  await t.rejects(client.start(), { code: 'reconnect_failed' })
  t.same(retries, [])
})

t.test('start() after a failure tries again, with the subscriptions', async (t) => {
  const server = await startServer(t)
  const url = server.url({ userId: 'alice' })
  await server.stop()
  const client = createClient(t, url, { retry: { ...fast, maxAttempts: 1 } })
  const received: unknown[] = []
  client.subscribe('room', (m) => received.push(m.data))
  await t.rejects(client.start(), { code: 'reconnect_failed' })
  await server.restart()
  await client.start()
  await client.publish('room', 'again')
  await until(() => received.length === 1, 2000, 'the message')
  t.same(received, ['again'])
})

t.test('no reconnection after 1008 (too many connections for the user)', async (t) => {
  let upgrades = 0
  const server = await startServer(t, { maxConnectionsPerUser: 1 }, (app) => {
    app.addHook('onRequest', async (request) => { if (request.url.startsWith('/ws')) upgrades++ })
  })
  await connect(server.url({ userId: 'alice' }))
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const errors = record(client, 'error')
  const retries = record(client, 'retry')
  const error = await client.start().catch((e: HauynaError) => e) as HauynaError
  t.match(error, { code: 'policy_violation', closeCode: 1008 })
  t.match(error.message, /too many connections/, 'the close reason is kept')
  t.equal(client.state, 'closed')
  t.same(retries, [])
  t.equal(upgrades, 2, 'one upgrade for each client, none retried')
  t.same(errors.map(([e]) => e.code), ['forbidden', 'policy_violation'], "the server's error frame, then the verdict")
})

t.test('no reconnection after an auth failure (HTTP 401 on the upgrade)', async (t) => {
  let attempts = 0
  const server = await startServer(t, { authenticate: () => { attempts++; throw new Error('bad token') } })
  const client = createClient(t, server.url({ token: 'x' }), { retry: fast })
  const disconnects = record(client, 'disconnected')
  const error = await client.start().catch((e: HauynaError) => e) as HauynaError
  t.match(error, { code: 'unauthorized', status: 401 })
  t.equal(attempts, 1)
  t.equal(client.status().retryCount, 0)
  t.match(disconnects, [[{ status: 401, willReconnect: false }]])
})

t.test('no reconnection after HTTP 403 on the upgrade', async (t) => {
  const server = await startServer(t, { authenticate: () => { throw Object.assign(new Error('banned'), { statusCode: 403 }) } })
  const client = createClient(t, server.url(), { retry: fast })
  await t.rejects(client.start(), { code: 'upgrade_forbidden', status: 403 })
  t.equal(client.state, 'closed')
})

t.test('other HTTP refusals are retried', async (t) => {
  let attempts = 0
  const server = await startServer(t, {
    authenticate: () => {
      if (++attempts < 3) throw Object.assign(new Error('warming up'), { statusCode: 503 })
      return { id: 'alice' }
    }
  })
  const client = createClient(t, server.url(), { retry: fast })
  const disconnects = record(client, 'disconnected')
  await client.start()
  t.equal(attempts, 3)
  t.match(disconnects.map(([d]) => d), [{ status: 503, willReconnect: true }, { status: 503, willReconnect: true }])
})

t.test('no reconnection after a normal close by the app (1000)', async (t) => {
  let upgrades = 0
  const server = await startServer(t, {}, (app) => {
    app.addHook('onRequest', async (request) => { if (request.url.startsWith('/ws')) upgrades++ })
  })
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const retries = record(client, 'retry')
  const errors = record(client, 'error')
  await client.start()
  const closed = nextEvent(client, 'state', (to) => to === 'closed')
  await server.app.connections.close(client.connectionId as string, 1000, 'bye')
  await closed
  t.match(client.status(), { state: 'closed', started: false, retryCount: 0 })
  t.same(retries, [])
  t.equal(upgrades, 1)
  t.match(errors.map(([e]) => e), [{ code: 'closed_by_server', closeCode: 1000, message: /: bye$/ }], 'surfaced as an error')
})

t.test('no reconnection after 1002 (no identity)', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url(), { retry: fast })
  const errors = record(client, 'error')
  await t.rejects(client.start(), { code: 'protocol_error', closeCode: 1002 })
  t.same(errors.map(([e]) => e.code), ['missing_user_id', 'protocol_error'])
})

t.test('retryBeforeFirstOpen: false fails at once where the cause cannot be told (browsers)', async (t) => {
  const client = createClient(t, await deadUrl(t), { retryBeforeFirstOpen: false, retry: fast })
  const retries = record(client, 'retry')
  const error = await client.start().catch((e: HauynaError) => e) as HauynaError
  t.match(error, { code: 'connect_failed', closeCode: 1006 })
  t.same(retries, [])
})

t.test('retryBeforeFirstOpen: false still reconnects once the client has been open', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }), { retryBeforeFirstOpen: false, retry: fast })
  await client.start()
  const first = client.connectionId as string
  server.app.connections.get(first)?.socket.terminate()
  await until(() => client.state === 'open' && client.connectionId !== first, 3000, 'a new connection')
  t.pass('reconnected')
})

t.test('an upgrade that never completes is given up after connectTimeout', async (t) => {
  const held: Array<() => void> = []
  const server = await startServer(t, {
    authenticate: () => new Promise((resolve) => { held.push(() => resolve({ id: 'late' })) })
  })
  t.teardown(() => { for (const release of held) release() })
  const client = createClient(t, server.url(), { connectTimeout: 100, retry: { ...fast, maxAttempts: 1 } })
  const disconnects = record(client, 'disconnected')
  await t.rejects(client.start(), { code: 'reconnect_failed' })
  t.equal(held.length, 2, 'the first attempt and one retry')
  t.match(disconnects.map(([d]) => d), [{ code: 1006, reason: 'connect timeout' }, { code: 1006, reason: 'connect timeout' }])
})

t.test('browser limitation: a 401 on the upgrade looks like an outage, so it is retried', async (t) => {
  let attempts = 0
  const server = await startServer(t, { authenticate: () => { attempts++; throw new Error('bad token') } })
  const client = createClient(t, server.url(), { WebSocket: BrowserLikeWebSocket, retry: { ...fast, maxAttempts: 2 } })
  const disconnects = record(client, 'disconnected')
  await t.rejects(client.start(), { code: 'reconnect_failed' })
  t.equal(attempts, 3, 'the first attempt and two retries: the status was never seen')
  t.match(disconnects.map(([d]) => d), Array(3).fill({ code: 1006, status: undefined }))
})

t.test('browser limitation: retryBeforeFirstOpen: false stops at the first refusal', async (t) => {
  let attempts = 0
  const server = await startServer(t, { authenticate: () => { attempts++; throw new Error('bad token') } })
  const client = createClient(t, server.url(), { WebSocket: BrowserLikeWebSocket, retryBeforeFirstOpen: false, retry: fast })
  await t.rejects(client.start(), { code: 'connect_failed', closeCode: 1006 })
  t.equal(attempts, 1)
})

t.test('a browser-like socket that goes silent is dropped with close() and replaced', async (t) => {
  const server = await startServer(t, { heartbeat: { interval: 1000, timeout: 60_000 } })
  const client = createClient(t, server.url({ userId: 'alice' }), {
    WebSocket: BrowserLikeWebSocket, heartbeat: { interval: 40, timeout: 250 }, retry: fast
  })
  await client.start()
  const first = client.connectionId as string
  const conn = server.app.connections.get(first)
  const lost = nextEvent(client, 'disconnected')
  conn?.socket.pause()
  t.match((await lost)[0], { code: 4000, reason: 'heartbeat timeout', willReconnect: true })
  await until(() => client.state === 'open' && client.connectionId !== first, 3000, 'a new connection')
  conn?.socket.resume()
  // The abandoned socket's close handshake now completes; it must not disturb the new connection.
  await until(() => server.app.connections.get(first) === undefined, 3000, 'the old connection to close')
  await client.subscribe('room', () => {}).subscribed
  t.equal(client.state, 'open')
  t.equal(client.connectionId === first, false)
})
