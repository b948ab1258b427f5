import t, { type Test } from 'tap'
import { Redis } from 'ioredis'
import { type PresenceChange, type RedisAdapter, redisAdapter } from '../lib/index'
import { type Client, connect, delay, type Server, startServer, until } from './helpers'
import { RedisProcess, requireBinary, skipBinary } from './redis-helpers'

// Redis itself goes away here, so the suite runs its own redis-server on a free loopback port
// (never the shared one on 6379): killed with SIGKILL, then started again, empty, on that port.
const NODE_TTL = 600
const START_TIMEOUT_MS = 5000
/** Messages a client publishes during the outage, one every PUBLISH_EVERY_MS (within the default rate limit). */
const OUTAGE_MESSAGES = 200
const PUBLISH_EVERY_MS = 15
/** A local delivery later than this after its publish was not prompt. */
const PROMPT_MS = 250

interface Node {
  server: Server
  adapter: RedisAdapter
  leaves: string[]
  /** `error` events: every error the plugin logs goes through them. */
  errors: Error[]
}

async function startNode (t: Test, port: number): Promise<Node> {
  const adapter = redisAdapter({ url: `redis://127.0.0.1:${port}`, nodeTtl: NODE_TTL })
  const node: Node = { adapter, leaves: [], errors: [], server: undefined as unknown as Server }
  const channels = { policies: { lobby: { presence: true } } }
  node.server = await startServer(t, { adapter, channels }, (app) => {
    app.events.on('presence_change', (change: PresenceChange) => { if (change.event === 'leave') node.leaves.push(change.userId) })
    app.events.on('error', (error: Error) => { node.errors.push(error) })
  })
  return node
}

async function client (t: Test, node: Node, userId: string): Promise<Client> {
  const c = await connect(node.server.url({ userId }))
  t.teardown(() => { c.ws.terminate() })
  return c
}

async function healthStatus (node: Node): Promise<number> {
  return (await fetch(`${node.server.http}/health`)).status
}

/** Milliseconds `promise` took. */
async function timed (promise: Promise<unknown>): Promise<number> {
  const started = Date.now()
  await promise
  return Date.now() - started
}

/** The `message` frames with `data.tag === tag` a client got. */
function tagged (c: Client, tag: string): Array<{ i: number }> {
  return c.all('message').map((f) => f.data).filter((data) => data?.tag === tag)
}

/** Publishes from `from` until `to`, on another node, gets one: Redis carries messages across again. */
async function crossesAgain (from: Client, to: Client, tag: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS
  for (let i = 0; tagged(to, tag).length === 0; i++) {
    if (Date.now() > deadline) throw new Error(`no ${tag} message crossed to the other node`)
    from.send({ type: 'publish', channel: 'room', data: { tag, i } })
    await delay(100)
  }
}

t.test('Redis goes down and comes back empty', { skip: skipBinary }, async (t) => {
  if (!requireBinary(t)) return
  const redis = await RedisProcess.start(t)
  const a = await startNode(t, redis.port)
  const b = await startNode(t, redis.port)
  // Clients opened in one step serve the later ones too: closed when the whole test ends.
  const open = (node: Node, userId: string): Promise<Client> => client(t, node, userId)
  const rawRedis = (): Redis => {
    const raw = new Redis(redis.port, '127.0.0.1')
    t.teardown(() => { raw.disconnect() })
    return raw
  }
  const alice = await open(a, 'alice')
  const bob = await open(a, 'bob')
  const carol = await open(b, 'carol')
  for (const c of [alice, bob, carol]) t.equal((await c.request({ type: 'subscribe', channel: 'room' })).type, 'ack')
  t.equal((await alice.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
  t.equal(await a.server.app.presence.count(), 3)
  let dave: Client | undefined

  await t.test('during the outage: local delivery never waits, publishers hear `unavailable`, connections are accepted', async (t) => {
    await redis.kill()
    await until(async () => await healthStatus(a) === 503, 2000, '/health to answer 503')

    const connectMs = await timed((async () => { dave = await open(a, 'dave') })())
    t.ok(connectMs < 2000, `a new connection gets \`connected\` in ${connectMs} ms`)
    t.equal((await dave!.request({ type: 'subscribe', channel: 'room' })).type, 'ack', 'and subscribes at once')
    t.equal((await dave!.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack', 'even to a presence channel')
    t.ok(alice.all('presence_diff').some((f) => 'dave' in f.joins), 'whose local subscribers hear the join')
    const countMs = await timed((async () => { t.equal(await a.server.app.presence.count(), 3, 'presence.count(): this node\'s users only') })())
    t.ok(countMs < 100, `presence.count() answers in ${countMs} ms`)

    const latencies: number[] = []
    bob.ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString())
      if (frame.type === 'message' && frame.data?.tag === 'outage') latencies.push(Date.now() - frame.data.at)
    })
    const replies: Array<Promise<Record<string, unknown>>> = []
    const started = Date.now()
    for (let i = 0; i < OUTAGE_MESSAGES; i++) {
      replies.push(alice.request({ type: 'publish', channel: 'room', data: { tag: 'outage', i, at: Date.now() } }))
      await delay(PUBLISH_EVERY_MS)
    }
    const answers = await Promise.all(replies)
    t.comment(`${OUTAGE_MESSAGES} publishes over ${Date.now() - started} ms of outage`)
    t.same(answers.filter((f) => f.type !== 'error' || f.code !== 'unavailable'), [], 'every publish is answered `unavailable`, with its ref')
    await until(() => latencies.length === OUTAGE_MESSAGES, 1000, 'every message at the same-node subscriber')
    t.same(tagged(bob, 'outage').map((d) => d.i), [...Array(OUTAGE_MESSAGES).keys()], 'none lost, in order')
    t.ok(Math.max(...latencies) < PROMPT_MS, `each delivered promptly (slowest ${Math.max(...latencies)} ms)`)
    t.ok(a.adapter.outgoing.dropped >= OUTAGE_MESSAGES, `counted as dropped for the other nodes (${a.adapter.outgoing.dropped})`)
    t.equal(a.adapter.outgoing.messages, 0, 'nothing held for Redis')

    await t.rejects(a.server.app.channels.broadcastTo('room', { tag: 'server' }), { code: 'HAUYNA_UNAVAILABLE', delivered: 3 },
      'broadcastTo rejects with HAUYNA_UNAVAILABLE and the local delivery count')
    await until(() => tagged(dave!, 'server').length === 1, 1000, 'the server\'s message delivered locally')
  })

  await t.test('Redis restarted empty: presence is registered again, cross-node delivery resumes', async (t) => {
    const restartMs = await timed(redis.start())
    const started = Date.now()
    await until(async () => await a.server.app.presence.count() === 4 && await b.server.app.presence.count() === 4,
      5 * NODE_TTL, 'both nodes to count alice, bob, dave and carol again')
    t.comment(`presence whole again ${Date.now() - started} ms after Redis answered (restart took ${restartMs} ms)`)
    t.same((await b.server.app.presence.list()).map((p) => p.userId).sort(), ['alice', 'bob', 'carol', 'dave'])
    t.equal(await healthStatus(a), 200)

    await crossesAgain(alice, carol, 'back a→b')
    await crossesAgain(carol, dave!, 'back b→a')
    t.equal((await alice.request({ type: 'publish', channel: 'room', data: { tag: 'acked' } })).type, 'ack', 'publishes are acked again')

    await bob.close()
    await until(() => a.leaves.includes('bob'), 2000, 'the leave of bob')
    t.equal(await b.server.app.presence.count(), 3, 'the other node counts bob gone')
  })

  await t.test('Redis lost the data under a live connection: the heartbeat finds its key gone and registers again', async (t) => {
    await rawRedis().flushall()
    const ms = await timed(until(async () => await a.server.app.presence.count() === 3 && await b.server.app.presence.count() === 3,
      2 * NODE_TTL, 'both nodes to count alice, dave and carol again'))
    t.ok(ms <= 2 * NODE_TTL, `both nodes registered again ${ms} ms after FLUSHALL (nodeTtl ${NODE_TTL} ms)`)
  })

  await t.test('Redis refusing writes (out of memory): a connection is accepted and tracked, and registered by a later beat', async (t) => {
    const raw = rawRedis()
    await raw.config('SET', 'maxmemory', '1')
    await open(a, 'eve')
    await until(async () => (await a.server.app.presence.get('eve')) !== null, 1000, 'eve present on her node')
    await raw.config('SET', 'maxmemory', '0')
    const ms = await timed(until(async () => (await b.server.app.presence.get('eve')) !== null, 2 * NODE_TTL, 'eve on the other node'))
    t.ok(ms <= 2 * NODE_TTL, `eve seen by the other node ${ms} ms after Redis accepted writes again`)
  })

  for (const node of [a, b]) t.same(node.errors, [], 'no error was reported (nor logged) on either node')
  for (const c of [alice, bob, carol, ...dave === undefined ? [] : [dave]]) t.same(c.violations, [], 'every frame matched the protocol')
})
