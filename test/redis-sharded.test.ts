import t, { type Test } from 'tap'
import { Cluster, type Redis } from 'ioredis'
import { type Adapter, redisAdapter } from '../lib/index'
import { entry, RecordingNode } from './adapter-contract'
import { ClusterNode, got, openUsers } from './cluster-nodes'
import { type Client, delay, until } from './helpers'
import { requireBinary, skipBinary, startRedisCluster } from './redis-helpers'

// A Redis Cluster of the test's own (three masters on loopback ports), and server processes
// with the adapter in cluster mode: topics on sharded pub/sub, state in one hash slot.
const NODE_TTL = 1000
/** What has not arrived this long after the expected frames is not coming: counts are final. */
const SETTLE_MS = 200
/** Enough topics that, at random slots, each of three shards gets some. */
const ROOMS = 24

/** Every key on one server, found with SCAN. */
async function keysOn (redis: Redis): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'COUNT', 500)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys.sort()
}

async function shardChannels (redis: Redis): Promise<string[]> {
  return (await redis.pubsub('SHARDCHANNELS') as string[]).sort()
}

async function started (t: Test, adapter: Adapter): Promise<RecordingNode> {
  const node = new RecordingNode()
  await adapter.init(node)
  t.teardown(() => adapter.close())
  return node
}

t.test('a Redis Cluster: topics spread over its shards, state stays in one slot', { skip: skipBinary }, async (t) => {
  if (!requireBinary(t)) return
  const begun = Date.now()
  const servers = await startRedisCluster(t)
  t.comment(`three-shard cluster ready in ${Date.now() - begun} ms`)
  const shards = servers.map((server) => server.connection(t))
  const nodes = servers.map((server) => `127.0.0.1:${server.port}`)

  t.test('three server processes on the cluster', async (t) => {
    const config = { redis: { cluster: { nodes } }, nodeTtl: NODE_TTL }
    const starting = Date.now()
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => ClusterNode.start(t, name, config)))
    t.comment(`three server processes listening in ${Date.now() - starting} ms`)
    const { alice, bob, carol, dave } = await openUsers(t, [a, b, c])
    const everyone = [alice, bob, carol, dave]

    /** Waits for every expected frame, lets any duplicate arrive, then checks the exact counts. */
    async function exactly (t: Test, type: string, data: unknown[], expected: Map<Client, number>): Promise<void> {
      const arrived = (): boolean => data.every((d) => [...expected].every(([client, n]) => got(client, type, d) >= n))
      await until(arrived, 5000, `${type} ${JSON.stringify(data)}`)
      await delay(SETTLE_MS)
      for (const d of data) {
        for (const [client, n] of expected) t.equal(got(client, type, d), n, `${type} ${JSON.stringify(d)} to ${everyone.indexOf(client)}: ${n}`)
      }
    }
    const counts = (...pairs: Array<[Client, number]>): Map<Client, number> => new Map(pairs)

    await t.test('channel, direct, group and broadcast messages cross nodes exactly once', async (t) => {
      t.equal((await alice.request({ type: 'publish', channel: 'lobby', data: 'from alice on a' })).type, 'ack')
      await exactly(t, 'message', ['from alice on a'], counts([alice, 1], [bob, 1], [carol, 1], [dave, 0]))
      t.equal((await carol.request({ type: 'direct', to: 'alice', data: 'psst from carol' })).type, 'ack')
      await exactly(t, 'direct', ['psst from carol'], counts([alice, 1], [bob, 0], [carol, 0], [dave, 0]))
      t.equal(await a.ask({ cmd: 'groupSend', group: 'staff', data: 'staff only' }), 1)
      await exactly(t, 'group', ['staff only'], counts([alice, 1], [bob, 1], [carol, 0], [dave, 0]))
      t.equal((await bob.request({ type: 'broadcast', data: 'all hands' })).type, 'ack')
      await exactly(t, 'broadcast', ['all hands'], counts([alice, 1], [bob, 1], [carol, 1], [dave, 1]))
    })

    await t.test('each topic is a sharded channel on the shard of its slot: they spread over the shards', async (t) => {
      for (let i = 0; i < ROOMS; i++) t.equal((await dave.request({ type: 'subscribe', channel: `room-${i}` })).type, 'ack')
      for (let i = 0; i < ROOMS; i++) t.equal(await b.ask({ cmd: 'channelSend', channel: `room-${i}`, data: `to room ${i}` }), 0, 'none on b')
      await exactly(t, 'message', Array.from({ length: ROOMS }, (_, i) => `to room ${i}`), counts([dave, 1], [alice, 0]))
      const channels = await Promise.all(shards.map(shardChannels))
      const rooms = channels.map((list) => list.filter((channel) => channel.startsWith('hauyna:topic:channel:room-')).length)
      t.comment(`room channels per shard: ${rooms.join(', ')}`)
      t.equal(rooms.reduce((sum, n) => sum + n, 0), ROOMS, 'each room\'s channel on exactly one shard')
      t.ok(rooms.filter((n) => n > 0).length >= 2, 'on more than one shard')
      t.same(channels.flat().filter((channel) => channel.startsWith('{')), ['{hauyna:}control'], 'the control channel alone is in the state slot')
      t.same((await Promise.all(shards.map((shard) => shard.pubsub('CHANNELS') as Promise<string[]>))).flat(), [],
        'no classic pub/sub channel anywhere')
    })

    await t.test('presence is shared; every key is under the hash tag, in one slot, on one shard', async (t) => {
      for (const node of [a, b, c]) t.same((await node.snapshot()).presence, ['alice', 'bob', 'carol', 'dave'])
      const keys = await Promise.all(shards.map(keysOn))
      t.equal(keys.filter((list) => list.length > 0).length, 1, `one shard holds them all (${keys.map((list) => list.length).join(', ')})`)
      const all = keys.flat()
      t.ok(all.length >= 10, `${all.length} keys`)
      t.same(all.filter((key) => !key.startsWith('{hauyna:}')), [], 'each under {hauyna:}')
      const slots = new Set(await Promise.all(all.map(async (key) => await shards[0].cluster('KEYSLOT', key) as number)))
      t.same([...slots], [await shards[0].cluster('KEYSLOT', 'hauyna:')], 'in the slot of the tag')
      const health = await fetch(`http://127.0.0.1:${a.port}/health`)
      t.equal(health.status, 200, '/health: every master answers')
    })

    await t.test('a killed node\'s users leave on every survivor, announced on the sharded control channel', async (t) => {
      await c.kill()
      const killed = Date.now()
      await carol.closed
      await until(async () => (await a.snapshot()).leaves.length > 0 && (await b.snapshot()).leaves.length > 0, NODE_TTL * 5, 'carol announced')
      t.comment(`carol's leave announced on both survivors ${Date.now() - killed} ms after node c was killed (nodeTtl ${NODE_TTL} ms)`)
      await delay(SETTLE_MS)
      for (const node of [a, b]) {
        const after = await node.snapshot()
        t.same(after.presence, ['alice', 'bob', 'dave'])
        t.same(after.leaves, ['carol'], 'once on each survivor')
      }
    })

    await Promise.all([a.stop(), b.stop()])
    const left = await Promise.all(shards.map(keysOn))
    t.same(left.flat().map((key) => key.replace(/[0-9a-f-]{36}$/, '<uuid>')), ['{hauyna:}purged:c-<uuid>'],
      'the nodes stopped cleanly and the dead one was swept: only the mark of its purge is left')
    t.ok(await shards[left.findIndex((keys) => keys.length > 0)].pttl(left.flat()[0]) > 0, 'and it expires')
    for (const client of everyone) t.same(client.violations, [], 'every frame matched the protocol')
  })

  t.test('channel history: each stream on the shard of its channel; two nodes appending at once are delivered on both in offset order', async (t) => {
    const keyPrefix = 'history:'
    const x = redisAdapter({ cluster: { nodes }, keyPrefix, nodeTtl: NODE_TTL })
    const y = redisAdapter({ cluster: { nodes }, keyPrefix, nodeTtl: NODE_TTL })
    const xNode = await started(t, x)
    const yNode = await started(t, y)
    const policy = { size: 100, ttl: 60_000, positionTtl: 60_000 }
    const topics = Array.from({ length: 12 }, (_, i) => `room-${i}`)
    for (const topic of topics) {
      xNode.subscribers.set(topic, 1)
      yNode.subscribers.set(topic, 2)
      await x.subscribe(topic)
      await y.subscribe(topic)
    }
    const N = 20
    const sends = topics.flatMap((topic) => Array.from({ length: N }, (_, i) =>
      [x.append(topic, { payload: `{"x":${i}}` }, policy), y.append(topic, { payload: `{"y":${i}}` }, policy)]).flat())
    const appended = await Promise.all(sends)
    t.same(appended.map((a) => a.delivered), appended.map((_, i) => i % 2 === 0 ? 1 : 2), 'each append resolved with its own node\'s deliveries')
    const all = 2 * N
    await until(() => topics.every((topic) => xNode.of(topic).length === all && yNode.of(topic).length === all), 5000, 'every message on both nodes')
    await delay(SETTLE_MS)
    for (const topic of topics) {
      const [onX, onY] = [xNode, yNode].map((node) => node.of(topic).map((e) => [e.offset, e.epoch, e.payload]))
      t.same(onX.map(([offset]) => offset), Array.from({ length: all }, (_, i) => i + 1), `${topic}: every offset on x once, in order`)
      t.same(onY, onX, `${topic}: on y the same messages, in the same order`)
      const epoch = String(onX[0][1])
      const read = await y.history.read(topic, policy, { epoch, offset: N }, 100)
      t.same([read.entries.map((e) => [e.offset, epoch, e.payload]), read.complete], [onX.slice(N), true], `${topic}: the same history`)
    }
    const [channels, keys] = await Promise.all([Promise.all(shards.map(shardChannels)), Promise.all(shards.map(keysOn))])
    const shardOf = (name: string, lists: string[][]): number => lists.findIndex((list) => list.includes(name))
    const named = topics.map((topic) => `${keyPrefix}topic:${topic}`)
    const places = named.map((name) => shardOf(name, keys))
    t.same(places, named.map((name) => shardOf(name, channels)), 'each stream on the shard of its channel')
    t.ok(places.every((shard) => shard >= 0), 'every stream found')
    t.comment(`history streams per shard: ${[0, 1, 2].map((shard) => places.filter((p) => p === shard).length).join(', ')}`)
    t.ok(new Set(places).size > 1, 'spread over more than one shard')
  })

  t.test('an app\'s Cluster as client: commands on it, sharded pub/sub on a duplicate; never closed by the adapter', async (t) => {
    const keyPrefix = 'client:'
    const client = new Cluster(nodes)
    t.teardown(() => client.quit())
    const mine = redisAdapter({ client, keyPrefix })
    const other = redisAdapter({ cluster: { nodes: [{ host: '127.0.0.1', port: servers[1].port }] }, keyPrefix })
    const myNode = await started(t, mine)
    await started(t, other)
    await mine.subscribe('room')
    await other.publish('room', { payload: '"to the app\'s cluster"' })
    await until(() => myNode.of('room').length === 1, 2000, 'the message')
    t.equal(await mine.presence.set('alice', entry('a1')), 1)
    t.equal(await other.presence.count(), 1, 'one presence, whichever connection wrote it')
    t.same(await mine.health(), { ok: true })
    await mine.close()
    t.equal(client.status, 'ready', 'the app\'s client is still open')
    t.equal(await other.presence.count(), 0, 'the closed node\'s entries are gone')
  })

  t.test('a shard restarted: the other shards\' topics go on meanwhile, and its own come back by themselves', async (t) => {
    const keyPrefix = 'restart:'
    const x = redisAdapter({ cluster: { nodes }, keyPrefix, nodeTtl: NODE_TTL })
    const y = redisAdapter({ cluster: { nodes }, keyPrefix, nodeTtl: NODE_TTL })
    await started(t, x)
    const yNode = await started(t, y)
    const topics = Array.from({ length: ROOMS }, (_, i) => `room-${i}`)
    for (const topic of topics) await y.subscribe(topic)
    const channels = await Promise.all(shards.map(shardChannels))
    const shardOf = (topic: string): number => channels.findIndex((list) => list.includes(`${keyPrefix}topic:${topic}`))
    const stateShard = channels.findIndex((list) => list.includes(`{${keyPrefix}}control`))
    const lost = [0, 1, 2].find((i) => i !== stateShard && topics.some((topic) => shardOf(topic) === i)) as number
    const gone = topics.find((topic) => shardOf(topic) === lost) as string
    const kept = topics.find((topic) => shardOf(topic) === stateShard) as string
    t.not(gone, undefined, `a topic on shard ${lost}, which does not hold the state`)
    await x.presence.set('alice', entry('a1'))

    await servers[lost].kill()
    await until(async () => !(await x.health()).ok, 5000, 'x unhealthy')
    t.match(await x.health(), { ok: false, reason: new RegExp(`^redis cluster .*: no PONG within 2000 ms from 127\\.0\\.0\\.1:${servers[lost].port}$`) },
      'the reason names the shard that is down')
    await x.publish(kept, { payload: '"while a shard is down"' })
    await until(() => yNode.of(kept).length === 1, 3000, 'a topic of a live shard')
    const lostAt = Date.now()
    for (let i = 0; i < 5; i++) await x.publish(gone, { payload: '"lost"' }).catch(() => {})
    await until(() => x.outgoing.messages === 0, 5000, 'the publishes to the shard that is down to settle')
    t.comment(`publishes to the shard that is down settled in ${Date.now() - lostAt} ms; outgoing ${JSON.stringify(x.outgoing)}`)
    t.equal(await y.presence.count(), 1, 'presence, on another shard, goes on')

    await servers[lost].start()
    const restarted = Date.now()
    await until(async () => {
      await x.publish(gone, { payload: '"after the restart"' }).catch(() => {})
      await delay(50)
      return yNode.of(gone).length > 0
    }, 10_000, 'a message on the restarted shard\'s topic')
    t.comment(`a topic of the restarted shard delivered again ${Date.now() - restarted} ms after redis-server was started`)
    await until(async () => (await x.health()).ok, 10_000, 'x healthy again')
    t.comment(`x healthy again ${Date.now() - restarted} ms after the restart`)
    t.equal(await x.presence.count(), 1)
  })
})

t.test('an unreachable cluster fails init, naming the nodes it was given', async (t) => {
  const adapter = redisAdapter({ cluster: { nodes: ['127.0.0.1:1', { port: 2 }] } })
  await t.rejects(adapter.init(new RecordingNode()),
    { code: 'HAUYNA_REDIS_UNREACHABLE', message: /^Redis at cluster 127\.0\.0\.1:1,127\.0\.0\.1:2 is unreachable: / })
  t.same(await adapter.health(), { ok: false, reason: 'redis cluster 127.0.0.1:1,127.0.0.1:2: adapter not running' })
  await adapter.close()
})
