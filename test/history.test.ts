import t, { type Test } from 'tap'
import type { HauynaOptions, HistoryStore } from '../lib/index'
import { type Client, connect, delay, expectInvalidOptions, type Frame, startServer, until } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'

// Channel history on one node: offsets and epochs on the wire, recovery on subscribe, the
// server API. The same over Redis and several processes: test/redis-history.test.ts.

const options: HauynaOptions = {
  channels: {
    policies: {
      'room*': { history: { size: 50, ttl: 60_000 } },
      'tiny*': { history: { size: 3, ttl: 60_000 } },
      'brief*': { history: { size: 50, ttl: 150 } }
    }
  }
}

interface Position { offset: number, epoch: string }

async function subscribe (client: Client, channel: string, since?: Position): Promise<Frame> {
  const ref = `s-${channel}-${Math.random()}`
  client.send({ type: 'subscribe', channel, since, ref })
  const answer = await client.next((f) => (f.type === 'subscribed' || f.type === 'error') && f.ref === ref)
  if (answer.type === 'error') throw new Error(`subscribe refused: ${JSON.stringify(answer)}`)
  return answer
}

function received (client: Client, channel: string): Frame[] {
  return client.all('message').filter((f) => f.channel === channel)
}

t.test('a history channel numbers its messages; subscribed says where the stream stands', async (t) => {
  const server = await startServer(t, options)
  const alice = await connect(server.url({ userId: 'alice' }))
  const first = await subscribe(alice, 'room')
  t.equal(first.offset, 0, 'a new channel starts at offset 0')
  t.type(first.epoch, 'string')
  t.notOk('recovered' in first, 'a subscribe without since has no recovered field')
  for (let i = 1; i <= 3; i++) t.match(await server.app.channels.publish('room', i), { offset: i, epoch: first.epoch, delivered: 1 })
  t.equal(await server.app.channels.broadcastTo('room', 4), 1, 'broadcastTo still resolves to the deliveries')
  await until(() => received(alice, 'room').length === 4, 2000, 'four messages')
  t.same(received(alice, 'room').map((f) => [f.offset, f.epoch, f.data]), [1, 2, 3, 4].map((i) => [i, first.epoch, i]))

  // A client's publish is numbered in the same stream.
  t.equal((await alice.request({ type: 'publish', channel: 'room', data: 5 })).type, 'ack')
  await until(() => received(alice, 'room').length === 5, 2000, 'the client publish')
  t.equal(received(alice, 'room')[4].offset, 5)

  const bob = await connect(server.url({ userId: 'bob' }))
  t.match(await subscribe(bob, 'room'), { offset: 5, epoch: first.epoch }, 'a later subscriber sees the current position')
  t.equal(received(bob, 'room').length, 0, 'and no replay without since')

  // A channel without history: no offsets anywhere, since answered recovered: false.
  const plain = await subscribe(alice, 'plain', { offset: 3, epoch: first.epoch as string })
  t.notOk('offset' in plain)
  t.equal(plain.recovered, false, 'since on a channel without history cannot be recovered')
  await server.app.channels.broadcastTo('plain', 'x')
  await until(() => received(alice, 'plain').length === 1, 2000, 'the plain message')
  t.notOk('offset' in received(alice, 'plain')[0])
  t.same(await server.app.channels.publish('plain', 'y'), { delivered: 1 }, 'publish() on a channel without history: deliveries only')
  t.same(alice.violations, [])
  t.same(bob.violations, [])
})

t.test('recovery: a subscriber back with since gets exactly what it missed, then live messages', async (t) => {
  const server = await startServer(t, options)
  let alice = await connect(server.url({ userId: 'alice' }))
  const start = await subscribe(alice, 'room')
  await server.app.channels.broadcastTo('room', 'before')
  await until(() => received(alice, 'room').length === 1, 2000, 'the first message')
  const last = received(alice, 'room')[0]
  await alice.close()
  for (let i = 1; i <= 5; i++) await server.app.channels.broadcastTo('room', `missed ${i}`)

  alice = await connect(server.url({ userId: 'alice' }))
  const back = await subscribe(alice, 'room', { offset: last.offset as number, epoch: last.epoch as string })
  t.match(back, { recovered: true, offset: 6, epoch: start.epoch })
  await server.app.channels.broadcastTo('room', 'live')
  await until(() => received(alice, 'room').length === 6, 2000, 'replay and live message')
  t.same(received(alice, 'room').map((f) => [f.offset, f.data]),
    [[2, 'missed 1'], [3, 'missed 2'], [4, 'missed 3'], [5, 'missed 4'], [6, 'missed 5'], [7, 'live']])
  const order = alice.frames.filter((f) => f.type === 'subscribed' || f.type === 'message').map((f) => f.type)
  t.same(order, ['subscribed', 'message', 'message', 'message', 'message', 'message', 'message'], 'subscribed comes first')

  // Nothing missed: recovered, nothing replayed.
  const carol = await connect(server.url({ userId: 'carol' }))
  t.match(await subscribe(carol, 'room', { offset: 7, epoch: start.epoch as string }), { recovered: true, offset: 7 })
  await carol.settle()
  t.equal(received(carol, 'room').length, 0)
  t.same(alice.violations, [])
})

t.test('recovery refused: another epoch, an offset too old or ahead, messages past ttl', async (t) => {
  const server = await startServer(t, options)
  const alice = await connect(server.url({ userId: 'alice' }))
  const { epoch } = await subscribe(alice, 'tiny') as unknown as Position
  for (let i = 1; i <= 10; i++) await server.app.channels.broadcastTo('tiny', i)
  const bob = await connect(server.url({ userId: 'bob' }))
  t.match(await subscribe(bob, 'tiny', { offset: 2, epoch }), { recovered: false, offset: 10, epoch }, 'offset 3 is no longer kept (size 3)')
  t.match(await subscribe(bob, 'tiny', { offset: 7, epoch }), { recovered: true, offset: 10 }, 'offset 8 is: the last three follow')
  t.match(await subscribe(bob, 'tiny', { offset: 4, epoch: 'another-epoch' }), { recovered: false, offset: 10, epoch }, 'another epoch')
  t.match(await subscribe(bob, 'tiny', { offset: 11, epoch }), { recovered: false }, 'an offset the stream never reached')
  await bob.settle()
  t.same(received(bob, 'tiny').map((f) => f.data), [8, 9, 10], 'only the recovered subscribe replayed')

  const brief = await subscribe(alice, 'brief')
  await server.app.channels.broadcastTo('brief', 'old')
  await delay(250)
  await server.app.channels.broadcastTo('brief', 'new')
  t.match(await subscribe(bob, 'brief', { offset: 0, epoch: brief.epoch as string }), { recovered: false, offset: 2 }, 'message 1 outlived its ttl')
  t.match(await subscribe(bob, 'brief', { offset: 1, epoch: brief.epoch as string }), { recovered: true, offset: 2 }, 'message 2 is kept')
  t.same((await server.app.channels.history('brief')).messages.map((m) => m.data), ['new'], 'history() leaves out expired messages')

  const restarted = await startServer(t, options)
  const carol = await connect(restarted.url({ userId: 'carol' }))
  const other = await subscribe(carol, 'tiny', { offset: 10, epoch })
  t.equal(other.recovered, false, 'another process (a restarted memory node) has another epoch')
  t.not(other.epoch, epoch)
  t.same(bob.violations, [])
})

t.test('since is validated like every other field', async (t) => {
  const server = await startServer(t, options)
  const alice = await connect(server.url({ userId: 'alice' }))
  for (const since of [{ offset: -1, epoch: 'e' }, { offset: 1.5, epoch: 'e' }, { offset: '3', epoch: 'e' }, { offset: 1, epoch: '' }, { offset: 1, epoch: 'x'.repeat(65) }, { offset: 1 }, 'since']) {
    const answer = await alice.request({ type: 'subscribe', channel: 'room', since })
    t.match(answer, { type: 'error', code: 'invalid_message' }, `refused: ${JSON.stringify(since)}`)
  }
  t.equal(await server.app.channels.isSubscribed(server.app.connections.byUser('alice')[0], 'room'), false, 'and not subscribed')
})

t.test('channels.history(): the last messages, those after a place, limits, and a channel without history', async (t) => {
  const server = await startServer(t, options)
  for (let i = 1; i <= 8; i++) await server.app.channels.broadcastTo('room', i, { from: 'system' })
  const all = await server.app.channels.history('room')
  t.equal(all.offset, 8)
  t.same(all.messages.map((m) => [m.offset, m.data, m.from, m.channel, m.type]), [1, 2, 3, 4, 5, 6, 7, 8].map((i) => [i, i, 'system', 'room', 'message']))
  t.ok(all.messages.every((m) => m.epoch === all.epoch))
  t.same((await server.app.channels.history('room', { limit: 3 })).messages.map((m) => m.data), [6, 7, 8], 'without since: the last ones')
  const after = await server.app.channels.history('room', { since: { offset: 5, epoch: all.epoch }, limit: 2 })
  t.same(after.messages.map((m) => m.data), [6, 7], 'with since: the first ones after it')
  t.equal(after.complete, true)
  const foreign = await server.app.channels.history('room', { since: { offset: 5, epoch: 'nope' } })
  t.same([foreign.messages, foreign.complete], [[], false], 'another epoch: nothing, not complete')
  t.same((await server.app.channels.history('tiny-quiet')).messages, [], 'a channel never published to')
  await t.rejects(server.app.channels.history('plain'), { code: 'HAUYNA_NO_HISTORY', statusCode: 404 })
  await t.rejects(server.app.channels.history(''), { code: 'HAUYNA_INVALID_NAME' })
})

/**
 * The memory adapter answering history reads a few milliseconds late, as Redis does: publishes
 * then arrive while a subscribe is being answered (in-process reads answer in the same turn).
 */
class DistantHistory extends WrappedAdapter {
  override readonly history: HistoryStore = {
    position: async (topic, policy) => { await delay(2); return await this.inner.history.position(topic, policy) },
    read: async (topic, policy, after, limit) => { await delay(2); return await this.inner.history.read(topic, policy, after, limit) }
  }

  constructor () { super('distant-history') }
}

for (const distant of [false, true]) {
  t.test(`publishes racing with 100 reconnects are neither lost nor duplicated${distant ? ' (history read late)' : ''}`, async (t) => {
    await raceReconnects(t, distant ? { ...options, adapter: new DistantHistory() } : options)
  })
}

async function raceReconnects (t: Test, options: HauynaOptions): Promise<void> {
  const server = await startServer(t, options)
  const sent: number[] = []
  let publishing = true
  const publisher = (async () => {
    for (let i = 1; publishing && i <= 100_000; i++) {
      await server.app.channels.broadcastTo('room-race', i)
      sent.push(i)
      if (i % 5 === 0) await delay(0)
    }
  })()
  const got: number[] = []
  let position: Position | undefined
  let recoveredEvery = true
  for (let round = 0; round < 100; round++) {
    const client = await connect(server.url({ userId: `u${round % 3}` }))
    const answer = await subscribe(client, 'room-race', position)
    if (position !== undefined && answer.recovered !== true) recoveredEvery = false
    position ??= { offset: answer.offset as number, epoch: answer.epoch as string }
    await delay(round % 4)
    await client.close()
    for (const frame of received(client, 'room-race')) {
      got.push(frame.data as number)
      position = { offset: frame.offset as number, epoch: frame.epoch as string }
    }
    if (client.violations.length > 0) t.fail(`violations: ${client.violations.join('; ')}`)
  }
  publishing = false
  await publisher
  t.ok(recoveredEvery, 'every reconnect recovered')
  t.ok(got.length > 100, `messages crossed the reconnects (${got.length} of ${sent.length})`)
  const first = got[0]
  t.same(got, got.map((_, i) => first + i), 'one run of consecutive messages: no gap, no duplicate')
}

t.test('a codec sees the offset and epoch of a history message, and may drop it', async (t) => {
  const server = await startServer(t, {
    ...options,
    codec: {
      encode: (message) => message.type !== 'message' ? message : message.data === 'secret' ? undefined : { kind: 'MSG', body: message.data, seq: message.offset }
    }
  })
  const alice = await connect(server.url({ userId: 'alice' }))
  await alice.request({ type: 'subscribe', channel: 'room' })
  t.match(await server.app.channels.publish('room', 'secret'), { offset: 1, delivered: 0 }, 'dropped by the codec, numbered all the same')
  await server.app.channels.broadcastTo('room', 'hi')
  t.same(await alice.next((f) => f.kind === 'MSG'), { kind: 'MSG', body: 'hi', seq: 2 })
})

t.test('echo: false holds on a history channel', async (t) => {
  const server = await startServer(t, options)
  const alice = await connect(server.url({ userId: 'alice' }))
  const bob = await connect(server.url({ userId: 'bob' }))
  await alice.request({ type: 'subscribe', channel: 'room', echo: false })
  await bob.request({ type: 'subscribe', channel: 'room' })
  t.equal((await alice.request({ type: 'publish', channel: 'room', data: 'mine' })).type, 'ack')
  t.match(await bob.next((f) => f.type === 'message'), { data: 'mine', offset: 1 })
  await alice.settle()
  t.equal(received(alice, 'room').length, 0, 'not echoed to its publisher')
})

t.test('history options are checked at registration', async (t) => {
  const policy = (history: unknown): HauynaOptions => ({ channels: { policies: { room: { history } } } } as unknown as HauynaOptions)
  await expectInvalidOptions(t, [
    ['size 0', policy({ size: 0 }), 'channels.policies["room"].history.size'],
    ['size too large', policy({ size: 10_001 }), 'channels.policies["room"].history.size'],
    ['ttl not a number', policy({ ttl: '5m' }), 'channels.policies["room"].history.ttl'],
    ['positionTtl shorter than ttl', policy({ ttl: 1000, positionTtl: 10 }), 'channels.policies["room"].history.positionTtl'],
    ['history a string', policy('yes'), 'channels.policies["room"].history']
  ])
  const server = await startServer(t, { channels: { policies: { room: { history: true } } } })
  t.match(await server.app.channels.publish('room', 1), { offset: 1 }, '`true` keeps history with the defaults')
  t.throws(() => server.app.channels.policy('later', { history: { size: -1 } }), { code: 'HAUYNA_INVALID_OPTION' }, 'a policy set later is checked too')
})

t.test('channels.subscribe() on the server\'s authority recovers with since too', async (t) => {
  const server = await startServer(t, options)
  const start = await server.app.channels.publish('room', 1)
  for (let i = 2; i <= 4; i++) await server.app.channels.broadcastTo('room', i)
  const alice = await connect(server.url({ userId: 'alice' }))
  const [conn] = server.app.connections.byUser('alice')
  await server.app.channels.subscribe(conn, 'room', { since: { offset: 2, epoch: start.epoch as string } })
  t.match(await alice.next('subscribed'), { channel: 'room', recovered: true, offset: 4 })
  await alice.settle()
  t.same(received(alice, 'room').map((f) => f.data), [3, 4])
})
