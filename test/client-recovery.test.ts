import t from 'tap'
import type { HauynaClient, Unsubscribe } from '../lib/client/index'
import { type HauynaOptions, redisAdapter } from '../lib/index'
import { createClient, gatedServer, nextEvent, record, untilState, publishSteadily, whileAway } from './client-helpers'
import { ClusterNode } from './cluster-nodes'
import { delay, type Server, startServer, until } from './helpers'
import { REDIS_URL, requireRedis, skipRedis, testPrefix } from './redis-helpers'

// The SDK's side of channel history: it resumes every subscription from the last message the
// app got, drops what the app has already, and says whether the gap was recovered. Real servers
// keep the history (the memory adapter here, Redis in the last test); the clients are the SDK.

const fast = { baseDelay: 20, maxDelay: 80, backoffMultiplier: 2, jitter: 0 }

/** `room*` channels keep their last `size` messages, each for five minutes. */
function keeping (size: number): NonNullable<HauynaOptions['channels']> {
  return { policies: { 'room*': { history: { size, ttl: 300_000 } } } }
}

/** What an app's channel handler was given, in order. */
interface Seen {
  data: unknown
  offset?: number
  epoch?: string
  replayed: boolean
}

function subscribeSeen (client: HauynaClient, channel: string, since?: { offset: number, epoch: string }): { seen: Seen[], subscription: Unsubscribe } {
  const seen: Seen[] = []
  const subscription = client.subscribe(channel, ({ data, offset, epoch }, { replayed }) => {
    seen.push({ data, offset, epoch, replayed })
  }, { since })
  return { seen, subscription }
}

async function publish (server: Server, channel: string, data: unknown[]): Promise<void> {
  for (const item of data) await server.app.channels.broadcastTo(channel, item)
}

/** The `subscribe` frames every connection sent to `server`, in order. */
function subscribeFrames (server: Server): Array<Record<string, unknown>> {
  const frames: Array<Record<string, unknown>> = []
  server.app.events.on('connect', (conn) => {
    conn.socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Record<string, unknown>
      if (frame.type === 'subscribe') frames.push(frame)
    })
  })
  return frames
}

t.test('a cut connection resumes where the app was: the missed messages once, in order, replayed, then live', async (t) => {
  const { server, gate } = await gatedServer(t, { channels: keeping(100) })
  const sent = subscribeFrames(server)
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const recoveries = record(client, 'recovery')
  const messages = record(client, 'message')
  const { seen, subscription } = subscribeSeen(client, 'room')
  await client.start()
  const first = await subscription.subscribed
  t.match(first, { channel: 'room', offset: 0, epoch: String }, 'the subscription starts at the stream\'s position')
  t.notOk('recovered' in first, 'nothing to recover on a first subscribe')
  const epoch = first.epoch as string
  t.same(client.position('room'), { offset: 0, epoch }, 'where the subscription started')

  await publish(server, 'room', ['a'])
  await until(() => seen.length === 1, 2000, 'the first message')
  t.same(client.position('room'), { offset: 1, epoch })
  const recovery = nextEvent(client, 'recovery')
  await whileAway(server, gate, client, () => publish(server, 'room', ['b', 'c', 'd']))
  const [info] = await recovery
  t.same(info, { channel: 'room', recovered: true, since: { offset: 1, epoch }, offset: 4, epoch }, 'recovered from offset 1 to 4')
  await until(() => seen.length === 4, 2000, 'the missed messages')
  await publish(server, 'room', ['e'])
  await until(() => seen.length === 5, 2000, 'a live message')

  t.same(seen, [
    { data: 'a', offset: 1, epoch, replayed: false },
    { data: 'b', offset: 2, epoch, replayed: true },
    { data: 'c', offset: 3, epoch, replayed: true },
    { data: 'd', offset: 4, epoch, replayed: true },
    { data: 'e', offset: 5, epoch, replayed: false }
  ], 'every message once, in order, the missed ones marked replayed')
  t.same(messages.map(([m, delivery]) => [m.data, delivery.replayed]), seen.map((s) => [s.data, s.replayed]), 'the message event saw the same')
  t.same(client.position('room'), { offset: 5, epoch })
  t.same(sent.map((frame) => frame.since), [undefined, { offset: 1, epoch }], 'since only on the resubscribe')
  t.equal(recoveries.length, 1, 'one recovery per resubscribe')
})

t.test('a resubscribe with nothing missed recovers nothing and replays nothing', async (t) => {
  const { server, gate } = await gatedServer(t, { channels: keeping(100) })
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const { seen, subscription } = subscribeSeen(client, 'room')
  await client.start()
  const { epoch } = await subscription.subscribed
  const recovery = nextEvent(client, 'recovery')
  await whileAway(server, gate, client, async () => {})
  t.same((await recovery)[0], { channel: 'room', recovered: true, since: { offset: 0, epoch }, offset: 0, epoch },
    'a quiet channel recovers too: its position came with subscribed')
  await publish(server, 'room', ['live'])
  await until(() => seen.length === 1, 2000, 'a live message')
  t.same(seen, [{ data: 'live', offset: 1, epoch, replayed: false }])
})

t.test('a new epoch (the server restarted with its memory adapter): recovered false, nothing replayed, the new stream followed', async (t) => {
  const { server, gate } = await gatedServer(t, { channels: keeping(100) })
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const { seen, subscription } = subscribeSeen(client, 'room')
  await client.start()
  const { epoch } = await subscription.subscribed
  await publish(server, 'room', [1, 2, 3])
  await until(() => seen.length === 3, 2000, 'three messages')

  const recovery = nextEvent(client, 'recovery', () => true, 5000)
  gate.closed = true
  await server.stop()
  await untilState(client, 'reconnecting')
  await server.restart()
  await publish(server, 'room', ['while away, on the new server'])
  gate.closed = false
  const [info] = await recovery
  t.match(info, { channel: 'room', recovered: false, since: { offset: 3, epoch }, offset: 1, epoch: String })
  t.not(info.epoch, epoch, 'another epoch')
  await publish(server, 'room', ['live'])
  await until(() => seen.length === 4, 2000, 'a live message')
  t.same(seen.map((s) => s.data), [1, 2, 3, 'live'], 'nothing replayed: the app reloads its state instead')
  t.same(seen[3], { data: 'live', offset: 2, epoch: info.epoch, replayed: false }, 'the new epoch\'s stream, followed')
  t.same(client.position('room'), { offset: 2, epoch: info.epoch })
})

t.test('an offset older than the history kept: recovered false, nothing replayed, live messages follow', async (t) => {
  const { server, gate } = await gatedServer(t, { channels: keeping(3) })
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const { seen, subscription } = subscribeSeen(client, 'room')
  await client.start()
  const { epoch } = await subscription.subscribed
  await publish(server, 'room', [0])
  await until(() => seen.length === 1, 2000, 'the first message')
  const recovery = nextEvent(client, 'recovery')
  await whileAway(server, gate, client, () => publish(server, 'room', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]))
  t.same((await recovery)[0], { channel: 'room', recovered: false, since: { offset: 1, epoch }, offset: 11, epoch },
    'ten missed, three kept: not recoverable')
  await publish(server, 'room', ['live'])
  await until(() => seen.length === 2, 2000, 'a live message')
  t.same(seen, [
    { data: 0, offset: 1, epoch, replayed: false },
    { data: 'live', offset: 12, epoch, replayed: false }
  ], 'none of the kept three replayed: a partial replay would hide the gap')
})

t.test('a position the app saved resumes a new client: the messages after it, replayed', async (t) => {
  const server = await startServer(t, { channels: keeping(100) })
  const first = createClient(t, server.url({ userId: 'alice' }))
  const before = subscribeSeen(first, 'room')
  await first.start()
  await before.subscription.subscribed
  await publish(server, 'room', [1, 2])
  await until(() => before.seen.length === 2, 2000, 'two messages')
  // What an app would keep in localStorage when the page closes.
  const saved = JSON.stringify(first.position('room'))
  await first.stop()
  await publish(server, 'room', [3, 4])

  const second = createClient(t, server.url({ userId: 'alice' }))
  const recovery = nextEvent(second, 'recovery')
  const after = subscribeSeen(second, 'room', JSON.parse(saved))
  t.same(second.position('room'), JSON.parse(saved), 'the position given, before any answer')
  await second.start()
  const frame = await after.subscription.subscribed
  t.match(frame, { recovered: true, offset: 4 })
  t.match((await recovery)[0], { channel: 'room', recovered: true, since: JSON.parse(saved), offset: 4 })
  await until(() => after.seen.length === 2, 2000, 'the messages after the saved position')
  t.same(after.seen.map((s) => [s.data, s.offset, s.replayed]), [[3, 3, true], [4, 4, true]])
})

t.test('since: refused at once when it is not a position; ignored for a channel already subscribed', async (t) => {
  const server = await startServer(t, { channels: keeping(100) })
  const sent = subscribeFrames(server)
  const client = createClient(t, server.url({ userId: 'alice' }))
  const bad = [null, {}, { offset: -1, epoch: 'e' }, { offset: 1.5, epoch: 'e' }, { offset: 1, epoch: '' }, { offset: '1', epoch: 'e' }]
  for (const since of bad) {
    t.throws(() => client.subscribe('room', () => {}, { since: since as never }), TypeError, JSON.stringify(since))
  }
  t.same(client.status().subscriptions, [], 'nothing subscribed by a refused call')
  const { subscription } = subscribeSeen(client, 'room')
  await client.start()
  const { epoch } = await subscription.subscribed
  client.subscribe('room', () => {}, { since: { offset: 0, epoch: 'elsewhere' } })
  t.same(client.position('room'), { offset: 0, epoch }, 'the subscription keeps its own place')
  // A changed meta is sent again, without since: the server has the subscription, nothing was missed.
  const updated = nextEvent(client, 'subscribed')
  client.subscribe('room', () => {}, { meta: { nick: 'al' } })
  await updated
  t.same(sent.map((frame) => frame.since), [undefined, undefined])
})

t.test('duplicates (offsets the app has already, in the same epoch) are dropped; another epoch starts anew', async (t) => {
  // Frames written to the client's real socket by the server: overlapping offsets, as a replay
  // racing live messages would give, which the server's own fan-out never does.
  const server = await startServer(t, { channels: keeping(100) })
  const client = createClient(t, server.url({ userId: 'alice' }))
  const messages = record(client, 'message')
  const { seen, subscription } = subscribeSeen(client, 'room')
  await client.start()
  const { epoch } = await subscription.subscribed as { epoch: string }
  const socket = server.app.connections.get(client.connectionId as string)?.socket
  const write = (data: unknown, offset: number, at = epoch): void => {
    socket?.send(JSON.stringify({ type: 'message', channel: 'room', from: null, data, ts: new Date().toISOString(), offset, epoch: at }))
  }
  write('one', 1)
  write('two', 2)
  write('one again', 1)
  write('two again', 2)
  write('three', 3)
  write('new epoch', 1, 'other')
  write('new epoch, again', 1, 'other')
  write('new epoch, next', 2, 'other')
  write('new epoch, next again', 2, 'other')
  // The server's own next message comes after every frame written before it.
  await client.publish('room', 'barrier')
  await until(() => seen.length === 6, 2000, 'the barrier')
  const delivered = ['one', 'two', 'three', 'new epoch', 'new epoch, next', 'barrier']
  t.same(seen.map((s) => s.data), delivered)
  t.same(messages.map(([m]) => m.data), delivered, 'the message event drops them too')
  t.same(seen[5], { data: 'barrier', offset: 1, epoch, replayed: false }, 'the server\'s stream is another epoch again: followed')
})

t.test('a channel without history: no since, no recovery event, no position', async (t) => {
  const { server, gate } = await gatedServer(t, { channels: keeping(100) })
  const sent = subscribeFrames(server)
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const recoveries = record(client, 'recovery')
  const { seen, subscription } = subscribeSeen(client, 'lobby')
  await client.start()
  const first = await subscription.subscribed
  t.notOk('offset' in first || 'epoch' in first, 'no position in subscribed')
  await publish(server, 'lobby', ['a'])
  await until(() => seen.length === 1, 2000, 'a message')
  const resubscribed = nextEvent(client, 'subscribed')
  await whileAway(server, gate, client, () => publish(server, 'lobby', ['lost']))
  await resubscribed
  await publish(server, 'lobby', ['b'])
  await until(() => seen.length === 2, 2000, 'a live message')
  t.same(seen, [{ data: 'a', offset: undefined, epoch: undefined, replayed: false }, { data: 'b', offset: undefined, epoch: undefined, replayed: false }],
    'what was published while away is lost: this channel keeps no history')
  t.equal(client.position('lobby'), undefined)
  t.same(sent.map((frame) => frame.since), [undefined, undefined])
  t.same(recoveries, [])
})

t.test('the Redis-backed server killed mid-stream and started again: the app got every message once, in order', { skip: skipRedis }, async (t) => {
  if (!requireRedis(t)) return
  const keyPrefix = testPrefix(t)
  const nodeTtl = 3000
  const policies = keeping(10_000).policies
  // The publisher, a node of the same cluster, publishes without pause while the subscriber's node dies and comes back.
  const publisher = await startServer(t, { adapter: redisAdapter({ url: REDIS_URL, keyPrefix, nodeTtl }), channels: { policies } })
  const config = { redis: { url: REDIS_URL }, keyPrefix, nodeTtl, policies }
  const first = await ClusterNode.start(t, 'a', config)
  const client = createClient(t, first.url('alice'), { retry: fast })
  const recoveries = record(client, 'recovery')
  const got: unknown[] = []
  const room = client.subscribe('room', (m) => { got.push(m.data) })
  await client.start()
  await room.subscribed

  const stream = publishSteadily(t, publisher.app, 'room')
  await until(() => got.length >= 50, 5000, 'the stream to flow')
  await first.kill()
  const killedAt = stream.published
  await until(() => stream.published >= killedAt + 50, 5000, 'messages published while the node is down')
  await ClusterNode.start(t, 'a', { ...config, port: first.port })
  const whileDown = stream.published - killedAt
  await until(() => recoveries.length === 1, 10_000, 'the resubscribe on the restarted node')
  await until(() => got.length >= stream.published, 5000, 'the missed messages and the live ones')
  await stream.stop()
  const published = stream.published
  await until(() => got.length >= published, 5000, 'the last messages')
  await delay(100)

  t.match(recoveries[0][0], { channel: 'room', recovered: true }, 'the gap recovered')
  const expected = Array.from({ length: published }, (_, i) => i + 1)
  const problems = got.filter((n, i) => n !== expected[i])
  t.same(problems.slice(0, 10), [], 'no gap, no duplicate, nothing out of order')
  t.equal(got.length, published, `all ${published} messages, ${whileDown} of them published while the node was down`)
})
