import t from 'tap'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import fastifyMetrics from 'fastify-metrics'
import parse from 'parse-prometheus-text-format'
import hauyna, { clientSchemas, type Envelope, ErrorCode, type HauynaOptions, serverSchemas } from '../lib/index'
import { unavailable } from '../lib/errors'
import { connect, expectInvalidOptions, open, startServer, until } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'

interface Series { name: string, labels: Record<string, string>, value: number }

/** One scrape of `/metrics`, read with a real Prometheus text-format parser. */
class Scrape {
  /** Metric families with their declared TYPE. */
  readonly types = new Map<string, string>()
  readonly series: Series[] = []

  constructor (readonly text: string) {
    for (const family of parse(text)) this.types.set(family.name, family.type)
    // The parser folds a labelled histogram into one unlabelled sample (its labels, sum and
    // count are lost), so a second pass reads histogram series as plain samples: the same
    // text with the histograms' TYPE lines removed.
    const untyped = text.split('\n').filter((line) => !/^# TYPE \S+ histogram$/.test(line)).join('\n')
    for (const family of parse(untyped)) {
      for (const sample of family.metrics) {
        this.series.push({ name: family.name, labels: sample.labels ?? {}, value: Number(sample.value) })
      }
    }
  }

  /** The sum of the series of `name` whose labels include `labels`; `undefined` when there is none. */
  value (name: string, labels: Record<string, string> = {}): number | undefined {
    const matching = this.series.filter((s) => s.name === name &&
      Object.entries(labels).every(([key, value]) => s.labels[key] === value))
    return matching.length === 0 ? undefined : matching.reduce((sum, s) => sum + s.value, 0)
  }
}

async function scrape (http: string, path = '/metrics'): Promise<Scrape> {
  const response = await fetch(`${http}${path}`)
  if (response.status !== 200) throw new Error(`GET ${path}: HTTP ${response.status}`)
  return new Scrape(await response.text())
}

const wsFamilies: Record<string, string> = {
  ws_connections_total: 'COUNTER',
  ws_connections_current: 'GAUGE',
  ws_clients_current: 'GAUGE',
  ws_messages_total: 'COUNTER',
  ws_errors_total: 'COUNTER',
  ws_message_size_bytes: 'HISTOGRAM',
  ws_latency_seconds: 'HISTOGRAM',
  ws_channels_current: 'GAUGE',
  ws_subscriptions_current: 'GAUGE',
  ws_groups_current: 'GAUGE',
  ws_presence_current: 'GAUGE',
  ws_send_buffer_drops_total: 'COUNTER',
  ws_rate_limited_total: 'COUNTER',
  ws_adapter_publish_failures_total: 'COUNTER',
  ws_cleanup_processed_total: 'COUNTER',
  ws_cleanup_errors_total: 'COUNTER',
  ws_cleanup_retries_total: 'COUNTER',
  ws_cleanup_overflow_total: 'COUNTER',
  ws_cleanup_queue_size: 'GAUGE',
  ws_cleanup_process_time_avg_seconds: 'GAUGE'
}

/** Every label value a `ws_*` series may carry: protocol words, never a user id or a channel name. */
const boundedValues = new Set<string>([
  'in', 'out', 'heartbeat', 'delivery', 'unknown', 'invalid', 'other', 'unauthorized',
  ...Object.keys(clientSchemas), ...Object.keys(serverSchemas), ...Object.values(ErrorCode)
])

function unboundedLabels (s: Scrape, declared: string[] = []): string[] {
  const allowed = new Set([...boundedValues, ...declared])
  const out: string[] = []
  for (const series of s.series) {
    if (!series.name.startsWith('ws_')) continue
    for (const [key, value] of Object.entries(series.labels)) {
      if (key === 'le' ? Number.isNaN(Number(value)) && value !== '+Inf' : !allowed.has(value)) out.push(`${series.name}{${key}="${value}"}`)
    }
  }
  return out
}

const ALICE = 'alice-3f9c'
const BOB = 'bob-7d21'
const ROOM = 'room-secret-91'

const authenticate: HauynaOptions['authenticate'] = (request) => {
  const { userId } = request.query as { userId?: string }
  if (userId === undefined) throw new Error('no user')
  return { id: userId }
}

t.test('the ws_* metrics move as traffic flows, with bounded labels', async (t) => {
  const server = await startServer(t, { authenticate, heartbeat: { interval: 50, timeout: 5000 } }, (app) => {
    app.get('/hello', async () => ({ hello: 'world' }))
  })
  const before = await scrape(server.http)
  for (const [name, type] of Object.entries(wsFamilies)) t.equal(before.types.get(name), type, `${name} is a ${type}`)
  t.equal(before.value('ws_connections_total'), 0)
  t.equal(before.value('ws_connections_current'), 0)
  t.equal(before.value('ws_messages_total'), undefined, 'no message series before any message')

  const alice1 = await connect(server.url({ userId: ALICE }))
  const alice2 = await connect(server.url({ userId: ALICE }))
  const bob = await connect(server.url({ userId: BOB }))
  for (const c of [alice1, alice2, bob]) t.equal((await c.request({ type: 'subscribe', channel: ROOM })).type, 'ack')
  t.equal((await alice1.request({ type: 'publish', channel: ROOM, data: 'hi' })).type, 'ack')
  // The publisher's copy may come before its ack: count frames rather than wait past the ack.
  await until(() => [alice1, alice2, bob].every((c) => c.all('message').length === 1), 3000, 'the message fanned out')
  t.equal((await bob.request({ type: 'direct', to: ALICE, data: 'psst' })).type, 'ack')
  await until(() => [alice1, alice2].every((c) => c.all('direct').length === 1), 3000, 'the direct delivered')
  t.equal((await bob.request({ type: 'heartbeat' })).type, 'ack')
  bob.send('not json')
  await bob.next((f) => f.type === 'error' && f.code === 'invalid_json')
  t.match(await bob.request({ type: 'bogus-type-x' }), { type: 'error', code: 'unknown_type' })
  const refused = await open(server.url()).catch((error: { statusCode?: number }) => error)
  t.match(refused, { statusCode: 401 }, 'an upgrade without identity is refused')
  t.equal((await fetch(`${server.http}/hello`)).status, 200)
  t.equal((await fetch(`${server.http}/ws/stats`)).status, 200)
  await until(async () => ((await scrape(server.http)).value('ws_latency_seconds_count', { kind: 'heartbeat' }) ?? 0) > 0,
    3000, 'a heartbeat round trip')

  const after = await scrape(server.http)
  const stats = await server.app.hauyna.stats()
  t.equal(after.value('ws_connections_total'), 3)
  t.equal(after.value('ws_connections_current'), 3)
  t.equal(after.value('ws_clients_current'), 2, 'unique users')
  const inbound = { subscribe: 3, publish: 1, direct: 1, heartbeat: 1, unknown: 1, invalid: 1 }
  for (const [type, n] of Object.entries(inbound)) t.equal(after.value('ws_messages_total', { direction: 'in', type }), n, `in ${type}`)
  t.equal(after.value('ws_messages_total', { direction: 'in' }), stats.messages.in, 'inbound total matches /ws/stats')
  // Outbound counts every recipient of a fan-out: 3 subscribers got the message, 2 connections the direct.
  const outbound = { connected: 3, subscribed: 3, ack: 6, message: 3, direct: 2, heartbeat_ack: 1, error: 2 }
  for (const [type, n] of Object.entries(outbound)) t.equal(after.value('ws_messages_total', { direction: 'out', type }), n, `out ${type}`)
  t.equal(after.value('ws_messages_total', { direction: 'out' }), stats.messages.out, 'outbound total matches /ws/stats')
  t.equal(after.value('ws_errors_total', { code: 'invalid_json' }), 1)
  t.equal(after.value('ws_errors_total', { code: 'unknown_type' }), 1)
  t.equal(after.value('ws_errors_total', { code: 'unauthorized' }), 1)

  // Inbound: every frame. Outbound: each direct send once, each fan-out once (not per recipient).
  t.equal(after.value('ws_message_size_bytes_count', { direction: 'in' }), 8)
  t.equal(after.value('ws_message_size_bytes_count', { direction: 'out' }), 15 + 2)
  t.ok((after.value('ws_message_size_bytes_sum', { direction: 'in' }) ?? 0) > 8 * 10, 'sizes are bytes')
  t.equal(after.value('ws_message_size_bytes_bucket', { direction: 'in', le: '+Inf' }), 8)
  t.equal(after.value('ws_latency_seconds_count', { kind: 'delivery' }), 2, 'one delivery observation per fan-out')
  t.ok((after.value('ws_latency_seconds_count', { kind: 'heartbeat' }) ?? 0) >= 1, 'heartbeat round trips observed')
  t.ok((after.value('ws_latency_seconds_sum', { kind: 'heartbeat' }) ?? -1) >= 0)

  t.equal(after.value('ws_subscriptions_current'), 3)
  t.equal(after.value('ws_channels_current'), 1)
  t.equal(after.value('ws_presence_current'), 2)
  t.equal(after.value('ws_groups_current'), 0)
  t.equal(after.value('ws_cleanup_processed_total'), 0)
  t.equal(after.value('ws_adapter_publish_failures_total'), 0, 'the memory adapter fails no publish')

  // fastify-metrics' HTTP route metrics still work, for the app's routes and the plugin's.
  t.equal(after.value('http_request_duration_seconds_count', { route: '/hello', method: 'GET', status_code: '200' }), 1)
  t.ok((after.value('http_request_duration_seconds_count', { route: '/ws/stats' }) ?? 0) >= 1)
  t.equal(after.value('http_request_duration_seconds_count', { route: '/ws' }), undefined, 'upgrades are not timed')

  // The registry's resetMetrics() empties the histograms too (the derived counters refill at the scrape).
  server.app.metrics.client.register.resetMetrics()
  const reset = await scrape(server.http)
  t.equal(reset.value('ws_message_size_bytes_count', { direction: 'in' }), 0)
  t.equal(reset.value('ws_message_size_bytes_bucket', { direction: 'out', le: '64' }), 0)
  t.equal(reset.value('ws_connections_total'), 3)
  t.ok(after.types.has('process_cpu_user_seconds_total'), 'Node.js process metrics')

  t.same(unboundedLabels(after), [], 'every ws_* label value is a protocol word')
  for (const secret of [ALICE, BOB, ROOM, 'bogus-type-x']) t.notOk(after.text.includes(secret), `"${secret}" appears nowhere`)

  await bob.close()
  await until(async () => (await scrape(server.http)).value('ws_cleanup_processed_total') === 1, 3000, 'bob cleaned up')
  const gone = await scrape(server.http)
  t.equal(gone.value('ws_connections_current'), 2)
  t.equal(gone.value('ws_clients_current'), 1)
  t.equal(gone.value('ws_connections_total'), 3, 'the total only grows')
  t.equal(gone.value('ws_subscriptions_current'), 2)
  t.equal(gone.value('ws_cleanup_queue_size'), 0)
  t.ok((gone.value('ws_cleanup_process_time_avg_seconds') ?? 0) > 0, 'cleanup time measured')
  for (const c of [alice1, alice2, bob]) t.same(c.violations, [])
})

t.test('declared app types are their own label; rate limits and slow consumers are counted', async (t) => {
  const server = await startServer(t, { rateLimit: { burst: 3, perSecond: 1, maxViolations: 100 }, maxBufferedBytes: 64 * 1024, closeTimeout: 200 },
    (app) => { app.events.on('typing', { schema: Type.Object({}) }, () => {}) })
  const alice = await connect(server.url({ userId: 'alice' }))
  t.equal((await alice.request({ type: 'typing' })).type, 'ack')
  for (let i = 0; i < 6; i++) alice.send({ type: 'heartbeat' })
  await until(() => alice.all('error').length >= 3, 3000, 'rate limited')

  const slow = await connect(server.url({ userId: 'slow' }))
  await server.app.channels.subscribe(server.app.connections.byUser('slow')[0], 'feed')
  ;(slow.ws as unknown as { _socket: Socket })._socket.pause()
  const payload = 'y'.repeat(16 * 1024)
  for (let i = 0; i < 2000 && server.app.connections.byUser('slow').length > 0; i++) {
    await server.app.channels.broadcastTo('feed', { i, payload })
    await new Promise((resolve) => setImmediate(resolve))
  }
  await until(() => server.app.connections.byUser('slow').length === 0, 5000, 'slow consumer dropped')

  const s = await scrape(server.http)
  const stats = await server.app.hauyna.stats()
  t.equal(s.value('ws_messages_total', { direction: 'in', type: 'typing' }), 1, 'a declared type is counted by name')
  t.ok(stats.rateLimited >= 3)
  t.equal(s.value('ws_rate_limited_total'), stats.rateLimited)
  t.equal(s.value('ws_errors_total', { code: 'rate_limited' }), stats.rateLimited, 'each refusal answered with rate_limited')
  t.equal(s.value('ws_send_buffer_drops_total'), 1)
  t.equal(stats.slowConsumers, 1)
  t.same(unboundedLabels(s, ['typing']), [], 'labels are protocol words and declared types')
  t.same(unboundedLabels(s), ['ws_messages_total{type="typing"}'], 'the check does see a label outside the protocol')
})

t.test('only pongs answering the server\'s pings are round trips; a codec\'s frames fan out as "other"', async (t) => {
  const server = await startServer(t, {
    heartbeat: { interval: 30_000, timeout: 60_000 },
    // An app-specific wire format: the frames' text no longer starts with a v1 type.
    codec: { encode: (message) => ({ kind: String(message.type).toUpperCase(), ...message }) }
  })
  const alice = await connect(server.url({ userId: 'alice' }))
  alice.ws.pong(Buffer.from('hello'))
  alice.ws.pong()
  const future = Buffer.alloc(8)
  future.writeDoubleBE(performance.now() + 60_000)
  alice.ws.pong(future)
  t.equal((await alice.request({ type: 'subscribe', channel: 'news' })).type, 'ack')
  await server.app.channels.broadcastTo('news', 'headline')
  await until(() => alice.frames.some((f) => f.kind === 'MESSAGE'), 3000, 'the encoded message')

  const s = await scrape(server.http)
  t.equal(s.value('ws_latency_seconds_count', { kind: 'heartbeat' }), 0, 'no round trip from unsolicited pongs (every series is exported from the start)')
  t.equal(s.value('ws_latency_seconds_count', { kind: 'delivery' }), 1)
  t.equal(s.value('ws_messages_total', { direction: 'out', type: 'other' }), 1, 'the encoded fan-out')
  t.equal(s.value('ws_messages_total', { direction: 'out', type: 'ack' }), 1, 'direct sends are counted by their v1 type')
  t.same(unboundedLabels(s), [])
})

/** A real adapter: the memory adapter, except that each publish, once delivered here, fails as `failure` says. */
class IsolatedAdapter extends WrappedAdapter {
  failure: 'unavailable' | 'broken' = 'unavailable'

  constructor () { super('isolated') }

  override async publish (topic: string, envelope: Envelope): Promise<number> {
    const delivered = await this.inner.publish(topic, envelope)
    throw this.failure === 'unavailable' ? unavailable(delivered) : new Error('adapter bug')
  }
}

t.test('ws_adapter_publish_failures_total counts each publish that reached this node only, whoever published it', async (t) => {
  const adapter = new IsolatedAdapter()
  const server = await startServer(t, { adapter, channels: { policies: { lobby: { presence: true } } } })
  const failures = async (): Promise<number | undefined> => (await scrape(server.http)).value('ws_adapter_publish_failures_total')
  const alice = await connect(server.url({ userId: 'alice' }))
  t.equal((await alice.request({ type: 'subscribe', channel: 'room' })).type, 'ack')
  t.equal(await failures(), 0)

  t.match(await alice.request({ type: 'publish', channel: 'room', data: 'hi' }), { type: 'error', code: 'unavailable' }, 'a client\'s publish')
  await t.rejects(server.app.channels.broadcastTo('room', 'news'), { code: 'HAUYNA_UNAVAILABLE', delivered: 1 }, 'a service call')
  t.equal(await failures(), 2)
  t.equal((await alice.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack', 'a presence diff, which fails nothing')
  t.equal(await failures(), 3)

  adapter.failure = 'broken'
  await t.rejects(server.app.channels.broadcastTo('room', 'news'), { message: 'adapter bug' }, 'any other failure reaches the caller as it was')
  t.equal(await failures(), 3, 'and is not counted')
  t.equal(alice.all('message').length, 3, 'each of those publishes was delivered here')
})

t.test('an app that registered fastify-metrics itself keeps its endpoint and registry', async (t) => {
  const app = Fastify({ logger: false })
  // The app's own registration: prom-client's global registry, its own metric, its own options.
  await app.register(fastifyMetrics, { endpoint: '/metrics' })
  const register = app.metrics.client.register
  new app.metrics.client.Counter({ name: 'app_orders_total', help: 'orders placed' }).inc(2)
  await app.register(hauyna)
  app.get('/orders', async () => ({ orders: 2 }))
  await app.listen({ port: 0, host: '127.0.0.1' })
  let closed = false
  t.teardown(async () => { if (!closed) await app.close() })
  const { port } = app.server.address() as { port: number }
  const http = `http://127.0.0.1:${port}`

  const client = await connect(`ws://127.0.0.1:${port}/ws?userId=alice`)
  t.equal((await client.request({ type: 'subscribe', channel: 'news' })).type, 'ack')
  t.equal((await fetch(`${http}/orders`)).status, 200)

  const s = await scrape(http)
  t.equal(s.value('app_orders_total'), 2, "the app's own metric")
  t.equal(s.value('http_request_duration_seconds_count', { route: '/orders' }), 1, "the app's route metrics")
  t.ok(s.types.has('process_cpu_user_seconds_total'), "the app's default metrics")
  t.equal(s.value('ws_connections_current'), 1, 'and the plugin metrics, on the same endpoint')
  t.equal(s.value('ws_messages_total', { direction: 'in', type: 'subscribe' }), 1)
  t.equal(s.types.get('ws_latency_seconds'), 'HISTOGRAM')

  await app.close()
  closed = true
  t.equal(register.getSingleMetric('ws_connections_total'), undefined, 'the plugin takes its metrics out of the app registry on close')
  t.not(register.getSingleMetric('app_orders_total'), undefined, "the app's metrics stay")
  register.clear()
})

t.test('two instances in one process each get their own registry', async (t) => {
  const a = await startServer(t)
  const b = await startServer(t)
  await connect(a.url({ userId: 'alice' }))
  const [sa, sb] = await Promise.all([scrape(a.http), scrape(b.http)])
  t.equal(sa.value('ws_connections_total'), 1)
  t.equal(sb.value('ws_connections_total'), 0)
  t.ok(sa.types.has('http_request_duration_seconds') && sb.types.has('http_request_duration_seconds'))
})

t.test('metrics.path moves the endpoint; metrics: false removes it', async (t) => {
  const moved = await startServer(t, { metrics: { path: '/internal/prom' } })
  t.equal((await fetch(`${moved.http}/metrics`)).status, 404)
  t.equal((await scrape(moved.http, '/internal/prom')).value('ws_connections_current'), 0)

  const off = await startServer(t, { metrics: false })
  t.equal((await fetch(`${off.http}/metrics`)).status, 404)
  t.equal(off.app.hasDecorator('metrics'), false, 'fastify-metrics is not registered')
  const client = await connect(off.url({ userId: 'alice' }))
  t.equal((await client.request({ type: 'heartbeat' })).type, 'ack', 'everything else works without metrics')
  t.equal((await off.app.hauyna.stats()).messages.in, 1)
})

t.test('metrics options are validated', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['metrics.path without a slash', { metrics: { path: 'metrics' } }, 'metrics.path'],
    ['metrics a string', { metrics: 'on' }, 'metrics'],
    ['metrics true', { metrics: true }, 'metrics']
  ]
  await expectInvalidOptions(t, cases)

  const app = Fastify({ logger: false })
  app.decorate('metrics', { something: 'else' } as never)
  const error = await app.register(hauyna).ready().then(() => undefined, (e: Error & { code?: string }) => e)
  await app.close().catch(() => {})
  t.equal(error?.code, 'HAUYNA_INVALID_OPTION', 'a foreign "metrics" decorator is refused')
  t.match(error?.message, /"metrics".*metrics: false/)
})
