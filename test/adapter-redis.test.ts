import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Redis } from 'ioredis'
import hauyna, { type Adapter, redisAdapter } from '../lib/index'
import { adapterContract, entry, RecordingNode } from './adapter-contract'
import { delay, expectInvalidOption, until } from './helpers'
import { keysUnder, rawRedis, REDIS_URL, requireRedis, skipRedis, testPrefix } from './redis-helpers'

async function started (t: Test, adapter: Adapter, nodeId?: string): Promise<RecordingNode> {
  const node = new RecordingNode(nodeId)
  await adapter.init(node)
  t.teardown(() => adapter.close())
  return node
}

t.test('redisAdapter options are validated', async (t) => {
  const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' })
  t.teardown(() => prefixed.disconnect())
  const cases: Array<[string, unknown, string]> = [
    ['no options', undefined, 'redisAdapter'],
    ['neither url nor client', {}, 'redisAdapter.url'],
    ['both url and client', { url: REDIS_URL, client: prefixed }, 'redisAdapter.url'],
    ['an empty url', { url: '' }, 'redisAdapter.url'],
    ['a url of the wrong type', { url: 6379 }, 'redisAdapter.url'],
    ['an ioredis keyPrefix in url options', { url: { host: '127.0.0.1', keyPrefix: 'app:' } }, 'redisAdapter.url.keyPrefix'],
    ['a client that is not ioredis', { client: { publish () {} } }, 'redisAdapter.client'],
    ['a client with an ioredis keyPrefix', { client: prefixed }, 'redisAdapter.client'],
    ['an empty keyPrefix', { url: REDIS_URL, keyPrefix: '' }, 'redisAdapter.keyPrefix'],
    ['a nodeTtl too short', { url: REDIS_URL, nodeTtl: 50 }, 'redisAdapter.nodeTtl'],
    ['a fractional nodeTtl', { url: REDIS_URL, nodeTtl: 1000.5 }, 'redisAdapter.nodeTtl'],
    ['a nodeTtl string', { url: REDIS_URL, nodeTtl: '15000' }, 'redisAdapter.nodeTtl'],
    ['a maxOutgoingMessages of 0', { url: REDIS_URL, maxOutgoingMessages: 0 }, 'redisAdapter.maxOutgoingMessages'],
    ['a maxOutgoingBytes string', { url: REDIS_URL, maxOutgoingBytes: '1mb' }, 'redisAdapter.maxOutgoingBytes'],
    ['an unknown option', { url: REDIS_URL, ttl: 1000 }, 'redisAdapter.ttl']
  ]
  for (const [what, options, name] of cases) {
    expectInvalidOption(t, what, t.throws(() => redisAdapter(options as never), what) as Error, name)
  }
})

t.test('redis adapter against a real Redis', { skip: skipRedis }, async (t) => {
  if (!requireRedis(t)) return

  t.test('the contract', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    await adapterContract(t, 'redis', () => redisAdapter({ url: REDIS_URL, keyPrefix: prefix }), { shared: true })
    t.same(await keysUnder(redis, prefix), [], 'every node closed cleanly: no key is left under the prefix')
  })

  t.test('one pub/sub channel per topic, held while the node has local subscribers', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    await started(t, adapter)
    await adapter.subscribe('channel:lobby')
    await adapter.subscribe('user:alice')
    t.same((await redis.pubsub('CHANNELS', `${prefix}*`) as string[]).sort(), [`${prefix}topic:channel:lobby`, `${prefix}topic:user:alice`])
    await adapter.unsubscribe('channel:lobby')
    t.same(await redis.pubsub('CHANNELS', `${prefix}*`), [`${prefix}topic:user:alice`])
  })

  t.test('a message is a small header and the payload as it was, not re-encoded', async (t) => {
    const prefix = testPrefix(t)
    const listener = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const node = await started(t, adapter)
    const messages: string[] = []
    listener.on('message', (_channel: string, message: string) => messages.push(message))
    await listener.subscribe(`${prefix}topic:room`)
    const payload = JSON.stringify({ type: 'message', channel: 'room', data: { text: 'say "hi"' } })
    await adapter.publish('room', { payload, origin: 'conn-1' })
    await until(() => messages.length === 1, 2000, 'the message')
    t.equal(messages[0], `${node.nodeId.length}:${node.nodeId}6:conn-10:${payload}`)
  })

  t.test('the outgoing queue is bounded in messages and bytes: over it, a publish is local only', async (t) => {
    const prefix = testPrefix(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, maxOutgoingMessages: 2, maxOutgoingBytes: 200 })
    const node = await started(t, adapter)
    node.subscribers.set('room', 3)
    // Sent in one turn, so none is answered before the next: the first two fill the queue.
    const publishes = [1, 2, 3].map((n) => adapter.publish('room', { payload: `{"n":${n}}` }))
    const sent = `${node.nodeId.length}:${node.nodeId}0:0:{"n":1}`
    t.same(adapter.outgoing, { messages: 2, bytes: 2 * Buffer.byteLength(sent), dropped: 1 })
    t.equal(await publishes[0], 3)
    t.equal(await publishes[1], 3)
    await t.rejects(publishes[2], { code: 'HAUYNA_UNAVAILABLE', delivered: 3 }, 'over the message bound')
    await t.rejects(adapter.publish('room', { payload: JSON.stringify('x'.repeat(200)) }), { code: 'HAUYNA_UNAVAILABLE', delivered: 3 },
      'over the byte bound')
    t.equal(node.of('room').length, 4, 'every one delivered locally')
    await until(() => adapter.outgoing.messages === 0, 2000, 'Redis to answer')
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: 2 }, 'the answered ones left the queue')
  })

  t.test('presence keys live under the prefix, and go with the last entry', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const node = await started(t, adapter)
    await adapter.presence.set('alice', entry('a1'))
    t.same(await keysUnder(redis, prefix), [
      `${prefix}node:${node.nodeId}`, `${prefix}nodes`, `${prefix}presence:node:${node.nodeId}`,
      `${prefix}presence:owners`, `${prefix}presence:user:alice`, `${prefix}presence:users`
    ].sort())
    t.ok(await redis.pttl(`${prefix}node:${node.nodeId}`) <= 15_000, 'the liveness key expires (default nodeTtl)')
    await adapter.presence.remove('alice', 'a1')
    t.same(await keysUnder(redis, prefix), [`${prefix}node:${node.nodeId}`, `${prefix}nodes`])
  })

  t.test('entries Redis lost are still this node\'s: seen, counted and removed until written back', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    await started(t, adapter)
    await adapter.presence.set('alice', entry('a1'))
    await adapter.presence.set('alice', entry('a2'))
    await redis.del(...await keysUnder(redis, prefix))
    t.equal(await adapter.presence.remove('alice', 'a1'), 1, 'alice keeps a2: no leave')
    t.same((await adapter.presence.get('alice')).map((e) => e.connectionId), ['a2'], 'a2 is still seen here')
    t.equal(await adapter.presence.remove('alice', 'a2'), 0, 'then alice left')
    t.equal(await adapter.presence.remove('alice', 'a2'), -1, 'and a2 is gone')
  })

  t.test('the app\'s client: used for commands, duplicated for subscribing, never closed', async (t) => {
    const prefix = testPrefix(t)
    const client = new Redis(REDIS_URL)
    t.teardown(() => client.quit())
    const mine = redisAdapter({ client, keyPrefix: prefix })
    const other = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const myNode = await started(t, mine)
    const otherNode = await started(t, other)
    myNode.subscribers.set('room', 1)
    await mine.subscribe('room')
    await other.publish('room', { payload: '{"via":"the duplicate"}' })
    await until(() => myNode.of('room').length === 1, 2000, 'a message through the duplicated connection')
    t.equal(await mine.presence.set('alice', entry('a1')), 1)
    t.equal(await other.presence.count(), 1)
    await mine.close()
    t.equal(client.status, 'ready', 'the app\'s client is still open')
    t.equal(await client.ping(), 'PONG')
    t.equal(await other.presence.count(), 0, 'the closed node\'s entries are gone')
    t.equal(otherNode.deliveries.length, 1, 'the other node delivered its own publish once')
  })

  t.test('a node cut off from Redis longer than nodeTtl is purged by the others\' sweep', async (t) => {
    const prefix = testPrefix(t)
    const client = new Redis(REDIS_URL)
    const lost = redisAdapter({ client, keyPrefix: prefix, nodeTtl: 300 })
    const survivor = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, nodeTtl: 300 })
    await started(t, lost)
    await started(t, survivor)
    await lost.presence.set('alice', entry('a1'))
    await survivor.presence.set('bob', entry('b1'))
    t.same([...(await survivor.presence.all()).keys()].sort(), ['alice', 'bob'])
    client.disconnect()
    t.equal(await lost.healthy(), false, 'unhealthy without its connection')
    await until(async () => (await survivor.presence.get('alice')).length === 0, 3000, 'alice purged')
    t.same([...(await survivor.presence.all()).keys()], ['bob'], 'the live node\'s entries stay')
    t.equal(await survivor.presence.count(), 1)
    await delay(400)
    t.equal(await survivor.presence.count(), 1, 'a live node is never purged')
  })

  t.test('a node restarted under the same nodeId drops the entries of its previous run', async (t) => {
    const prefix = testPrefix(t)
    const client = new Redis(REDIS_URL)
    const before = redisAdapter({ client, keyPrefix: prefix })
    await started(t, before, 'fixed-node')
    await before.presence.set('alice', entry('a1'))
    client.disconnect()
    const after = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    await started(t, after, 'fixed-node')
    t.equal(await after.presence.count(), 0, 'the crashed run\'s connections are not present')
    t.equal(await after.presence.set('bob', entry('b1')), 1)
    t.same([...(await after.presence.all()).keys()], ['bob'])
  })

  t.test('scripts are sent again when Redis lost them (SCRIPT FLUSH, a restart)', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: { host: '127.0.0.1', port: 6379 }, keyPrefix: prefix })
    await started(t, adapter)
    t.equal(await adapter.presence.set('alice', entry('a1')), 1)
    await redis.script('FLUSH')
    t.equal(await adapter.presence.set('alice', entry('a2')), 2)
    t.equal(await adapter.presence.remove('alice', 'a1'), 1)
  })

  t.test('an unreachable Redis fails init, and leaves nothing open', async (t) => {
    const adapter = redisAdapter({ url: 'redis://127.0.0.1:1' })
    await t.rejects(adapter.init(new RecordingNode()), /ECONNREFUSED|Connection is closed/)
    t.equal(await adapter.healthy(), false)
    await adapter.close()

    const app = Fastify({ logger: false })
    await t.rejects(async () => { await app.register(hauyna, { adapter: redisAdapter({ url: 'redis://127.0.0.1:1' }) }).ready() },
      'the plugin does not start without its adapter')
    await app.close()
  })
})
