import t from 'tap'
import { type Client, connect, expectInvalidOptions, refusal, startServer } from './helpers'

// A rolling deploy's drain (`fastify.hauyna.drain()`, the `drain` option): upgrades are refused
// before authenticate, every client is told to reconnect and closed with 1001 at that time.

const DRAIN_MS = 300

/** A server whose `authenticate` counts its calls. */
async function countingServer (t: Parameters<typeof startServer>[0], options: Parameters<typeof startServer>[1] = {}) {
  const calls = { authenticate: 0 }
  const server = await startServer(t, {
    ...options,
    authenticate: (request) => {
      calls.authenticate++
      return { id: (request.query as { userId: string }).userId }
    }
  })
  return { server, calls }
}

/** The `reconnect` frame, then the close: what every client of a draining node sees. */
async function handedOff (t: Parameters<typeof startServer>[0], client: Client, timeout: number): Promise<void> {
  const { after } = await client.next('reconnect', 5000)
  t.ok(Number.isInteger(after) && after >= 0 && after < timeout, `after is in [0, ${timeout}): ${after}`)
  t.same(await client.closed, { code: 1001, reason: 'server draining' }, 'then 1001')
  t.equal(client.frames.at(-1)?.type, 'reconnect', 'the last frame before the close')
  t.same(client.violations, [])
}

t.test('drain(): upgrades get 503 with Retry-After before authenticate; every client gets reconnect, then 1001', async (t) => {
  const { server, calls } = await countingServer(t, { upgradeRetryAfter: 3 })
  const clients = await Promise.all(['alice', 'bob', 'carol'].map((userId) => connect(server.url({ userId }))))
  const before = calls.authenticate

  const drained = server.app.hauyna.drain({ timeout: DRAIN_MS })
  const refused = await refusal(server.url({ userId: 'dave' }))
  t.equal(refused.status, 503, 'a new upgrade is refused')
  t.equal(refused.retryAfter, '3', 'with Retry-After (upgradeRetryAfter)')
  t.match(refused.body, { code: 'HAUYNA_DRAINING', statusCode: 503 })
  t.equal(calls.authenticate, before, 'before authenticate ran')
  const health = await server.app.inject({ method: 'GET', url: '/health' })
  t.equal(health.statusCode, 503, '/health says so to the load balancer')

  for (const client of clients) await handedOff(t, client, DRAIN_MS)
  await drained
  t.equal(await server.app.connections.count(), 0, 'drain() resolves with every connection gone')
  t.equal((await refusal(server.url({ userId: 'erin' }))).status, 503, 'the node stays drained')
  const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /ws_errors_total\{code="draining"\} 2\b/, 'refusals counted in ws_errors_total')
})

t.test('drain() without a timeout takes the drain option\'s; a second call shares the first one\'s drain', async (t) => {
  const { server } = await countingServer(t, { drain: { timeout: DRAIN_MS } })
  const client = await connect(server.url({ userId: 'alice' }))
  const first = server.app.hauyna.drain()
  const second = server.app.hauyna.drain({ timeout: 0 })
  await handedOff(t, client, DRAIN_MS)
  await Promise.all([first, second])
  t.equal(await server.app.connections.count(), 0)
})

t.test('close() with drain.timeout hands the clients off first; without it, closes them at once as before', async (t) => {
  const { server: draining } = await countingServer(t, { drain: { timeout: DRAIN_MS } })
  const clients = await Promise.all(['alice', 'bob'].map((userId) => connect(draining.url({ userId }))))
  const closing = draining.stop()
  const late = await refusal(draining.url({ userId: 'carol' }))
  t.equal(late.status, 503, 'an upgrade during the hand-off is answered (Fastify\'s 503 while closing), not left hanging')
  for (const client of clients) await handedOff(t, client, DRAIN_MS)
  await closing

  const { server: prompt } = await countingServer(t)
  const client = await connect(prompt.url({ userId: 'alice' }))
  await prompt.stop()
  t.same(await client.closed, { code: 1001, reason: 'server shutting down' })
  t.equal(client.count('reconnect'), 0, 'no reconnect frame')
})

t.test('drain and drain() are checked', async (t) => {
  await expectInvalidOptions(t, [
    ['a number', { drain: 1000 }, 'drain'],
    ['a negative timeout', { drain: { timeout: -1 } }, 'drain.timeout'],
    ['a fractional timeout', { drain: { timeout: 1.5 } }, 'drain.timeout'],
    ['an unknown key', { drain: { timout: 1000 } }, 'drain.timout']
  ])
  const { server } = await countingServer(t)
  await t.rejects(server.app.hauyna.drain({ timeout: -1 }), { code: 'HAUYNA_INVALID_OPTION', message: /drain\.timeout/ })
  t.equal((await server.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'a refused drain() does not drain')
})
