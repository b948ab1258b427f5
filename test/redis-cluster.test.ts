import t, { type Test } from 'tap'
import { ClusterNode, got, open, openUsers } from './cluster-nodes'
import { type Client, delay, until } from './helpers'
import { keysUnder, rawRedis, REDIS_URL, RedisProcess, requireBinary, requireRedis, skipBinary, skipRedis, testPrefix } from './redis-helpers'

// Three server processes sharing one Redis: real sockets on every node, no shared memory; then
// three more on a Redis of the test's own, which it kills and starts again.
const NODE_TTL = 1000
/** What has not arrived this long after the expected frames is not coming: counts are final. */
const SETTLE_MS = 200

t.test('three server processes share one Redis', { skip: skipRedis }, async (t) => {
  if (!requireRedis(t)) return
  const prefix = testPrefix(t)
  const redis = rawRedis(t)
  const config = { redis: { url: REDIS_URL }, keyPrefix: prefix, nodeTtl: NODE_TTL }
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => ClusterNode.start(t, name, config)))
  const { alice, bob, carol, dave } = await openUsers(t, [a, b, c])
  const everyone = [alice, bob, carol, dave]
  t.equal((await dave.request({ type: 'subscribe', channel: 'side' })).type, 'ack')

  /** Waits for every expected frame, lets any duplicate arrive, then checks the exact counts. */
  async function exactly (t: Test, type: string, data: unknown, expected: Map<Client, number>): Promise<void> {
    await until(() => [...expected].every(([client, n]) => got(client, type, data) >= n), 5000, `${type} ${JSON.stringify(data)}`)
    await delay(SETTLE_MS)
    for (const [client, n] of expected) t.equal(got(client, type, data), n, `${type} to ${everyone.indexOf(client)}: ${n}`)
  }
  const counts = (...pairs: Array<[Client, number]>): Map<Client, number> => new Map(pairs)

  await t.test('a channel publish on one node reaches the subscribers on every node once', async (t) => {
    t.equal((await alice.request({ type: 'publish', channel: 'lobby', data: 'from alice on a' })).type, 'ack')
    await exactly(t, 'message', 'from alice on a', counts([alice, 1], [bob, 1], [carol, 1], [dave, 0]))
    t.equal(await c.ask({ cmd: 'channelSend', channel: 'lobby', data: 'from node c' }), 1,
      'channels.broadcastTo resolves to the deliveries on its own node')
    await exactly(t, 'message', 'from node c', counts([alice, 1], [bob, 1], [carol, 1], [dave, 0]))
  })

  await t.test('direct messages reach a user connected to another node', async (t) => {
    t.equal((await carol.request({ type: 'direct', to: 'alice', data: 'psst from carol' })).type, 'ack')
    await exactly(t, 'direct', 'psst from carol', counts([alice, 1], [bob, 0], [carol, 0], [dave, 0]))
    t.match(alice.frames.find((f) => f.type === 'direct'), { from: 'carol' })
    t.equal(await b.ask({ cmd: 'sendTo', userId: 'carol', data: 'from node b' }), 0, 'carol is not on node b')
    await exactly(t, 'direct', 'from node b', counts([alice, 0], [bob, 0], [carol, 1], [dave, 0]))
  })

  await t.test('a broadcast reaches every connection of every node once', async (t) => {
    t.equal((await bob.request({ type: 'broadcast', data: 'all hands' })).type, 'ack')
    await exactly(t, 'broadcast', 'all hands', counts([alice, 1], [bob, 1], [carol, 1], [dave, 1]))
    t.equal(await c.ask({ cmd: 'broadcast', data: 'from node c' }), 1)
    await exactly(t, 'broadcast', 'from node c', counts([alice, 1], [bob, 1], [carol, 1], [dave, 1]))
  })

  await t.test('a group message reaches its members on every node', async (t) => {
    t.equal(await a.ask({ cmd: 'groupSend', group: 'staff', data: 'staff only' }), 1)
    await exactly(t, 'group', 'staff only', counts([alice, 1], [bob, 1], [carol, 0], [dave, 0]))
  })

  await t.test('presence, channels, connections and groups read the same on every node', async (t) => {
    const [sa, sb, sc] = await Promise.all([a.snapshot(), b.snapshot(), c.snapshot()])
    for (const s of [sa, sb, sc]) {
      t.same(s.presence, ['alice', 'bob', 'carol', 'dave'], 'presence.list() shows the users of every node')
      t.equal(s.presenceCount, 4)
      t.equal(s.stats.presence, 4, 'stats: presence is the shared count')
      t.same(s.channels, ['lobby', 'side'], 'channels.list(): every node\'s channels')
      t.equal(s.sideKnown, true, 'channels.get() knows a channel whose only subscriber is on another node')
      t.same(s.lobbySubscribers, ['alice', 'bob', 'carol'], 'channels.subscribers(): every node\'s')
      t.same(s.lobbyPresence, ['alice', 'bob', 'carol'], 'presence.list({ channel }): every node\'s subscribers')
    }
    // /ws/stats lists every live node with its figures as of its last beat (every nodeTtl / 3).
    const cluster = [{ node: 'a', connections: 2, users: 2 }, { node: 'b', connections: 1, users: 1 }, { node: 'c', connections: 1, users: 1 }]
    await until(async () => JSON.stringify((await a.snapshot()).cluster) === JSON.stringify(cluster), NODE_TTL * 2, 'the cluster figures')
    for (const node of [a, b, c]) t.same((await node.snapshot()).cluster, cluster, 'stats: every node, its connections and users')
    t.same([sa.connections, sb.connections, sc.connections], [4, 4, 4], 'connections.count(): every node\'s')
    t.same([sa.users, sb.users, sc.users], [4, 4, 4], 'connections.userCount(): every node\'s')
    t.same([sa.stats.clusterConnections, sb.stats.clusterConnections, sc.stats.clusterConnections], [4, 4, 4], 'so is stats cluster.connections')
    t.same([sa.stats.clusterUsers, sb.stats.clusterUsers, sc.stats.clusterUsers], [4, 4, 4], 'and cluster.users')
    t.same([sa.stats.connections, sb.stats.connections, sc.stats.connections], [2, 1, 1], 'stats connections are the node\'s own')
    t.same([sa.stats.users, sb.stats.users, sc.stats.users], [2, 1, 1], 'and so are stats users')
    t.same([sa.aliceConnections, sb.aliceConnections, sc.aliceConnections], [1, 0, 0], 'connections.byUser(): this node\'s Connection objects')
    for (const s of [sa, sb, sc]) t.same(s.aliceLocated, ['a'], 'connections.locate(): where she is connected, from any node')
    for (const s of [sa, sb, sc]) t.same(s.staffMembers, ['alice', 'bob'], 'groups.members(): identity members of every node')

    // Channel presence: the `subscribed` snapshot lists the users of every node; diffs travel like messages.
    t.same(Object.keys(carol.all('subscribed')[0].presence).sort(), ['alice', 'bob', 'carol'], 'the snapshot is the cluster\'s')
    const joins = alice.all('presence_diff').flatMap((f) => Object.keys(f.joins))
    t.same(joins.sort(), ['bob', 'carol'], 'later joins on other nodes reach alice as diffs')
    t.same(carol.all('presence_diff').flatMap((f) => Object.keys(f.joins)), [], 'earlier ones never reach carol')
  })

  await t.test('a member added on one node receives the group on every node, until removed on another', async (t) => {
    t.equal(await c.ask({ cmd: 'groupAdd', userId: 'dave', group: 'staff', role: 'temp' }), undefined, 'node c adds dave, connected to node a')
    t.same(await b.ask({ cmd: 'groupsOf', userId: 'dave' }), [{ group: 'staff', role: 'temp' }], 'node b knows')
    await until(async () => (await b.snapshot()).staffMembers.includes('dave'), 2000, 'dave listed')
    t.equal((await bob.request({ type: 'group', group: 'staff', data: 'welcome dave' })).type, 'ack')
    await exactly(t, 'group', 'welcome dave', counts([alice, 1], [bob, 1], [carol, 0], [dave, 1]))
    t.equal((await dave.request({ type: 'group', group: 'staff', data: 'thanks' })).type, 'ack', 'and may send to it')
    await exactly(t, 'group', 'thanks', counts([alice, 1], [bob, 1], [carol, 0], [dave, 1]))
    t.equal(await b.ask({ cmd: 'groupRemove', userId: 'dave', group: 'staff' }), true, 'node b removes him')
    await until(async () => !(await a.snapshot()).staffMembers.includes('dave'), 2000, 'dave no longer listed')
    await delay(SETTLE_MS)
    t.equal(await c.ask({ cmd: 'groupSend', group: 'staff', data: 'after dave' }), 0, 'node c has no member connected')
    await exactly(t, 'group', 'after dave', counts([alice, 1], [bob, 1], [carol, 0], [dave, 0]))
    t.match(await dave.request({ type: 'group', group: 'staff', data: 'still?' }), { type: 'error', code: 'forbidden' }, 'nor may he send to it')
  })

  // frank is on all three nodes: one member of lobby, present while any of his connections is.
  // His connections outlive this subtest: the whole test closes them.
  const frank: Client[] = []
  const top = t
  await t.test('a user connected through several nodes joins a presence channel once and stays while any connection does', async (t) => {
    for (const node of [a, b, c]) {
      const client = await open(top, node.url('frank'))
      t.equal((await client.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
      frank.push(client)
    }
    const frankDiffs = (client: Client, side: 'joins' | 'leaves'): number =>
      client.all('presence_diff').filter((f) => 'frank' in f[side]).length
    await until(() => frankDiffs(alice, 'joins') > 0 && frankDiffs(bob, 'joins') > 0, 2000, 'frank\'s join')
    t.same(Object.keys(frank[2].all('subscribed')[0].presence).sort(), ['alice', 'bob', 'carol', 'frank'], 'his third snapshot has him')
    const lobby = (await c.snapshot()).lobbySubscribers
    t.same(lobby, ['alice', 'bob', 'carol', 'frank', 'frank', 'frank'], 'three subscriptions, one per connection')
    await frank[1].close()
    await until(async () => (await a.snapshot()).lobbySubscribers.length === 5, 2000, 'his subscription on b gone')
    await delay(SETTLE_MS)
    for (const client of [alice, bob]) {
      t.equal(frankDiffs(client, 'joins'), 1, 'one join for three connections on three nodes')
      t.equal(frankDiffs(client, 'leaves'), 0, 'no leave while he has a connection')
    }
    t.same((await b.snapshot()).lobbyPresence, ['alice', 'bob', 'carol', 'frank'])
  })

  await t.test('a killed node\'s users leave: purged, and announced once on every surviving node within nodeTtl × 4/3', async (t) => {
    await c.kill()
    const killed = Date.now()
    await carol.closed
    const carolLeaves = (client: Client): number => client.all('presence_diff').filter((f) => 'carol' in f.leaves).length
    await until(async () => (await a.snapshot()).leaves.length > 0 && (await b.snapshot()).leaves.length > 0 &&
      carolLeaves(alice) > 0 && carolLeaves(bob) > 0, NODE_TTL * 5, 'carol announced')
    const announced = Date.now() - killed
    t.comment(`carol's leave was announced on both survivors and to lobby's subscribers ${announced} ms after node c was killed (nodeTtl ${NODE_TTL} ms)`)
    t.ok(announced <= NODE_TTL * 4 / 3 + 500, `within the bound (${announced} ms)`)
    await delay(NODE_TTL)
    for (const node of [a, b]) {
      const after = await node.snapshot()
      t.same(after.presence, ['alice', 'bob', 'dave', 'frank'])
      t.same(after.leaves, ['carol'], 'one presence_change leave for carol on each surviving node, no more')
      t.same(after.cluster.map((n) => n.node), ['a', 'b'], 'stats: the dead node is no longer listed')
      t.same(after.lobbySubscribers, ['alice', 'bob', 'frank'], 'the dead node\'s subscriptions are gone')
      t.same(after.lobbyPresence, ['alice', 'bob', 'frank'])
    }
    for (const client of [alice, bob]) {
      t.equal(carolLeaves(client), 1, 'one presence_diff leave for carol to each subscriber')
      t.equal(client.all('presence_diff').filter((f) => 'frank' in f.leaves).length, 0, 'none for frank: he is still on node a')
    }
    t.equal((await alice.request({ type: 'publish', channel: 'lobby', data: 'after the crash' })).type, 'ack')
    await exactly(t, 'message', 'after the crash', counts([alice, 1], [bob, 1], [dave, 0], [frank[0], 1]))
  })

  await Promise.all([a.stop(), b.stop()])
  const left = await keysUnder(redis, prefix)
  t.same(left.map((key) => key.slice(prefix.length).replace(/[0-9a-f-]{36}$/, '<uuid>')), ['purged:c-<uuid>'],
    'the surviving nodes stopped cleanly and the dead one was swept: only the mark of its purge is left')
  t.ok(await redis.pttl(left[0]) > 0, 'and it expires')
  for (const client of [...everyone, ...frank]) t.same(client.violations, [], 'every frame matched the protocol')
})

t.test('three server processes ride out a restart of their Redis', { skip: skipBinary }, async (t) => {
  if (!requireBinary(t)) return
  const redis = await RedisProcess.start(t)
  const nodes = await Promise.all(['a', 'b', 'c'].map((name) => ClusterNode.start(t, name, { redis: { url: redis.url }, nodeTtl: NODE_TTL })))
  const { alice, bob, carol, dave } = await openUsers(t, nodes)
  const health = async (node: ClusterNode): Promise<{ code: number, reason?: string }> => {
    const response = await fetch(`http://127.0.0.1:${node.port}/health`)
    return { code: response.status, reason: (await response.json() as { reason?: string }).reason }
  }

  await redis.kill()
  for (const node of nodes) await until(async () => (await health(node)).code === 503, 3000, '/health to answer 503')
  t.match(await health(nodes[0]), { reason: /^redis 127\.0\.0\.1:\d+: command connection / }, '/health says why')
  t.match(await alice.request({ type: 'publish', channel: 'lobby', data: 'during' }), { type: 'error', code: 'unavailable', ref: /^r\d+$/ },
    'a publish that reached no other node is answered `unavailable`, with its ref')
  await until(() => got(alice, 'message', 'during') === 1, 2000, 'the echo on her own node')
  t.match(await nodes[1].snapshot(), { presence: ['bob'], lobbySubscribers: ['bob'], staffMembers: ['HAUYNA_STATE_UNAVAILABLE'] },
    'a node cut off answers for its own users and subscribers, and says it cannot for added groups')

  await redis.start()
  for (const node of nodes) {
    await until(async () => {
      const s = await node.snapshot()
      return s.presence.length === 4 && s.lobbySubscribers.length === 3 && s.connections === 4
    }, 5 * NODE_TTL, 'every node to read the whole cluster again')
    t.equal((await health(node)).code, 200)
  }
  t.equal((await bob.request({ type: 'publish', channel: 'lobby', data: 'after' })).type, 'ack', 'publishes are acked again')
  await until(() => [alice, bob, carol].every((client) => got(client, 'message', 'after') === 1), 3000, 'delivery across nodes')
  await delay(SETTLE_MS)
  t.same([alice, bob, carol, dave].map((client) => got(client, 'message', 'after')), [1, 1, 1, 0], 'once each, by itself')
  t.same(nodes.map((node) => node.child.exitCode), [null, null, null], 'no process crashed')
})
