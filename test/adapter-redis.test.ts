import t, { type Test } from 'tap'
import Fastify from 'fastify'
import { Cluster, Redis } from 'ioredis'
import hauyna, { type Adapter, type Appended, redisAdapter } from '../lib/index'
import { adapterContract, entry, keeping, membership, RecordingNode } from './adapter-contract'
import { delay, expectInvalidOption, until, within } from './helpers'
import { HoldingProxy, keysUnder, rawRedis, REDIS_URL, requireRedis, skipRedis, testPrefix } from './redis-helpers'

async function started (t: Test, adapter: Adapter, nodeId?: string): Promise<RecordingNode> {
  const node = new RecordingNode(nodeId)
  await adapter.init(node)
  t.teardown(() => adapter.close())
  return node
}

t.test('redisAdapter options are validated', async (t) => {
  const prefixed = new Redis({ lazyConnect: true, keyPrefix: 'app:' })
  const cluster = new Cluster(['127.0.0.1:1'], { lazyConnect: true })
  const prefixedCluster = new Cluster(['127.0.0.1:1'], { lazyConnect: true, keyPrefix: 'app:' })
  t.teardown(() => { prefixed.disconnect(); cluster.disconnect(); prefixedCluster.disconnect() })
  const noop = (): void => {}
  const notIoredis = 'must be an ioredis Redis or Cluster instance'
  const nodes = ['127.0.0.1:7000']
  const badNodes = 'must be a non-empty array of \'host:port\' strings or { host, port } objects'
  const noKeyPrefix = 'is not supported; use the adapter\'s keyPrefix option'
  const noBraces = 'must not contain { or } on a Redis Cluster (the adapter sets the hash tags)'
  // [what, options, the option named, the reason given]
  const cases: Array<[string, unknown, string, string]> = [
    ['no options', undefined, 'redisAdapter', 'options must be an object with url, client or cluster'],
    ['options that are not an object', REDIS_URL, 'redisAdapter', 'must be an object'],
    ['null options', null, 'redisAdapter', 'must be an object'],
    ['neither url nor client', {}, 'redisAdapter.url', 'give exactly one of url, client or cluster'],
    ['both url and client', { url: REDIS_URL, client: prefixed }, 'redisAdapter.url', 'give exactly one of url, client or cluster'],
    ['both url and cluster', { url: REDIS_URL, cluster: { nodes } }, 'redisAdapter.url', 'give exactly one of url, client or cluster'],
    ['a cluster that is a string', { cluster: '127.0.0.1:7000' }, 'redisAdapter.cluster', 'must be an object'],
    ['a cluster without nodes', { cluster: {} }, 'redisAdapter.cluster.nodes', badNodes],
    ['a cluster with no node', { cluster: { nodes: [] } }, 'redisAdapter.cluster.nodes', badNodes],
    ['a cluster node that is an empty string', { cluster: { nodes: [''] } }, 'redisAdapter.cluster.nodes', badNodes],
    ['a cluster node without a port', { cluster: { nodes: [{ host: '127.0.0.1' }] } }, 'redisAdapter.cluster.nodes', badNodes],
    ['a cluster node with a port string', { cluster: { nodes: [{ host: '127.0.0.1', port: '7000' }] } }, 'redisAdapter.cluster.nodes', badNodes],
    ['an unknown cluster option', { cluster: { nodes, slots: 3 } }, 'redisAdapter.cluster.slots',
      'is not an option of redisAdapter.cluster (nodes, options)'],
    ['cluster options that are not an object', { cluster: { nodes, options: 'fast' } }, 'redisAdapter.cluster.options', 'must be an object'],
    ['an ioredis keyPrefix in cluster options', { cluster: { nodes, options: { keyPrefix: 'app:' } } },
      'redisAdapter.cluster.options.keyPrefix', noKeyPrefix],
    ['an ioredis keyPrefix in cluster redisOptions', { cluster: { nodes, options: { redisOptions: { keyPrefix: 'app:' } } } },
      'redisAdapter.cluster.options.redisOptions.keyPrefix', noKeyPrefix],
    ['a keyPrefix with a hash tag, on a cluster', { cluster: { nodes }, keyPrefix: '{app}:' }, 'redisAdapter.keyPrefix', noBraces],
    ['a keyPrefix with a brace, on an app\'s Cluster', { client: cluster, keyPrefix: 'app}' }, 'redisAdapter.keyPrefix', noBraces],
    ['an app\'s Cluster with an ioredis keyPrefix', { client: prefixedCluster }, 'redisAdapter.client',
      'must not have an ioredis keyPrefix; use the adapter\'s keyPrefix option'],
    ['an empty url', { url: '' }, 'redisAdapter.url', 'must be a non-empty string'],
    ['a url of the wrong type', { url: 6379 }, 'redisAdapter.url', 'must be an object'],
    ['an ioredis keyPrefix in url options', { url: { host: '127.0.0.1', keyPrefix: 'app:' } }, 'redisAdapter.url.keyPrefix', noKeyPrefix],
    ['a client that is not ioredis', { client: { publish () {} } }, 'redisAdapter.client', notIoredis],
    ['a null client', { client: null }, 'redisAdapter.client', notIoredis],
    ['a client without duplicate()', { client: { evalsha: noop, publish: noop } }, 'redisAdapter.client', notIoredis],
    ['a client without evalsha()', { client: { duplicate: noop, publish: noop } }, 'redisAdapter.client', notIoredis],
    ['a client without publish()', { client: { duplicate: noop, evalsha: noop } }, 'redisAdapter.client', notIoredis],
    ['a client with an ioredis keyPrefix', { client: prefixed }, 'redisAdapter.client',
      'must not have an ioredis keyPrefix; use the adapter\'s keyPrefix option'],
    ['an empty keyPrefix', { url: REDIS_URL, keyPrefix: '' }, 'redisAdapter.keyPrefix', 'must be a non-empty string'],
    ['a nodeTtl too short', { url: REDIS_URL, nodeTtl: 50 }, 'redisAdapter.nodeTtl', 'must be an integer >= 100, got 50'],
    ['a fractional nodeTtl', { url: REDIS_URL, nodeTtl: 1000.5 }, 'redisAdapter.nodeTtl', 'must be an integer >= 100'],
    ['a nodeTtl string', { url: REDIS_URL, nodeTtl: '15000' }, 'redisAdapter.nodeTtl', 'must be an integer >= 100'],
    ['a maxOutgoingMessages of 0', { url: REDIS_URL, maxOutgoingMessages: 0 }, 'redisAdapter.maxOutgoingMessages', 'must be an integer >= 1'],
    ['a maxOutgoingBytes string', { url: REDIS_URL, maxOutgoingBytes: '1mb' }, 'redisAdapter.maxOutgoingBytes', 'must be an integer >= 1'],
    ['an unknown option', { url: REDIS_URL, ttl: 1000 }, 'redisAdapter.ttl', 'is not an option of redisAdapter']
  ]
  for (const [what, options, name, reason] of cases) {
    const error = t.throws(() => redisAdapter(options as never), what) as Error
    expectInvalidOption(t, what, error, name)
    t.ok(error?.message.startsWith(`Invalid option "${name}": ${reason}`), `${what}: says why (${error?.message})`)
  }
})

t.test('redis adapter against a real Redis', { skip: skipRedis }, async (t) => {
  if (!requireRedis(t)) return

  t.test('the contract', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    await adapterContract(t, 'redis', () => redisAdapter({ url: REDIS_URL, keyPrefix: prefix }), { shared: true })
    const left = await keysUnder(redis, prefix)
    const histories = left.filter((key) => key.startsWith(`${prefix}topic:history-`))
    t.same(left.filter((key) => !histories.includes(key)), [], 'every node closed cleanly: no key is left under the prefix but channel histories')
    // PTTL: -1 for a key that never expires; -2 for one that expired since it was listed.
    const lifetimes = await Promise.all(histories.map(async (key) => await redis.pttl(key)))
    t.ok(histories.length > 0 && lifetimes.every((ms) => ms > 0 || ms === -2), `which expire: ${histories.length} streams, ${lifetimes.join(', ')} ms to go`)
  })

  t.test('one pub/sub channel per topic, held while the node has local subscribers, and the control channel', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    await started(t, adapter)
    await adapter.subscribe('channel:lobby')
    await adapter.subscribe('user:alice')
    t.same((await redis.pubsub('CHANNELS', `${prefix}*`) as string[]).sort(),
      [`${prefix}control`, `${prefix}topic:channel:lobby`, `${prefix}topic:user:alice`])
    await adapter.unsubscribe('channel:lobby')
    t.same((await redis.pubsub('CHANNELS', `${prefix}*`) as string[]).sort(), [`${prefix}control`, `${prefix}topic:user:alice`])
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
    t.equal(messages[0], `0:${node.nodeId.length}:${node.nodeId}6:conn-10:${payload}`, 'no place, the node, origin, no skip, the payload')
  })

  t.test('the outgoing queue is bounded in messages and bytes: over it, a publish is local only', async (t) => {
    const prefix = testPrefix(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, maxOutgoingMessages: 2, maxOutgoingBytes: 200 })
    const node = await started(t, adapter)
    node.subscribers.set('room', 3)
    // Sent in one turn, so none is answered before the next: the first two fill the queue.
    const publishes = [1, 2, 3].map((n) => adapter.publish('room', { payload: `{"n":${n}}` }))
    const sent = `0:${node.nodeId.length}:${node.nodeId}0:0:{"n":1}`
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
      `${prefix}node:${node.nodeId}`, `${prefix}nodes`, `${prefix}nodes:info`, `${prefix}presence:node:${node.nodeId}`,
      `${prefix}presence:owners`, `${prefix}presence:user:alice`, `${prefix}presence:users`
    ].sort())
    t.ok(await redis.pttl(`${prefix}node:${node.nodeId}`) <= 6_000, 'the liveness key expires (default nodeTtl)')
    await adapter.presence.remove('alice', 'a1')
    t.same(await keysUnder(redis, prefix), [`${prefix}node:${node.nodeId}`, `${prefix}nodes`, `${prefix}nodes:info`])
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
    const readyListeners = client.listenerCount('ready')
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
    t.equal(client.listenerCount('ready'), readyListeners, 'no listener left on the app\'s client')
    t.equal(await client.ping(), 'PONG')
    t.equal(await other.presence.count(), 0, 'the closed node\'s entries are gone')
    t.equal(otherNode.deliveries.length, 1, 'the other node delivered its own publish once')
  })

  t.test('a node cut off from Redis longer than nodeTtl is purged by the others\' sweep; each survivor hears of its users once', async (t) => {
    const prefix = testPrefix(t)
    const client = new Redis(REDIS_URL)
    const lost = redisAdapter({ client, keyPrefix: prefix, nodeTtl: 300 })
    const survivor = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, nodeTtl: 300 })
    const other = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, nodeTtl: 300 })
    const lostNode = await started(t, lost)
    const survivorNode = await started(t, survivor)
    const otherNode = await started(t, other)
    await lost.presence.set('alice', entry('a1'))
    await lost.presence.set('alice', entry('a2'))
    await lost.presence.set('carol', entry('c1'))
    await survivor.presence.set('bob', entry('b1'))
    await other.presence.set('carol', entry('c2'))
    await lost.members.add('presence', 'room', membership('a1', 'alice'))
    await lost.members.add('presence', 'room', membership('c1', 'carol'))
    await lost.members.add('presence', 'hall', membership('c1', 'carol'))
    await other.members.add('presence', 'room', membership('c2', 'carol'))
    t.same([...(await survivor.presence.all()).keys()].sort(), ['alice', 'bob', 'carol'])
    client.disconnect()
    t.match(await lost.health(), { ok: false, reason: /^redis 127\.0\.0\.1:6379: / }, 'unhealthy without its connection')
    await until(async () => (await survivor.presence.get('alice')).length === 0, 3000, 'alice purged')
    t.same([...(await survivor.presence.all()).keys()].sort(), ['bob', 'carol'], 'the live nodes\' entries stay')
    t.equal(await survivor.presence.count(), 2)
    await until(() => survivorNode.departures.length + otherNode.departures.length === 2, 1000, 'both survivors told')
    await delay(400)
    // Both survivors beat; one script purged the dead node, and the other heard it on the control channel.
    t.same(survivorNode.departures, [['alice']], 'alice left with the dead node, once; carol is still on another node')
    t.same(otherNode.departures, [['alice']])
    t.equal(await survivor.presence.count(), 2, 'a live node is never purged')
    const vacated = [...survivorNode.vacancies, ...otherNode.vacancies]
    t.equal(vacated.length, 1, 'the users out of sets are reported once in the cluster, by the node that purged')
    t.same(vacated[0].map((v) => `${v.kind}/${v.name}/${v.userId}`).sort(), ['presence/hall/carol', 'presence/room/alice'],
      'alice out of room, carol out of hall; carol is still in room through another node')
    t.same(await survivor.members.users('presence', 'room'), new Map([['carol', 1]]))
    t.same(await survivor.members.sets('presence'), new Map([['room', 1]]))

    // The node was cut off, not dead: back, it registers again and announces who came back with it.
    t.teardown(() => { client.disconnect() })
    await client.connect()
    await until(() => [lostNode, survivorNode, otherNode].every((n) => n.arrivals.length > 0) && lostNode.refills.length > 0, 3000,
      'the return announced')
    await delay(400)
    for (const n of [lostNode, survivorNode, otherNode]) t.same(n.arrivals, [['alice']], 'alice is back, once on every node; carol never left')
    t.same(lostNode.refills.flat().map((v) => `${v.kind}/${v.name}/${v.userId}`).sort(), ['presence/hall/carol', 'presence/room/alice'],
      'the sets they are back in, announced by the returning node only')
    t.same([...survivorNode.refills, ...otherNode.refills], [])
    t.same([...(await survivor.presence.all()).keys()].sort(), ['alice', 'bob', 'carol'])
    t.same(await survivor.members.users('presence', 'room'), new Map([['alice', 1], ['carol', 2]]))
  })

  t.test('the control channel: other nodes\' announcements reach departed() and regrouped(); anything else is dropped', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const node = await started(t, adapter)
    const from = (payload: string): string => `0:5:other0:0:${payload}`
    const garbage = ['not json', '{"userId":"x"}', '[{"userId":"x"}]', '[{"userId":"x","entry":null}]', '[null]', 'null', '{"regroup":5}']
    for (const payload of garbage) await redis.publish(`${prefix}control`, from(payload))
    await redis.publish(`${prefix}control`, from(JSON.stringify([{ userId: 'zoe', entry: entry('z1') }])))
    await redis.publish(`${prefix}control`, from(JSON.stringify({ regroup: 'yves' })))
    await until(() => node.departures.length > 0 && node.regroups.length > 0, 2000, 'the announcements')
    t.same(node.departures, [['zoe']], 'only the well-formed announcements, after the malformed ones were dropped')
    t.same(node.regroups, ['yves'])
    t.same(await adapter.health(), { ok: true }, 'and the adapter goes on')
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

  t.test('url options are taken as given, lazyConnect: false included: the adapter connects in init', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: { host: '127.0.0.1', port: 6379, lazyConnect: false }, keyPrefix: prefix })
    const node = await started(t, adapter)
    t.same(await adapter.health(), { ok: true })
    t.equal(await adapter.presence.set('alice', entry('a1')), 1)
    t.equal(await redis.exists(`${prefix}node:${node.nodeId}`), 1, 'registered')
  })

  t.test('the byte bound counts the bytes in flight: a publish that fills it exactly goes, one past it does not', async (t) => {
    const prefix = testPrefix(t)
    const nodeId = 'bytes-node'
    const sent = (n: number): number => Buffer.byteLength(`0:${nodeId.length}:${nodeId}0:0:{"n":${n}}`)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, maxOutgoingBytes: 2 * sent(1) })
    await started(t, adapter, nodeId)
    // In one turn: none is answered before the next is sent.
    const publishes = [1, 2, 3].map((n) => adapter.publish('room', { payload: `{"n":${n}}` }))
    t.same(adapter.outgoing, { messages: 2, bytes: 2 * sent(1), dropped: 1 }, 'two fill the bound exactly; the third is over it')
    await Promise.all(publishes.slice(0, 2))
    await t.rejects(publishes[2], { code: 'HAUYNA_UNAVAILABLE' })
    await until(() => adapter.outgoing.messages === 0, 2000, 'Redis to answer')
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: 1 })
    t.equal(await adapter.publish('room', { payload: JSON.stringify('x'.repeat(2 * sent(1))) }).catch((e: { code: string }) => e.code),
      'HAUYNA_UNAVAILABLE', 'one publish larger than the bound, with nothing in flight')
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: 2 })
  })

  /** Resolves once `n` heartbeats of the node refreshed its liveness key (its PTTL went up `n` times). */
  async function beats (redis: Redis, prefix: string, nodeId: string, n: number): Promise<void> {
    const key = `${prefix}node:${nodeId}`
    let last = await redis.pttl(key)
    let seen = 0
    await until(async () => {
      const now = await redis.pttl(key)
      if (now > last) seen++
      last = now
      return seen >= n
    }, 3000, `${n} heartbeats of ${nodeId}`)
  }

  t.test('a heartbeat refreshes the node: it writes back nothing that another node changed or removed', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const a = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, nodeTtl: 300 })
    const b = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const aNode = await started(t, a)
    await started(t, b)
    await a.presence.set('alice', entry('c1'))
    const busy = entry('c1', 'busy')
    t.equal(await b.presence.set('alice', busy), 1, 'b changes the status of a\'s entry')
    await a.presence.set('carol', entry('k1'))
    t.equal(await b.presence.remove('carol', 'k1'), 0, 'b removes a\'s entry')
    await beats(redis, prefix, aNode.nodeId, 3)
    t.same(await a.presence.get('alice'), [busy], 'the change stands')
    t.same(await a.presence.get('carol'), [], 'the removal stands')
    t.equal(await b.presence.count(), 1)
  })

  t.test('a node that registers again writes back its own entries only, not those of others it changed', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const a = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const b = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, nodeTtl: 300 })
    await started(t, a)
    await started(t, b)
    await a.presence.set('alice', entry('c1'))
    t.equal(await b.presence.set('alice', entry('c1', 'busy')), 1, 'b changes a\'s entry')
    await b.presence.set('bob', entry('b1'))
    await a.close()
    t.same(await b.presence.get('alice'), [], 'gone with a')
    // Redis loses its data: b's heartbeat finds its key gone and writes b's entries back.
    await redis.del(...await keysUnder(redis, prefix))
    await until(async () => (await b.presence.get('bob')).length === 1, 3000, 'b to register bob again')
    t.same(await b.presence.get('alice'), [], 'a\'s entry is not written back by b')
    t.equal(await b.presence.count(), 1)
  })

  t.test('a node that registers again keeps a later change another node made to its entry', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const client = new Redis(REDIS_URL)
    t.teardown(() => client.quit())
    const a = redisAdapter({ client, keyPrefix: prefix, nodeTtl: 60_000 })
    const b = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const nodeA = await started(t, a)
    await started(t, b)
    const tracked = entry('c1')
    await a.presence.set('alice', tracked)
    await a.presence.set('alice', entry('c2'))
    await b.presence.set('alice', { ...tracked, status: 'busy', updatedAt: tracked.updatedAt + 1 })
    // a's connection drops and comes back: a writes its entries back, as its mirror holds them.
    await redis.del(`${prefix}node:${nodeA.nodeId}`)
    client.disconnect(true)
    await until(async () => await redis.exists(`${prefix}node:${nodeA.nodeId}`) === 1, 3000, 'a to register again')
    const statuses = Object.fromEntries((await b.presence.get('alice')).map((e) => [e.connectionId, e.status]))
    t.same(statuses, { c1: 'busy', c2: 'online' }, 'b\'s later change kept, a\'s own entries back')
  })

  t.test('while Redis lacks some of this node\'s entries, reads add them to the shared ones, each once', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const a = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const b = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    await started(t, a)
    await started(t, b)
    for (const id of ['a1', 'a2', 'a3']) await a.presence.set('alice', entry(id))
    await b.presence.set('alice', entry('b1'))
    // Redis lost a1 and a2 (a restart from an older snapshot would do that).
    await redis.hdel(`${prefix}presence:user:alice`, 'a1', 'a2')
    t.equal(await a.presence.remove('alice', 'a1'), 2, 'a1 was this node\'s: removed; a2, a3 and b1 remain')
    t.same((await a.presence.get('alice')).map((e) => e.connectionId).sort(), ['a2', 'a3', 'b1'],
      'a2 from this node, a3 and b1 from Redis, none twice')
    t.same((await b.presence.get('alice')).map((e) => e.connectionId).sort(), ['a3', 'b1'], 'the other node sees what Redis has')
  })

  t.test('a message still arriving after close is not delivered', async (t) => {
    const prefix = testPrefix(t)
    const a = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const b = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    let closing: Promise<void> | undefined
    const node = new RecordingNode()
    const deliver = node.deliver.bind(node)
    // Closes on the first message: the rest of the burst arrives after close() began.
    node.deliver = (topic, envelope) => {
      closing ??= a.close()
      return deliver(topic, envelope)
    }
    await a.init(node)
    t.teardown(() => a.close())
    await started(t, b)
    await a.subscribe('room')
    for (let i = 0; i < 500; i++) await b.publish('room', { payload: `{"i":${i}}` })
    await until(() => closing !== undefined, 2000, 'the first message')
    await closing
    t.same(node.deliveries.map((d) => d.envelope.payload), ['{"i":0}'], 'only the message before close')
  })

  t.test('a closed adapter stays closed when the app\'s client reconnects: it registers nothing again', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const client = new Redis(REDIS_URL)
    t.teardown(() => client.quit())
    const adapter = redisAdapter({ client, keyPrefix: prefix, nodeTtl: 300 })
    await started(t, adapter)
    await adapter.presence.set('alice', entry('a1'))
    await adapter.close()
    t.same(await keysUnder(redis, prefix), [], 'the node left')
    const ready = new Promise((resolve) => client.once('ready', resolve))
    client.disconnect(true)
    await within(ready, 3000, 'the app\'s client to reconnect')
    t.equal(await client.ping(), 'PONG')
    t.same(await keysUnder(redis, prefix), [], 'nothing written back')
  })

  t.test('no timer is left behind by the commands the adapter waits for', async (t) => {
    const prefix = testPrefix(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    await started(t, adapter)
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length
    const before = timers()
    const answers: Array<[boolean, number]> = []
    for (let i = 0; i < 50; i++) answers.push([(await adapter.health()).ok, await adapter.presence.count()])
    t.same(answers, Array(50).fill([true, 0]), 'every command answered')
    // Each was raced against a timer of 1 or 2 s: cleared once the command answered.
    t.ok(timers() - before < 10, `timers before: ${before}, after 100 commands: ${timers()}`)
  })

  /** This adapter's appends still waiting for a reply or a copy, by channel: none once every append settled. */
  function inFlight (adapter: Adapter): number {
    return (adapter as unknown as { appends: { size: number } }).appends.size
  }

  t.test('history: a stream per channel, named as its pub/sub channel, entries <epoch>-<offset>; the message published carries its place', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const listener = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const node = await started(t, adapter)
    const channel = `${prefix}topic:room`
    const messages: string[] = []
    listener.on('message', (_channel: string, message: string) => messages.push(message))
    await listener.subscribe(channel)
    const policy = keeping({ size: 2, positionTtl: 5000 })
    const payload = JSON.stringify({ type: 'message', channel: 'room', data: { text: 'say "hi"' } })
    const before = Date.now()
    const first = await adapter.append('room', { payload, origin: 'conn-1' }, policy)
    for (const n of [2, 3]) await adapter.append('room', { payload: `{"n":${n}}` }, policy)
    t.match(first.epoch, /^\d{16}$/, 'the epoch: Redis\'s clock in microseconds when the stream started')
    t.equal(await redis.type(channel), 'stream', 'the key is named as the channel')
    const entries = await redis.xrange(channel, '-', '+')
    t.same(entries.map(([id, fields]) => [id, ...fields.slice(0, 3)]), [[`${first.epoch}-2`, 'p', '{"n":2}', 't'], [`${first.epoch}-3`, 'p', '{"n":3}', 't']],
      'the last `size` entries, each <epoch>-<offset> with the payload as published')
    const times = entries.map(([, fields]) => Number(fields[3]))
    t.ok(times.every((ms) => ms > before - 1000 && ms < Date.now() + 1000), `and the time of its append, in ms (${times.join(', ')})`)
    const lifetime = await redis.pttl(channel)
    t.ok(lifetime > 0 && lifetime <= 5000, `kept positionTtl from the last append (${lifetime} ms to go)`)
    await until(() => messages.length === 3, 2000, 'the messages on the channel')
    const id = `${first.epoch}-1`
    t.equal(messages[0], `${id.length}:${id}${node.nodeId.length}:${node.nodeId}6:conn-10:${payload}`,
      'on the channel: its place, the node, origin, no skip, the payload as it was')

    for (const offset of [-1, 1.5, Number.NaN]) {
      t.same(await adapter.history.read('room', policy, { epoch: first.epoch, offset }, 10), { offset: 3, epoch: first.epoch, entries: [], complete: false },
        `after an offset no stream hands out (${offset}): nothing, and not continued`)
    }

    const quiet = await adapter.history.position('quiet', policy)
    t.same([await redis.type(`${prefix}topic:quiet`), await redis.xlen(`${prefix}topic:quiet`)], ['stream', 0],
      'a position alone: a stream without entries')
    t.same(await adapter.history.position('quiet', policy), quiet, 'which keeps it')
  })

  t.test('history: a stream that is gone (deleted, flushed, expired) starts again under a new epoch; an old position does not continue it', async (t) => {
    const prefix = testPrefix(t)
    const redis = rawRedis(t)
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix })
    const node = await started(t, adapter)
    node.subscribers.set('room', 1)
    await adapter.subscribe('room')
    const policy = keeping()
    await adapter.append('room', { payload: '{"n":1}' }, policy)
    const { epoch } = await adapter.append('room', { payload: '{"n":2}' }, policy)
    await redis.del(`${prefix}topic:room`)
    const read = await adapter.history.read('room', policy, { epoch, offset: 2 }, 10)
    t.not(read.epoch, epoch, 'a new epoch')
    t.same([read.offset, read.entries, read.complete], [0, [], false], 'from 0, nothing kept, and the old position is not continued')
    t.same(await adapter.append('room', { payload: '{"n":3}' }, policy), { offset: 1, epoch: read.epoch, delivered: 1 }, 'the next append: offset 1')
    await redis.del(`${prefix}topic:room`)
    const again = await adapter.append('room', { payload: '{"n":4}' }, policy)
    t.equal(again.offset, 1, 'deleted under an append: it starts the stream itself')
    t.not(again.epoch, read.epoch)
    t.same(node.of('room').map((e) => [e.offset, e.epoch]), [[1, epoch], [2, epoch], [1, read.epoch], [1, again.epoch]], 'delivered with their places')
  })

  t.test('history: without Redis, append rejects HAUYNA_UNAVAILABLE and delivers nothing; reads reject HAUYNA_STATE_UNAVAILABLE', async (t) => {
    const prefix = testPrefix(t)
    const client = new Redis(REDIS_URL)
    t.teardown(() => { client.disconnect() })
    const adapter = redisAdapter({ client, keyPrefix: prefix })
    const node = await started(t, adapter)
    node.subscribers.set('room', 1)
    await adapter.subscribe('room')
    const policy = keeping()
    t.match(await adapter.append('room', { payload: '{"n":1}' }, policy), { offset: 1, delivered: 1 })
    client.disconnect()
    await t.rejects(adapter.append('room', { payload: '{"n":2}' }, policy), { code: 'HAUYNA_UNAVAILABLE', delivered: 0 })
    await t.rejects(adapter.history.read('room', policy, undefined, 10), { code: 'HAUYNA_STATE_UNAVAILABLE' })
    await t.rejects(adapter.history.position('room', policy), { code: 'HAUYNA_STATE_UNAVAILABLE' })
    t.same(node.of('room').map((e) => e.offset), [1], 'nothing delivered without a place, not even here')
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: 1 }, 'counted as dropped')
    await adapter.sessions.save('kept', 'while away', 5000)
    t.equal(await adapter.sessions.take('kept'), undefined, 'without Redis no session is kept, and none can be taken')
    await client.connect()
    t.match(await adapter.append('room', { payload: '{"n":3}' }, policy), { offset: 2, delivered: 1 }, 'Redis back: the next offset')
    await adapter.close()
    await t.rejects(adapter.append('room', { payload: '{"n":4}' }, policy), { code: 'HAUYNA_UNAVAILABLE', delivered: 0 }, 'closed: none')
  })

  t.test('history: appends are in the outgoing queue, in its bounds', async (t) => {
    const prefix = testPrefix(t)
    const nodeId = 'bytes-node'
    const adapter = redisAdapter({ url: REDIS_URL, keyPrefix: prefix, maxOutgoingMessages: 2 })
    await started(t, adapter, nodeId)
    const policy = keeping()
    // In one turn: none is answered before the next is sent.
    const appends = [1, 2, 3].map((n) => adapter.append('room', { payload: `{"n":${n}}` }, policy))
    const bytes = Buffer.byteLength(`${nodeId.length}:${nodeId}0:0:{"n":1}`)
    t.same(adapter.outgoing, { messages: 2, bytes: 2 * bytes, dropped: 1 }, 'the third is over the bound')
    await t.rejects(appends[2], { code: 'HAUYNA_UNAVAILABLE', delivered: 0 })
    t.same((await Promise.all(appends.slice(0, 2))).map((a) => a.offset), [1, 2])
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: 1 }, 'answered: out of the queue')
    t.same((await adapter.history.read('room', policy, undefined, 10)).entries.map((e) => e.payload), ['{"n":1}', '{"n":2}'], 'the third was not kept')
  })

  t.test('history: this node\'s copy held back: append resolves with 0 deliveries after the wait, or as soon as the copy cannot come', async (t) => {
    const prefix = testPrefix(t)
    const proxy = await HoldingProxy.start(t)
    const adapter = redisAdapter({ url: proxy.url, keyPrefix: prefix })
    const node = await started(t, adapter)
    node.subscribers.set('room', 1)
    await adapter.subscribe('room')
    const policy = keeping()
    const append = (n: number): Promise<Appended> => adapter.append('room', { payload: `{"n":${n}}` }, policy)
    const { epoch } = await append(1)
    t.equal(proxy.hold(/subscribe/i), 1, 'the subscriber connection held')
    t.same(await append(2), { offset: 2, epoch, delivered: 0 }, 'the reply came, the copy did not: resolved after the wait, with none delivered here')
    t.same(node.of('room').map((e) => e.offset), [1], 'not delivered without its copy')
    t.equal(inFlight(adapter), 0, 'nothing left waiting')
    proxy.release()
    await until(() => node.of('room').length === 2, 2000, 'the copy, late')
    t.same(node.of('room').map((e) => [e.offset, e.epoch, e.payload]), [[1, epoch, '{"n":1}'], [2, epoch, '{"n":2}']], 'delivered as it came, with its place')
    t.equal(inFlight(adapter), 0)

    // Each time, the script answered and the copy is held: something tells that it cannot come.
    async function held (what: string, end: () => unknown): Promise<void> {
      proxy.hold(/subscribe/i)
      const appending = append(0)
      await until(() => adapter.outgoing.messages === 0, 2000, 'the reply')
      end()
      t.match(await within(appending, 1000, 'the append'), { epoch, delivered: 0 }, `${what}: settled at once, with none delivered here`)
      t.equal(inFlight(adapter), 0, 'nothing left waiting')
    }
    let leaving: Promise<void> | undefined
    await held('this node left the channel', () => { leaving = adapter.unsubscribe('room') })
    proxy.release()
    await leaving
    await adapter.subscribe('room')
    await held('the subscriber connection lost', () => t.equal(proxy.cut(/subscribe/i), 1))
    await until(async () => (await adapter.health()).ok, 3000, 'the subscriber connection back')
    let closing: Promise<void> | undefined
    await held('the adapter closing', () => { closing = adapter.close() })
    proxy.release()
    await closing
  })

  t.test('history: the reply held back: the copy that came first is counted; no reply within the wait rejects HAUYNA_UNAVAILABLE', async (t) => {
    const prefix = testPrefix(t)
    const proxy = await HoldingProxy.start(t)
    const client = new Redis(proxy.url)
    client.on('error', () => {})
    t.teardown(() => { client.disconnect() })
    const adapter = redisAdapter({ client, keyPrefix: prefix })
    const node = await started(t, adapter)
    node.subscribers.set('room', 2)
    await adapter.subscribe('room')
    const policy = keeping()
    t.equal(proxy.hold(/evalsha/i), 1, 'the command connection held')
    const first = adapter.append('room', { payload: '{"n":1}' }, policy)
    await until(() => node.of('room').length === 1, 2000, 'the copy, before the reply')
    proxy.release()
    t.match(await first, { offset: 1, delivered: 2 }, 'the copy\'s deliveries, once the reply came')

    proxy.hold(/evalsha/i)
    await t.rejects(adapter.append('room', { payload: '{"n":2}' }, policy), { code: 'HAUYNA_UNAVAILABLE', delivered: 0 })
    t.same(node.of('room').map((e) => e.offset), [1, 2], 'Redis ran the script: its copy was delivered here, with its place, as on every node')
    t.equal(inFlight(adapter), 0, 'nothing left waiting')
    proxy.release()
    await until(() => adapter.outgoing.messages === 0, 2000, 'the late reply')
    t.equal(inFlight(adapter), 0)
    t.match(await adapter.append('room', { payload: '{"n":3}' }, policy), { offset: 3, delivered: 2 }, 'then as before')

    proxy.hold(/evalsha/i)
    await t.rejects(adapter.append('room', { payload: '{"n":4}' }, policy), { code: 'HAUYNA_UNAVAILABLE', delivered: 0 })
    const { dropped } = adapter.outgoing
    client.disconnect()
    await until(() => adapter.outgoing.messages === 0, 2000, 'the script, failed with the connection')
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: dropped + 1 }, 'a script that fails after the wait: counted as dropped')
    t.equal(inFlight(adapter), 0, 'and nothing waits for it')
  })

  t.test('an unreachable Redis fails init, and leaves nothing open', async (t) => {
    const adapter = redisAdapter({ url: 'redis://127.0.0.1:1' })
    await t.rejects(adapter.init(new RecordingNode()), { code: 'HAUYNA_REDIS_UNREACHABLE', message: /^Redis at 127\.0\.0\.1:1 is unreachable: / })
    t.same(await adapter.health(), { ok: false, reason: 'redis 127.0.0.1:1: adapter not running' })
    await adapter.close()

    const app = Fastify({ logger: false })
    await t.rejects(async () => { await app.register(hauyna, { adapter: redisAdapter({ url: 'redis://127.0.0.1:1' }) }).ready() },
      'the plugin does not start without its adapter')
    await app.close()
  })
})
