import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { type Adapter, redisAdapter } from '../lib/index'
import { entry, membership, RecordingNode } from './adapter-contract'
import { delay, until } from './helpers'
import { commandStat, freePort, keysUnder, RedisProcess, requireBinary, skipBinary } from './redis-helpers'

// The Redis adapter against a redis-server of each test's own (never the shared one on 6379):
// these tests kill it, pause it, restart it from a snapshot, refuse connections and change its
// configuration, and read its command statistics, which no other test may disturb.

async function started (t: Test, adapter: Adapter): Promise<RecordingNode> {
  const node = new RecordingNode()
  await adapter.init(node)
  t.teardown(() => adapter.close())
  return node
}

/** The value `promise` settled with, and the milliseconds it took. */
async function timed<T> (promise: Promise<T>): Promise<{ value: T, ms: number }> {
  const started = Date.now()
  const value = await promise
  return { value, ms: Date.now() - started }
}

/** An app's own ioredis client, with an error listener (the app's business), closed when `t` ends. */
function appClient (t: Test, server: RedisProcess): Redis {
  const client = new Redis(server.port, '127.0.0.1')
  client.on('error', () => {})
  t.teardown(() => { client.disconnect() })
  return client
}

/** Commands ioredis holds for `client` until it is connected again. */
function offlineQueueLength (client: Redis): number {
  return (client as unknown as { offlineQueue: { length: number } }).offlineQueue.length
}

const ids = (entries: Array<{ connectionId: string }>): string[] => entries.map((e) => e.connectionId).sort()

t.test('the Redis adapter against its own redis-server', { skip: skipBinary }, async (t) => {
  if (!requireBinary(t)) return

  t.test('the default keyPrefix is hauyna:, for keys and pub/sub channels', async (t) => {
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    const adapter = redisAdapter({ url: server.url })
    const node = await started(t, adapter)
    await adapter.presence.set('alice', entry('a1'))
    await adapter.subscribe('room')
    t.same(await keysUnder(redis, ''), [
      `hauyna:node:${node.nodeId}`, 'hauyna:nodes', 'hauyna:nodes:info', `hauyna:presence:node:${node.nodeId}`,
      'hauyna:presence:owners', 'hauyna:presence:user:alice', 'hauyna:presence:users'
    ].sort())
    t.same((await redis.pubsub('CHANNELS', '*') as string[]).sort(), ['hauyna:control', 'hauyna:topic:room'])
    await adapter.close()
    t.same(await keysUnder(redis, ''), [], 'a clean close leaves nothing')
  })

  t.test('scripts go to Redis in full only when it lacks them, not again on other errors', async (t) => {
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    // Beats every 20 s: none during the test, so every script run below is the test's own.
    const adapter = redisAdapter({ url: server.url, nodeTtl: 60_000 })
    await started(t, adapter)
    const inFull = (): Promise<number> => commandStat(redis, 'eval', 'calls')
    const bySha = (): Promise<number> => commandStat(redis, 'evalsha', 'calls')
    // The command connection's first 'ready' is init's own: it does not register a second time.
    t.same([await inFull(), await bySha()], [2, 2], 'one registration of presence and one of shared sets: each tried by SHA1, then sent in full')
    async function work (): Promise<void> {
      t.equal(await adapter.presence.set('alice', entry('a1')), 1)
      t.same([...(await adapter.presence.all()).keys()], ['alice'])
      t.equal(await adapter.presence.remove('alice', 'a1'), 0)
    }
    await work()
    t.equal(await inFull(), 5, 'the two registrations, set, all and remove scripts, each sent in full once')
    const sha = await bySha()
    await work()
    await work()
    t.equal(await inFull(), 5, 'then run by their SHA1')
    t.equal(await bySha(), sha + 6)

    await redis.script('FLUSH')
    await work()
    t.equal(await inFull(), 8, 'after SCRIPT FLUSH, each script used is sent in full once more')

    await redis.config('SET', 'maxmemory', '1')
    t.equal(await adapter.presence.set('bob', entry('b1')), 1, 'Redis refused the write (out of memory): this node\'s count')
    await redis.config('SET', 'maxmemory', '0')
    t.equal(await bySha(), sha + 10, 'the refused write was sent by SHA1')
    t.equal(await inFull(), 8, 'and not sent again in full: Redis had the script')
  })

  t.test('a publish that Redis refuses is counted as dropped, and leaves the queue', async (t) => {
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    const adapter = redisAdapter({ url: server.url })
    const node = await started(t, adapter)
    node.subscribers.set('room', 1)
    await redis.acl('SETUSER', 'default', '-publish')
    t.equal(await adapter.publish('room', { payload: '{"n":1}' }), 1, 'sent: the publisher hears of its local delivery')
    await until(() => adapter.outgoing.messages === 0, 2000, 'Redis to answer')
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: 1 }, 'refused (NOPERM): dropped')
    await redis.acl('SETUSER', 'default', '+publish')
    t.equal(await adapter.publish('room', { payload: '{"n":2}' }), 1)
    await until(() => adapter.outgoing.messages === 0, 2000, 'Redis to answer')
    t.same(adapter.outgoing, { messages: 0, bytes: 0, dropped: 1 }, 'accepted: not dropped')
  })

  t.test('Redis refusing writes across a beat (a read-only replica): the failed registration is tried again on the next beat', async (t) => {
    // A beat every 2 s; a node's key lives 6 s: it is still there when Redis accepts writes again,
    // so only the failed registration, remembered, gets the node's entries written back.
    const NODE_TTL = 6000
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    const adapter = redisAdapter({ url: server.url, nodeTtl: NODE_TTL })
    const node = await started(t, adapter)
    await adapter.presence.set('alice', entry('a1'))
    const key = `hauyna:node:${node.nodeId}`
    let last = await redis.pttl(key)
    await until(async () => { const now = await redis.pttl(key); const beat = now > last; last = now; return beat }, NODE_TTL, 'a beat')

    // As after a failover: the server turns replica of a master it cannot reach, keeps its data and refuses writes.
    await redis.replicaof('127.0.0.1', await freePort())
    t.equal(await adapter.presence.set('bob', entry('b1')), 1, 'bob tracked on this node; Redis refused the write')
    const failed = await commandStat(redis, 'evalsha', 'failed_calls')
    await until(async () => await commandStat(redis, 'evalsha', 'failed_calls') > failed, NODE_TTL, 'the next beat to try a registration')
    t.same(await redis.hkeys('hauyna:presence:user:bob'), [], 'refused')
    await redis.replicaof('NO', 'ONE')
    t.equal(await redis.exists(key), 1, 'the node\'s key is still there: a beat alone would not register')
    await until(async () => (await redis.hkeys('hauyna:presence:user:bob')).length === 1, NODE_TTL / 3 + 1000, 'bob written by the beat after')
    t.same((await redis.smembers('hauyna:presence:users')).sort(), ['alice', 'bob'])
  })

  t.test('a stalled Redis: reads answer from this node within the command timeout, health fails, beats do not pile up', async (t) => {
    const PAUSE_MS = 2500
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    const adapter = redisAdapter({ url: server.url, nodeTtl: 300 })
    const node = await started(t, adapter)
    await adapter.presence.set('alice', entry('a1'))
    const scripts = async (): Promise<number> => await commandStat(redis, 'evalsha', 'calls') + await commandStat(redis, 'eval', 'calls')
    const before = await scripts()

    // Every client's commands wait, the adapter's connections stay up: a Redis that is slow, not down.
    await redis.call('CLIENT', 'PAUSE', String(PAUSE_MS), 'ALL')
    const paused = Date.now()
    const [count, health] = await Promise.all([timed(adapter.presence.count()), timed(adapter.health())])
    t.equal(count.value, 1, 'presence.count(): this node\'s users')
    t.ok(count.ms < 2000, `presence.count() answered in ${count.ms} ms, without Redis`)
    t.same(health.value, { ok: false, reason: `redis 127.0.0.1:${server.port}: no PONG within 2000 ms` }, 'unhealthy when Redis does not answer')
    t.ok(Date.now() - paused < PAUSE_MS, 'both answered before Redis did')

    // Redis answers again: once this node's key was refreshed after the pause, every command the
    // adapter sent during it has run (one connection, in order).
    await redis.ping()
    const key = `hauyna:node:${node.nodeId}`
    let last = await redis.pttl(key)
    await until(async () => { const now = await redis.pttl(key); const beat = now > last; last = now; return beat }, 2000, 'a beat after the pause')
    const sent = await scripts() - before
    // A beat every 100 ms would be 25 during the pause: one at a time, each waited for 2 s at most.
    t.ok(sent < 12, `${sent} scripts ran for a ${PAUSE_MS} ms pause with a beat due every 100 ms`)
  })

  t.test('Redis unreachable: every call answers at once, nothing is queued for later, nothing logged, close does not wait', async (t) => {
    const server = await RedisProcess.start(t)
    const client = appClient(t, server)
    const logged: unknown[][] = []
    const consoleError = console.error
    console.error = (...args: unknown[]) => { logged.push(args) }
    t.teardown(() => { console.error = consoleError })
    const adapter = redisAdapter({ client, keyPrefix: 'app:', nodeTtl: 300 })
    const node = await started(t, adapter)
    node.subscribers.set('room', 1)
    await adapter.subscribe('room')
    await adapter.presence.set('alice', entry('a1'))
    await adapter.presence.set('alice', entry('a2'))
    await adapter.members.add('channel', 'room', membership('a1', 'alice'))

    await server.kill()
    await until(() => client.status !== 'ready', 2000, 'the app\'s client to notice')
    const calls = await timed((async () => {
      // The subscriber connection may not have noticed yet.
      t.match(await adapter.health(), { ok: false, reason: /^redis 127\.0\.0\.1:\d+: command connection \w+(, subscriber connection \w+)?$/ },
        'not healthy, naming the connection down')
      t.equal(await adapter.presence.set('bob', entry('b1')), 1, 'set: this node\'s count')
      t.equal(await adapter.presence.remove('alice', 'a1'), 1, 'remove: this node\'s count')
      t.same(ids(await adapter.presence.get('alice')), ['a2'], 'get: this node\'s entries')
      t.equal(await adapter.presence.count(), 2, 'count: this node\'s users')
      const all = await adapter.presence.all()
      t.same([...all.keys()].sort(), ['alice', 'bob'], 'all: this node\'s users')
      t.same(ids(all.get('alice') ?? []), ['a2'])
      await adapter.subscribe('gained')
      await adapter.unsubscribe('room')
      await t.rejects(adapter.publish('room', { payload: '{}' }), { code: 'HAUYNA_UNAVAILABLE', delivered: 1 })
      t.same(await adapter.members.users('channel', 'room'), new Map([['alice', 1]]), 'shared sets: this node\'s members')
      t.equal(await adapter.members.add('channel', 'room', membership('a2', 'alice')), 2, 'added on this node, written back later')
      const refused = { code: 'HAUYNA_STATE_UNAVAILABLE', statusCode: 503 }
      await t.rejects(adapter.groups.add('staff', 'alice', undefined), refused, 'added groups are nobody\'s to answer for in part: an error')
      await t.rejects(adapter.groups.of('alice'), refused)
    })())
    t.ok(calls.ms < 500, `every call answered in ${calls.ms} ms`)

    // Bounded and unavoidable: heartbeats are due every 100 ms; none may wait in ioredis's
    // offline queue for the reconnect.
    await delay(500)
    t.equal(offlineQueueLength(client), 0, 'nothing queued on the app\'s client')
    const closed = await timed(adapter.close())
    t.ok(closed.ms < 1000, `close() took ${closed.ms} ms`)
    t.not(client.status, 'end', 'the app\'s client is left to the app')
    t.same(logged.filter((args) => String(args[0]).includes('ioredis')), [], 'ioredis printed no connection error')
  })

  t.test('Redis restarted from an older snapshot: the node writes its entries back as they are now', async (t) => {
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    // Beats every 20 s: only the reconnect can repair what the snapshot got wrong.
    const adapter = redisAdapter({ url: server.url, nodeTtl: 60_000 })
    const node = await started(t, adapter)
    await adapter.presence.set('bob', entry('b1'))
    await adapter.members.add('channel', 'room', membership('b1', 'bob'))
    await adapter.groups.add('staff', 'bob', 'lead')
    await redis.save()
    await adapter.presence.remove('bob', 'b1')
    await adapter.members.remove('channel', 'room', 'bob', 'b1')
    await adapter.presence.set('alice', entry('a1'))
    await adapter.members.add('channel', 'room', membership('a1', 'alice'))
    t.equal(node.reconnections, 0, 'no outage yet')

    await server.kill()
    await server.start()
    await until(() => node.reconnections === 1, 3000, 'the node to hear that the adapter is back')
    await until(async () => (await redis.hkeys('hauyna:presence:user:alice').catch(() => [])).length === 1, 3000,
      'alice, tracked after the snapshot, written back')
    t.same(await redis.hkeys('hauyna:presence:user:bob'), [], 'bob, gone since the snapshot, dropped')
    t.same(await redis.smembers('hauyna:presence:users'), ['alice'])
    t.equal(await redis.hget('hauyna:presence:owners', 'a1'), node.nodeId)
    t.equal(await adapter.presence.count(), 1)
    await until(async () => (await adapter.members.users('channel', 'room')).has('alice'), 3000, 'the shared sets written back')
    t.same(await adapter.members.users('channel', 'room'), new Map([['alice', 1]]), 'shared sets as they are now, not as saved')
    t.same(await adapter.groups.of('bob'), new Map([['staff', 'lead']]), 'added groups as Redis kept them: nobody mirrors them')
  })

  t.test('history: after FLUSHALL, the next position or append starts a new epoch, which no old position continues', async (t) => {
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    const adapter = redisAdapter({ url: server.url })
    const node = await started(t, adapter)
    node.subscribers.set('room', 1)
    await adapter.subscribe('room')
    const policy = { size: 10, ttl: 60_000, positionTtl: 60_000 }
    for (const n of [1, 2, 3]) await adapter.append('room', { payload: `{"n":${n}}` }, policy)
    const { epoch } = await adapter.history.position('room', policy)
    await redis.flushall()
    const flushed = await adapter.history.position('room', policy)
    t.equal(flushed.offset, 0, 'from offset 0')
    t.not(flushed.epoch, epoch, 'under a new epoch')
    t.same(await adapter.history.read('room', policy, { epoch, offset: 3 }, 10), { offset: 0, epoch: flushed.epoch, entries: [], complete: false },
      'a subscriber at 3 of the old epoch learns that its place is gone')
    t.same(await adapter.append('room', { payload: '{"n":4}' }, policy), { offset: 1, epoch: flushed.epoch, delivered: 1 })
    await redis.flushall()
    const appended = await adapter.append('room', { payload: '{"n":5}' }, policy)
    t.equal(appended.offset, 1, 'an append after a flush starts the stream itself')
    t.not(appended.epoch, flushed.epoch)
    t.same(node.of('room').map((e) => [e.offset, e.epoch]), [[1, epoch], [2, epoch], [3, epoch], [1, flushed.epoch], [1, appended.epoch]],
      'each delivered with its place')
  })

  t.test('one connection lost: unhealthy until both are back; the subscriber gets what is wanted now, in batches', async (t) => {
    const server = await RedisProcess.start(t)
    const redis = server.connection(t)
    const client = appClient(t, server)
    const adapter = redisAdapter({ client, keyPrefix: 'app:', nodeTtl: 60_000 })
    await started(t, adapter)
    const topics = Array.from({ length: 2500 }, (_, i) => `t${i}`)
    await Promise.all([...topics, 'left'].map((topic) => adapter.subscribe(topic)))
    const channels = async (): Promise<string[]> => (await redis.pubsub('CHANNELS', 'app:topic:*') as string[]).sort()
    t.equal((await channels()).length, 2501)
    t.same(await adapter.health(), { ok: true })

    const monitor = await redis.monitor()
    t.teardown(() => { monitor.disconnect() })
    const subscribes: string[][] = []
    monitor.on('monitor', (_time: string, args: string[]) => { if (args[0].toLowerCase() === 'subscribe') subscribes.push(args.slice(1)) })
    // The subscriber connection drops, and cannot come back while Redis refuses a fourth client.
    await redis.config('SET', 'maxclients', '3')
    await redis.client('KILL', 'TYPE', 'pubsub')
    await until(async () => (await channels()).length === 0, 2000, 'the subscriber connection gone')
    // Its connection sees the kill a moment later; the command connection is up all along.
    await until(async () => !(await adapter.health()).ok, 2000, 'unhealthy without its subscriber connection')
    t.match(await adapter.health(), { reason: /^redis 127\.0\.0\.1:\d+: subscriber connection \w+$/ }, 'which it names')
    await adapter.unsubscribe('left')
    await adapter.subscribe('gained')

    await redis.config('SET', 'maxclients', '10000')
    const wanted = [...topics, 'gained'].map((topic) => `app:topic:${topic}`)
    await until(async () => (await channels()).includes('app:topic:gained'), 3000, 'the subscriber back')
    t.same(await channels(), [...wanted].sort(), 'the topics wanted now: not the one left while it was down')
    t.same(subscribes.map((batch) => batch.length), [1000, 1000, 502], 'subscribed again in batches of 1000')
    t.same(subscribes.flat().sort(), ['app:control', ...wanted].sort(), 'the control channel too')
    await until(async () => (await adapter.health()).ok, 2000, 'healthy again')

    // The command connection drops and cannot come back.
    const id = await client.client('ID')
    await redis.config('SET', 'maxclients', '3')
    await redis.client('KILL', 'ID', String(id))
    await until(() => client.status !== 'ready', 2000, 'the app\'s client to notice')
    const health = await timed(adapter.health())
    t.match(health.value, { ok: false, reason: /^redis 127\.0\.0\.1:\d+: command connection \w+$/ }, 'unhealthy without its command connection')
    t.ok(health.ms < 1000, `and says so in ${health.ms} ms`)
    await redis.config('SET', 'maxclients', '10000')
    await until(async () => (await adapter.health()).ok, 3000, 'healthy again')
    t.equal(await commandStat(redis, 'subscribe', 'rejected_calls'), 0, 'no SUBSCRIBE was refused')
  })
})
