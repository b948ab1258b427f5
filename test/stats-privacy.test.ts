import { Value } from '@sinclair/typebox/value'
import type { onRequestHookHandler } from 'fastify'
import t, { type Test } from 'tap'
import { StatsSchema } from '../lib/stats/stats'
import type { HauynaOptions } from '../lib/index'
import { connect, expectInvalidOptions, type Server, startServer } from './helpers'

const requireToken: onRequestHookHandler = async (request, reply) => {
  if (request.headers.authorization !== 'Bearer ops-token') await reply.code(401).send()
}
const withToken = { headers: { authorization: 'Bearer ops-token' } }

/** bob in `private:bob` and carol with dave in `dm:carol:dave`, each connection with meta. */
async function startPopulated (t: Test, options: HauynaOptions): Promise<Server> {
  const server = await startServer(t, { ...options, authenticate: (request) => ({ id: (request.query as { as: string }).as, meta: { plan: 'pro' } }) })
  for (const [user, channel] of [['bob', 'private:bob'], ['carol', 'dm:carol:dave'], ['dave', 'dm:carol:dave']]) {
    const client = await connect(server.url({ as: user }))
    await client.request({ type: 'subscribe', channel })
  }
  return server
}

async function statsText (server: Server, path = '/ws/stats', init: RequestInit = {}): Promise<string> {
  const response = await fetch(`${server.http}${path}`, init)
  if (response.status !== 200) throw new Error(`GET ${path}: ${response.status}`)
  return response.text()
}

t.test('by default /ws/stats has counts but no channel names nor meta keys', async (t) => {
  const server = await startPopulated(t, {})
  const text = await statsText(server)
  const stats = JSON.parse(text)
  t.ok(Value.Check(StatsSchema, stats), 'the body matches the schema')
  t.same(stats.channels, { count: 2 }, 'a channel count, no names')
  t.same(stats.connectionMeta, { connections: 3 }, 'a count of connections with meta, no keys')
  t.match(stats, { connections: 3, users: 3, states: { connected: 3 }, presence: 3, endpoints: [{ path: '/ws', connections: 3 }] })
  t.notOk(/bob|carol|dave|plan/.test(text), 'no user, channel or meta key is named anywhere')
})

t.test('a stats hook, or detail: true (a validated boolean), brings the names back', async (t) => {
  const guarded = await startPopulated(t, { stats: { onRequest: requireToken } })
  t.equal((await fetch(`${guarded.http}/ws/stats`)).status, 401, 'the hook guards it')
  const detailed = JSON.parse(await statsText(guarded, '/ws/stats', withToken))
  t.same(detailed.channels.top, [{ channel: 'dm:carol:dave', subscribers: 2 }, { channel: 'private:bob', subscribers: 1 }])
  t.same(detailed.connectionMeta.keys, [{ key: 'plan', connections: 3 }])

  const preHandler = await startPopulated(t, { stats: { preHandler: [async () => {}] } })
  t.equal(JSON.parse(await statsText(preHandler)).channels.top.length, 2, 'a preHandler counts as a guard')

  const optedIn = await startPopulated(t, { stats: { detail: true } })
  t.equal(JSON.parse(await statsText(optedIn)).channels.top.length, 2, 'detail: true without a hook')

  const optedOut = await startPopulated(t, { stats: { onRequest: requireToken, detail: false } })
  t.same(JSON.parse(await statsText(optedOut, '/ws/stats', withToken)).channels, { count: 2 }, 'detail: false wins over the hook')
  await expectInvalidOptions(t, [['stats.detail a string', { stats: { detail: 'yes' } }, 'stats.detail']])

  const server = await startPopulated(t, {})
  t.equal((await server.app.hauyna.stats()).channels.top?.length, 2, 'fastify.hauyna.stats() is server-side: full detail')
})

t.test('a closing connection counts as disconnected, not connected', async (t) => {
  const server = await startServer(t)
  await connect(server.url({ userId: 'alice' }))
  await connect(server.url({ userId: 'bob' }))
  const [alice] = server.app.connections.byUser('alice')
  alice.close(1000, 'bye')
  // Counted at once, before the peer's close frame comes back: alice is still registered, but closing.
  const stats = await server.app.hauyna.stats()
  t.match(stats, { connections: 1, users: 1, states: { connected: 1, idle: 0, disconnected: 1 } })
})
