import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { HauynaClient, type HauynaError, type QueryParams } from '../lib/client/index'
import { createClient, cutAndReconnect, deadUrl, record } from './client-helpers'
import { delay, startServer, until } from './helpers'

// The url, params, protocols and webSocketOptions functions, called before every attempt:
// what the socket is given, and what happens when they fail, hang, or outlive a stop().

const fast = { baseDelay: 20, maxDelay: 80, backoffMultiplier: 2, jitter: 0 }

/** A promise settled from outside. */
function gate<T> (): { promise: Promise<T>, resolve: (value: T) => void, reject: (error: unknown) => void } {
  let resolve!: (value: T) => void
  let reject!: (error: unknown) => void
  const promise = new Promise<T>((res, rej) => { resolve = res; reject = rej })
  return { promise, resolve, reject }
}

/** A server that counts the upgrade requests it receives. */
async function countingServer (t: Test): Promise<{ url: (query: Record<string, string>) => string, upgrades: () => number }> {
  let upgrades = 0
  const server = await startServer(t, {}, (app) => {
    app.addHook('onRequest', async (request) => { if (request.url.startsWith('/ws')) upgrades++ })
  })
  return { url: (query) => server.url(query), upgrades: () => upgrades }
}

t.test('params are merged into the URL: set over the same name, undefined left out, values as strings', async (t) => {
  const queries: unknown[] = []
  const server = await startServer(t, {
    authenticate: (request) => { queries.push({ ...(request.query as object) }); return { id: 'alice' } }
  })
  const params = (): QueryParams => ({ token: 'new', n: 1, flag: true, skipped: undefined })
  const client = createClient(t, server.url({ keep: 'yes', token: 'old' }), { params })
  await client.start()
  t.same(queries, [{ keep: 'yes', token: 'new', n: '1', flag: 'true' }])
})

t.test('a url function: called before every attempt, its answer opened', async (t) => {
  const server = await startServer(t)
  let calls = 0
  const client = new HauynaClient(async () => server.url({ userId: `alice${++calls}` }), { WebSocket, retry: fast })
  t.teardown(async () => { await client.stop({ timeout: 500 }) })
  await client.start()
  t.equal(client.userId, 'alice1')
  await cutAndReconnect(server, client)
  t.equal(client.userId, 'alice2')
  t.equal(calls, 2)
})

t.test('a params function that rejects: an error event, a retry, then success', async (t) => {
  const server = await startServer(t)
  let calls = 0
  const client = createClient(t, server.url({ userId: 'alice' }), {
    params: async () => {
      if (++calls === 1) throw new Error('token service down')
      return { attempt: calls }
    },
    retry: fast
  })
  const errors = record(client, 'error')
  const retries = record(client, 'retry')
  const states = record(client, 'state')
  await client.start()
  t.equal(calls, 2, 'once per attempt')
  t.match(errors.map(([e]) => e), [{ code: 'connect_options_failed', message: /function failed: token service down$/ }])
  t.match(errors[0][0].cause, { message: 'token service down' }, 'the cause is the function\'s error')
  t.same(retries.map(([r]) => r), [{ attempt: 1, delay: 20 }], 'backed off like a failed connection')
  t.same(states.map(([to]) => to), ['connecting', 'reconnecting', 'open'])
})

t.test('a url function that throws synchronously (not even an Error) is retried too', async (t) => {
  const server = await startServer(t)
  let calls = 0
  const url = (): string => {
    if (++calls === 1) throw 'offline'
    return server.url({ userId: 'alice' })
  }
  const client = new HauynaClient(url, { WebSocket, retry: fast })
  t.teardown(async () => { await client.stop({ timeout: 500 }) })
  const errors = record(client, 'error')
  await client.start()
  t.equal(calls, 2)
  t.match(errors.map(([e]) => e), [{ code: 'connect_options_failed', message: /function failed: offline$/, cause: 'offline' }])
})

t.test('a function that keeps failing uses up the retry policy', async (t) => {
  let calls = 0
  const client = createClient(t, 'ws://127.0.0.1:9/ws', {
    params: () => { calls++; throw new Error('no token') },
    retry: { ...fast, maxAttempts: 2 }
  })
  const errors = record(client, 'error')
  await t.rejects(client.start(), { code: 'reconnect_failed' })
  t.equal(calls, 3, 'the first attempt and two retries')
  t.same(errors.map(([e]) => e.code), ['connect_options_failed', 'connect_options_failed', 'connect_options_failed', 'reconnect_failed'])
})

t.test('retryBeforeFirstOpen: false ends the client at the first failure', async (t) => {
  let calls = 0
  const client = createClient(t, 'ws://127.0.0.1:9/ws', {
    params: async () => { calls++; throw new Error('no token') },
    retryBeforeFirstOpen: false,
    retry: fast
  })
  const errors = record(client, 'error')
  const retries = record(client, 'retry')
  await t.rejects(client.start(), { code: 'connect_failed', message: /could not connect \(.*: no token\)/ })
  t.equal(calls, 1)
  t.same(retries, [])
  t.same(errors.map(([e]) => e.code), ['connect_options_failed', 'connect_failed'])
})

t.test('connectTimeout covers a function that hangs; its late answer is ignored', async (t) => {
  const server = await startServer(t)
  const late = gate<QueryParams>()
  let calls = 0
  const client = createClient(t, server.url({ userId: 'alice' }), {
    params: () => ++calls === 1 ? late.promise : {},
    connectTimeout: 100,
    retry: fast
  })
  const errors = record(client, 'error')
  await client.start()
  t.equal(calls, 2)
  t.match(errors.map(([e]) => e), [{ code: 'connect_options_failed', message: /no answer within connectTimeout \(100 ms\)$/ }])
  late.reject(new Error('too late'))
  await delay(50)
  t.equal(errors.length, 1, 'the late rejection is not reported')
  t.equal(client.state, 'open')
})

t.test('stop() while a function is pending: no socket is opened, then or when it answers', async (t) => {
  const server = await countingServer(t)
  const pending = [gate<QueryParams>(), gate<QueryParams>()]
  let calls = 0
  const client = createClient(t, server.url({ userId: 'alice' }), { params: () => pending[calls++].promise })
  const queued = client.publish('room', 'never')
  const started = client.start()
  t.equal(calls, 1)
  const stopped = Date.now()
  t.same(await client.stop({ timeout: 3000 }), { graceful: false, unsent: 1 })
  t.ok(Date.now() - stopped < 1000, 'stop() did not wait for the function')
  await t.rejects(queued, { code: 'stopped', sent: false })
  await t.rejects(started, { code: 'stopped' })
  t.equal(client.state, 'closed')

  // A new run, opened by its own answer; the first answer, arriving now, opens nothing.
  const again = client.start()
  pending[1].resolve({})
  await again
  pending[0].resolve({})
  await delay(100)
  t.equal(server.upgrades(), 1, 'one socket: the second run\'s')
  t.equal(calls, 2)
})

t.test('stop() during the backoff: the next attempt\'s pending function ends it', async (t) => {
  let calls = 0
  const url = await deadUrl(t, { userId: 'alice' })
  const client = createClient(t, url, { params: async () => { calls++; return {} }, retry: { ...fast, baseDelay: 100, maxDelay: 100 } })
  const disconnects = record(client, 'disconnected')
  void client.start().catch(() => {})
  await until(() => disconnects.length === 1, 2000, 'the first attempt to fail')
  const stopped = Date.now()
  t.same(await client.stop({ timeout: 3000 }), { graceful: false, unsent: 0 })
  t.ok(Date.now() - stopped < 1000, 'over when the retry called the function, not at the timeout')
  t.equal(calls, 2, 'the first attempt and the retry')
  t.equal(disconnects.length, 1, 'the retry opened no socket')
})

t.test('what the WebSocket constructor refuses fails the client at once: nothing to retry', async (t) => {
  let calls = 0
  const relative = createClient(t, '/ws', { params: () => { calls++; return { token: 'x' } }, retry: fast })
  const error = await relative.start().catch((e: HauynaError) => e) as HauynaError
  t.match(error, { code: 'connect_failed', message: /^cannot open \/ws: / }, 'params need an absolute URL')
  t.equal(calls, 1)

  const server = await startServer(t)
  const spaced = createClient(t, server.url({ userId: 'alice' }), { protocols: ['bearer', 'not a token'], retry: fast })
  await t.rejects(spaced.start(), { code: 'connect_failed', cause: { name: 'SyntaxError' } }, 'a subprotocol must be an HTTP token')
})
