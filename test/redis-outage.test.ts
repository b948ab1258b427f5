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

/** The `reason` of the node's `/health` body; `''` when it has none (200). */
async function healthReason (node: Node): Promise<string> {
  const body = await (await fetch(`${node.server.http}/health`)).json() as { reason?: string }
  return body.reason ?? ''
}

/** The node's `ws_adapter_publish_failures_total`, scraped from its `/metrics`. */
async function publishFailures (node: Node): Promise<number> {
  const text = await (await fetch(`${node.server.http}/metrics`)).text()
  const sample = /^ws_adapter_publish_failures_total (\d+)$/m.exec(text)
  if (sample === null) throw new Error('no ws_adapter_publish_failures_total sample in /metrics')
  return Number(sample[1])
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

async function roomSubscribers (node: Node): Promise<string[]> {
  return (await node.server.app.channels.subscribers('room')).map((s) => s.userId).sort()
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
    // Each connection notices the kill on its own: wait for both to be named.
    const bothDown = new RegExp(`^redis 127\\.0\\.0\\.1:${redis.port}: command connection \\w+, subscriber connection \\w+$`)
    await until(async () => bothDown.test(await healthReason(a)), 2000, '/health to name both connections')
    t.comment(`/health: 503 "${await healthReason(a)}"`)

    const connectMs = await timed((async () => { dave = await open(a, 'dave') })())
    t.ok(connectMs < 2000, `a new connection gets \`connected\` in ${connectMs} ms`)
    t.equal((await dave!.request({ type: 'subscribe', channel: 'room' })).type, 'ack', 'and subscribes at once')
    const failuresBeforeJoin = await publishFailures(a)
    t.equal((await dave!.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack', 'even to a presence channel')
    t.ok(alice.all('presence_diff').some((f) => 'dave' in f.joins), 'whose local subscribers hear the join')
    t.equal(await publishFailures(a), failuresBeforeJoin + 1, 'the join\'s diff, which reached this node only, is counted')
    const countMs = await timed((async () => { t.equal(await a.server.app.presence.count(), 3, 'presence.count(): this node\'s users only') })())
    t.ok(countMs < 100, `presence.count() answers in ${countMs} ms`)

    const latencies: number[] = []
    bob.ws.on('message', (raw) => {
      const frame = JSON.parse(raw.toString())
      if (frame.type === 'message' && frame.data?.tag === 'outage') latencies.push(Date.now() - frame.data.at)
    })
    const failuresBefore = await publishFailures(a)
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
    const seen = answers.filter((f) => f.code === 'unavailable').length + 1
    t.equal(await publishFailures(a) - failuresBefore, seen,
      `ws_adapter_publish_failures_total grew by the ${seen} failures the publishers saw (client frames and the service call)`)
    t.equal(await publishFailures(b), 0, 'the node that published nothing counts none')
  })

  await t.test('Redis restarted empty: presence is registered again, cross-node delivery resumes', async (t) => {
    const restartMs = await timed(redis.start())
    const started = Date.now()
    await until(async () => await a.server.app.presence.count() === 4 && await b.server.app.presence.count() === 4,
      5 * NODE_TTL, 'both nodes to count alice, bob, dave and carol again')
    t.comment(`presence whole again ${Date.now() - started} ms after Redis answered (restart took ${restartMs} ms)`)
    t.same((await b.server.app.presence.list()).map((p) => p.userId).sort(), ['alice', 'bob', 'carol', 'dave'])
    await until(async () => (await roomSubscribers(b)).length === 4, 2 * NODE_TTL, 'the other node to list room\'s subscribers again')
    t.same(await roomSubscribers(b), ['alice', 'bob', 'carol', 'dave'], 'subscriptions are registered again, those made during the outage too')
    t.same((await b.server.app.presence.list({ channel: 'lobby' })).map((p) => p.userId).sort(), ['alice', 'dave'])
    t.equal(await healthStatus(a), 200)
    t.equal(await healthReason(a), '', 'and no reason')

    await crossesAgain(alice, carol, 'back a→b')
    await crossesAgain(carol, dave!, 'back b→a')
    t.equal((await alice.request({ type: 'publish', channel: 'room', data: { tag: 'acked' } })).type, 'ack', 'publishes are acked again')
    await b.server.app.groups.add('dave', 'night')
    t.same(await a.server.app.groups.members('night'), [{ userId: 'dave', role: undefined }], 'groups are shared again')
    await until(() => a.server.app.connections.byUser('dave')[0]?.groups.has('night') === true, 2000, 'dave, who connected during the outage, to follow')
    t.equal(await a.server.app.groups.sendTo('night', { tag: 'night' }), 1)
    await until(() => dave!.all('group').length === 1, 2000, 'the group message')

    await bob.close()
    await until(() => a.leaves.includes('bob'), 2000, 'the leave of bob')
    t.equal(await b.server.app.presence.count(), 3, 'the other node counts bob gone')
  })

  await t.test('Redis lost the data under a live connection: the heartbeat finds its key gone and registers again', async (t) => {
    await rawRedis().flushall()
    const ms = await timed(until(async () => await a.server.app.presence.count() === 3 && await b.server.app.presence.count() === 3,
      2 * NODE_TTL, 'both nodes to count alice, dave and carol again'))
    t.ok(ms <= 2 * NODE_TTL, `both nodes registered again ${ms} ms after FLUSHALL (nodeTtl ${NODE_TTL} ms)`)
    await until(async () => (await roomSubscribers(b)).length === 3, 2 * NODE_TTL, 'room\'s subscribers registered again')
    t.same(await roomSubscribers(a), ['alice', 'carol', 'dave'], 'and their subscriptions')
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

// The 10 s outage measured under steady traffic: a publisher on A numbers its messages, one
// every FEED_EVERY_MS, FEED_BEFORE_MS before the kill, through the outage, and FEED_AFTER_MS
// after Redis answers again; a subscriber on A and one on B record what they get.
const FEED_EVERY_MS = 20
const FEED_BEFORE_MS = 3000
const OUTAGE_MS = 10_000
const FEED_AFTER_MS = 4000
/** Every message published this long after Redis answers must cross: ioredis retries a lost connection at least every 2 s. */
const RESUME_WITHIN_MS = 3000

interface Arrival { i: number, at: number }

/** A client publishing 0, 1, 2… on `feed`, each number also its `ref`, until stopped. */
class Feed {
  readonly sentAt: number[] = []
  private running = true
  private readonly done: Promise<void>

  constructor (private readonly client: Client) {
    this.done = this.run()
  }

  get count (): number {
    return this.sentAt.length
  }

  stop (): Promise<void> {
    this.running = false
    return this.done
  }

  /** How each message was answered: `ack`, or the error's code. */
  answers (): string[] {
    const answers: string[] = []
    for (const f of this.client.frames) {
      if ((f.type === 'ack' || f.type === 'error') && typeof f.ref === 'number') answers[f.ref] = f.code ?? f.type
    }
    return answers
  }

  private async run (): Promise<void> {
    while (this.running) {
      this.client.send({ type: 'publish', channel: 'feed', data: { i: this.count }, ref: this.count })
      this.sentAt.push(Date.now())
      await delay(FEED_EVERY_MS)
    }
  }
}

/** Every feed message `c` receives, by number, with the time it came. */
function arrivals (c: Client): Arrival[] {
  const log: Arrival[] = []
  c.ws.on('message', (raw) => {
    const frame = JSON.parse(raw.toString())
    if (frame.type === 'message' && frame.channel === 'feed') log.push({ i: frame.data.i, at: Date.now() })
  })
  return log
}

/**
 * Kills Redis when B has every message published so far, so that none is inside Redis when it
 * dies. SIGKILL is sent before `kill()` first waits: nothing is published in between. Resolves
 * to how many messages were published before the kill.
 */
async function killCaughtUp (redis: RedisProcess, feed: Feed, remote: Arrival[]): Promise<number> {
  await until(() => remote.at(-1)?.i === feed.count - 1, 2000, 'B to have every message published so far')
  const before = feed.count
  await redis.kill()
  return before
}

/** The first number from which every message up to the last one reached B. */
function unbrokenFrom (received: Set<number>, published: number): number {
  let from = published
  while (from > 0 && received.has(from - 1)) from--
  return from
}

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k)
const missing = (received: Set<number>, from: number, to: number): number => range(from, to).filter((i) => !received.has(i)).length

t.test('a 10 s outage under steady traffic: what the other node loses, and how soon delivery resumes', { skip: skipBinary }, async (t) => {
  if (!requireBinary(t)) return
  const redis = await RedisProcess.start(t)
  const a = await startNode(t, redis.port)
  const b = await startNode(t, redis.port)
  const publisher = await client(t, a, 'publisher')
  const onA = await client(t, a, 'local')
  const onB = await client(t, b, 'remote')
  // Only a channel's subscribers may publish on it.
  for (const c of [publisher, onA, onB]) t.equal((await c.request({ type: 'subscribe', channel: 'feed' })).type, 'ack')
  const local = arrivals(onA)
  const remote = arrivals(onB)

  const feed = new Feed(publisher)
  t.teardown(() => feed.stop())
  await delay(FEED_BEFORE_MS)
  const beforeKill = await killCaughtUp(redis, feed, remote)
  await delay(OUTAGE_MS)
  await redis.start()
  const answeredAt = Date.now()
  const beforeAnswer = feed.count
  await delay(FEED_AFTER_MS)
  await feed.stop()
  const published = feed.count
  await until(() => local.length === published && feed.answers().filter(Boolean).length === published, 2000, 'every message on A, every publish answered')
  await until(() => remote.at(-1)?.i === published - 1, 2000, 'the last message on B')

  const received = new Set(remote.map((r) => r.i))
  t.same(remote.map((r) => r.i), [...received].sort((x, y) => x - y), 'B got no message twice, none out of order')
  t.same(local.map((r) => r.i), range(0, published), 'A\'s own subscriber got every message, once, in order')
  t.equal(missing(received, 0, beforeKill), 0, `every message published before the kill (${beforeKill}) reached B`)
  const from = unbrokenFrom(received, published)
  const resumeMs = feed.sentAt[from] - answeredAt
  t.ok(resumeMs <= RESUME_WITHIN_MS, `every message published from ${resumeMs} ms after Redis answered reached B (bound ${RESUME_WITHIN_MS} ms)`)
  const answers = feed.answers()
  const unavailable = answers.filter((code) => code === 'unavailable').length
  t.same(answers.filter((code) => code !== 'ack' && code !== 'unavailable'), [], 'every publish answered `ack` or `unavailable`')
  t.equal(await publishFailures(a), unavailable, `ws_adapter_publish_failures_total is the ${unavailable} \`unavailable\` answers`)

  const firstAcrossMs = (remote.find((r) => r.i >= beforeKill)?.at ?? NaN) - answeredAt
  t.comment(`published ${published}: ${beforeKill} before the kill, ${beforeAnswer - beforeKill} during the ${OUTAGE_MS} ms outage, ` +
    `${published - beforeAnswer} after Redis answered`)
  t.comment(`lost on B ${published - received.size}: ${missing(received, beforeKill, beforeAnswer)} published during the outage, ` +
    `${missing(received, beforeAnswer, published)} after Redis answered; ${unavailable} publishes answered \`unavailable\``)
  t.comment(`first message across ${firstAcrossMs} ms after Redis answered; every message published from ${resumeMs} ms on reached B`)
  for (const node of [a, b]) t.same(node.errors, [], 'no error was reported (nor logged) on either node')
  for (const c of [publisher, onA, onB]) t.same(c.violations, [], 'every frame matched the protocol')
})

t.test('a node cut off longer than nodeTtl: its users leave everywhere, and come back with it', { skip: skipBinary }, async (t) => {
  if (!requireBinary(t)) return
  const redis = await RedisProcess.start(t)
  // Node a runs its commands on the test's own client, so the test can cut it off alone.
  const client = new Redis(redis.port, '127.0.0.1')
  client.on('error', () => {})
  t.teardown(() => { client.disconnect() })
  const options = { nodeTtl: 300, keyPrefix: 'cut:' }
  const changes: string[] = []
  const record = (change: PresenceChange): void => { changes.push(`${change.event} ${change.userId}`) }
  const channels = { policies: { lobby: { presence: true } } }
  const a = await startServer(t, { adapter: redisAdapter({ client, ...options }), channels })
  const b = await startServer(t, { adapter: redisAdapter({ url: redis.url, ...options }), channels }, (app) => {
    app.events.on('presence_change', record)
  })
  const alice = await connect(a.url({ userId: 'alice' }))
  const bob = await connect(b.url({ userId: 'bob' }))
  t.teardown(() => { alice.ws.terminate(); bob.ws.terminate() })
  for (const c of [bob, alice]) t.equal((await c.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
  const diffs = (side: 'joins' | 'leaves'): number => bob.all('presence_diff').filter((f) => 'alice' in f[side]).length
  await until(() => diffs('joins') === 1, 2000, 'alice\'s join')

  client.disconnect()
  await until(() => diffs('leaves') === 1 && changes.includes('leave alice'), 3000, 'alice announced gone by node b')
  t.same(await b.app.channels.subscribers('lobby').then((s) => s.map((x) => x.userId)), ['bob'])
  await client.connect()
  await until(() => diffs('joins') === 2 && changes.includes('join alice'), 3000, 'alice announced back')
  await delay(300)
  t.same(changes.filter((c) => c.endsWith('alice')), ['leave alice', 'join alice'], 'presence_change on node b: gone, then back, once each')
  t.equal(diffs('joins'), 2, 'bob saw her join, and join again once')
  t.same((await b.app.channels.subscribers('lobby')).map((s) => s.userId).sort(), ['alice', 'bob'], 'her subscription is shared again')
  t.same(bob.violations, [])
})
