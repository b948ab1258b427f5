import t from 'tap'
import type { Socket } from 'node:net'
import { Value } from '@sinclair/typebox/value'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import hauyna, { type AdapterHealth } from '../lib/index'
import { StatsSchema } from '../lib/stats/stats'
import { DegradedResponse, HealthyResponse } from '../lib/routes/health'
import { connect, expectInvalidOptions, startServer, until } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'

/** A real adapter: the memory adapter, except that its health can be switched off. */
class SwitchableAdapter extends WrappedAdapter {
  state: 'up' | 'down' | 'broken' = 'up'

  constructor () { super('switchable') }

  override async health (): Promise<AdapterHealth> {
    if (this.state === 'broken') throw new Error('connection refused')
    return this.state === 'up' ? await this.inner.health() : { ok: false, reason: 'switched off' }
  }
}

async function health (http: string, path = '/health'): Promise<{ status: number, body: Record<string, any> }> {
  const response = await fetch(`${http}${path}`)
  return { status: response.status, body: await response.json() as Record<string, any> }
}

t.test('/ws/stats matches a known set of connected clients', async (t) => {
  const server = await startServer(t, {
    nodeId: 'node-a',
    stats: { detail: true },
    authenticate: (request) => {
      const { userId, group } = request.query as { userId: string, group?: string }
      return { id: userId, groups: group === undefined ? [] : [group] }
    }
  })
  const alice1 = await connect(server.url({ userId: 'alice', group: 'staff' }))
  const alice2 = await connect(server.url({ userId: 'alice', group: 'staff' }))
  const bob = await connect(server.url({ userId: 'bob', group: 'ops' }))
  const carol = await connect(server.url({ userId: 'carol' }))
  for (const c of [alice1, bob, carol]) await c.request({ type: 'subscribe', channel: 'lobby' })
  await alice2.request({ type: 'subscribe', channel: 'dev' })
  await bob.request({ type: 'subscribe', channel: 'dev' })
  await carol.request({ type: 'publish', channel: 'lobby', data: 'hi' })
  carol.send('{oops')
  await carol.next((f) => f.type === 'error' && f.code === 'invalid_json')
  await until(() => [alice1, bob, carol].every((c) => c.all('message').length === 1), 3000, 'the message fanned out')

  const response = await fetch(`${server.http}/ws/stats`)
  t.equal(response.status, 200)
  const stats = await response.json() as Record<string, any>
  t.ok(Value.Check(StatsSchema, stats), 'the body matches the TypeBox schema')
  t.match(stats, {
    nodeId: 'node-a',
    adapter: 'memory',
    connections: 4,
    users: 3,
    states: { connected: 4, idle: 0, disconnected: 0, reconnecting: 0, error: 0 },
    channels: { count: 2, top: [{ channel: 'lobby', subscribers: 3 }, { channel: 'dev', subscribers: 2 }] },
    groups: 2,
    presence: 3,
    // Each connection's user topic and `all`, plus lobby, dev, group:staff and group:ops.
    topics: 3 + 1 + 2 + 2,
    // 5 subscribes, 1 publish, 1 bad frame.
    messages: { in: 7 },
    errors: 1,
    rateLimited: 0,
    slowConsumers: 0,
    connectionsTotal: 4,
    cleanup: { processed: 0, errors: 0, retries: 0, overflow: 0, queueSize: 0, avgProcessTimeMs: 0 }
  })
  // connected ×4, subscribed ×5, ack ×6, message ×3, error ×1.
  t.equal(stats.messages.out, 4 + 5 + 6 + 3 + 1)
  t.ok(stats.uptime > 0 && stats.uptime < 60, `uptime in seconds (${stats.uptime})`)

  await bob.close()
  await until(async () => (await server.app.hauyna.stats()).cleanup.processed === 1, 3000, 'bob cleaned up')
  const after = await (await fetch(`${server.http}/ws/stats`)).json() as Record<string, any>
  t.match(after, {
    connections: 3,
    users: 2,
    groups: 1,
    presence: 2,
    channels: { count: 2, top: [{ channel: 'lobby', subscribers: 2 }, { channel: 'dev', subscribers: 1 }] },
    cleanup: { processed: 1, errors: 0, queueSize: 0 }
  })
  t.ok(after.cleanup.avgProcessTimeMs > 0, `cleanup time measured (${after.cleanup.avgProcessTimeMs} ms)`)
  t.ok(Value.Check(StatsSchema, after))
  for (const c of [alice1, alice2, bob, carol]) t.same(c.violations, [])
})

t.test('a stats hook guards /ws/stats', async (t) => {
  async function requireToken (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.headers.authorization !== 'Bearer ops-token') await reply.code(401).send({ error: 'unauthorized' })
  }
  const server = await startServer(t, { stats: { onRequest: requireToken } })
  await connect(server.url({ userId: 'alice' }))
  t.equal((await fetch(`${server.http}/ws/stats`)).status, 401, 'no credentials')
  t.equal((await fetch(`${server.http}/ws/stats`, { headers: { authorization: 'Bearer wrong' } })).status, 401, 'wrong credentials')
  const ok = await fetch(`${server.http}/ws/stats`, { headers: { authorization: 'Bearer ops-token' } })
  t.equal(ok.status, 200)
  t.match(await ok.json(), { connections: 1, users: 1 })
  t.equal((await fetch(`${server.http}/health`)).status, 200, '/health stays open for load balancers')

  const guarded = await startServer(t, {
    stats: {
      path: '/ops/stats',
      preHandler: [async (request, reply) => {
        if (request.headers['x-role'] !== 'admin') await reply.code(403).send({ error: 'forbidden' })
      }]
    }
  })
  t.equal((await fetch(`${guarded.http}/ops/stats`)).status, 403, 'a preHandler array works too')
  t.equal((await fetch(`${guarded.http}/ops/stats`, { headers: { 'x-role': 'admin' } })).status, 200)
  t.equal((await fetch(`${guarded.http}/ws/stats`)).status, 404, 'only at the configured path')
})

t.test('stats options are validated', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['onRequest not a function', { stats: { onRequest: 'token' } }, 'stats.onRequest'],
    ['preHandler array with a non-function', { stats: { preHandler: [async () => {}, 42] } }, 'stats.preHandler'],
    ['a misspelt hook', { stats: { onrequest: async () => {} } }, 'stats.onrequest'],
    ['stats a string', { stats: '/stats' }, 'stats']
  ]
  await expectInvalidOptions(t, cases)
})

t.test('/health is 503 DEGRADED, with the adapter\'s reason, while the adapter is unhealthy', async (t) => {
  const adapter = new SwitchableAdapter()
  const server = await startServer(t, { adapter })
  const ok = await health(server.http)
  t.equal(ok.status, 200)
  t.ok(Value.Check(HealthyResponse, ok.body))
  t.same(Object.keys(ok.body).sort(), ['status', 'timestamp', 'uptime'], 'no reason when healthy')
  t.equal(ok.body.status, 'OK')
  t.ok(!Number.isNaN(Date.parse(ok.body.timestamp)) && ok.body.timestamp.endsWith('Z'), 'ISO-8601 UTC timestamp')
  t.ok(ok.body.uptime >= 0)

  adapter.state = 'down'
  const down = await health(server.http)
  t.equal(down.status, 503)
  t.equal(down.body.status, 'DEGRADED')
  t.equal(down.body.reason, 'switched off', 'the adapter\'s reason')
  t.ok(Value.Check(DegradedResponse, down.body))

  adapter.state = 'broken'
  t.match(await health(server.http), { status: 503, body: { status: 'DEGRADED', reason: 'health check failed: connection refused' } },
    'a failing health check is unhealthy too, and says why')

  adapter.state = 'up'
  t.match(await health(server.http), { status: 200, body: { status: 'OK' } }, 'healthy again')
  const client = await connect(server.url({ userId: 'alice' }))
  t.equal((await client.request({ type: 'subscribe', channel: 'c' })).type, 'ack', 'the custom adapter carries traffic')
})

t.test('/health is 503 DEGRADED while the server drains', async (t) => {
  // Fastify would answer 503 on its own while closing; turned off, the route itself answers.
  const app = Fastify({ logger: false, return503OnClosing: false })
  await app.register(hauyna, { closeTimeout: 2000, health: { path: '/status' } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const http = `http://127.0.0.1:${port}`
  t.equal((await health(http, '/status')).status, 200)

  // A client that stops reading never answers the close frame, so the drain lasts closeTimeout.
  const client = await connect(`ws://127.0.0.1:${port}/ws?userId=alice`)
  const socket = (client.ws as unknown as { _socket: Socket })._socket
  socket.pause()
  const conn = app.connections.byUser('alice')[0]
  const closing = app.close()
  await until(() => !conn.isOpen, 2000, 'shutdown began')
  const draining = await health(http, '/status')
  t.equal(draining.status, 503)
  t.match(draining.body, { status: 'DEGRADED', reason: 'draining' })
  t.ok(Value.Check(DegradedResponse, draining.body))
  socket.resume()
  await closing
  t.equal((await client.closed).code, 1001)
})
