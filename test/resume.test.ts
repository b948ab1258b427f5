import t from 'tap'
import type { HauynaOptions } from '../lib/index'
import type { SessionStore } from '../lib/index'
import { type Client, connect, delay, expectInvalidOptions, type Frame, LogSink, startServer, until } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'

// Session resume on one node. Across nodes over Redis: test/redis-history.test.ts.

const WINDOW = 1500
const options: HauynaOptions = {
  resume: { window: WINDOW },
  channels: { policies: { room: { presence: true }, 'news*': { history: { size: 20, ttl: 60_000 } } } }
}

/** The memory adapter with a session store that cannot keep anything (a store that is down). */
class FailingSessions extends WrappedAdapter {
  override readonly sessions: SessionStore = {
    save: async () => { throw new Error('session store down') },
    take: async () => undefined
  }

  constructor () { super('failing-sessions') }
}

/** Drops the socket without a closing handshake: the server sees 1006, as after a network loss. */
function dropNetwork (client: Client): void {
  client.ws.terminate()
}

function diffsOf (client: Client): Frame[] {
  return client.all('presence_diff').filter((f) => Object.keys(f.joins).length + Object.keys(f.leaves).length > 0)
}

t.test('resume is off by default: no token, and a resume finds nothing', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  t.notOk('resume' in alice.all('connected')[0], 'connected carries no token')
  t.match(await alice.request({ type: 'resume', token: 'anything' }), { type: 'error', code: 'resume_failed' })
})

t.test('a dropped connection is taken over: subscriptions, metas and presence, without a leave or join', async (t) => {
  const server = await startServer(t, options)
  const states: string[] = []
  server.app.events.on('state_change', (conn, _from, to) => { if (conn.userId === 'alice') states.push(to) })
  const bob = await connect(server.url({ userId: 'bob' }))
  t.equal((await bob.request({ type: 'subscribe', channel: 'room' })).type, 'ack')
  const alice = await connect(server.url({ userId: 'alice' }))
  const token = alice.all('connected')[0].resume as string
  t.type(token, 'string')
  t.equal((await alice.request({ type: 'subscribe', channel: 'room', meta: { seat: 7 }, echo: false })).type, 'ack')
  t.equal((await alice.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
  t.equal((await alice.request({ type: 'presence', status: 'away', meta: { mood: 'busy' } })).type, 'ack')
  await until(() => diffsOf(bob).length === 1, 2000, 'alice joining room')

  dropNetwork(alice)
  await until(() => states.includes('reconnecting'), 2000, 'the old connection reconnecting')
  const back = await connect(server.url({ userId: 'alice' }))
  t.not(back.all('connected')[0].resume, token, 'the new connection has a token of its own')
  t.equal((await back.request({ type: 'resume', token })).type, 'ack')
  t.same(back.all('subscribed').map((f) => f.channel).sort(), ['lobby', 'room'], 'subscribed again to both channels')
  const [newAlice] = server.app.connections.byUser('alice')
  t.same([...newAlice.subscriptions].map(([channel, { meta, echo }]) => [channel, meta, echo]).sort(),
    [['lobby', {}, true], ['room', { seat: 7 }, false]], 'with their metas and echo')
  t.match(await server.app.presence.get('alice'), { status: 'away', meta: { mood: 'busy' } }, 'presence restored')

  await server.app.channels.broadcastTo('room', 'after')
  t.match(await back.once((f) => f.type === 'message' && f.data === 'after', 'a message after the resume'), { channel: 'room' })
  await delay(WINDOW + 300)
  await bob.settle()
  t.equal(diffsOf(bob).length, 1, 'bob saw no leave and no second join, even after the window')
  t.not(await server.app.presence.get('alice'), null, 'alice is present')
  t.same(states.slice(-2), ['reconnecting', 'disconnected'], 'the old connection waited, then ended')
  t.same(back.violations, [])
})

t.test('a token works once, only for its user, only within the window, and only after a drop', async (t) => {
  const server = await startServer(t, options)
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room' })
  const alice = await connect(server.url({ userId: 'alice' }))
  const token = alice.all('connected')[0].resume as string
  await alice.request({ type: 'subscribe', channel: 'room' })
  dropNetwork(alice)
  await delay(50)
  t.match(await bob.request({ type: 'resume', token }), { type: 'error', code: 'resume_failed' }, 'another user cannot take it')
  const back = await connect(server.url({ userId: 'alice' }))
  t.equal((await back.request({ type: 'resume', token })).type, 'ack', 'and did not spoil it for alice')
  t.match(await back.request({ type: 'resume', token }), { type: 'error', code: 'resume_failed' }, 'used once')

  // A goodbye ends the session: no resume, the leave is at once.
  const carol = await connect(server.url({ userId: 'carol' }))
  const carolToken = carol.all('connected')[0].resume as string
  await carol.request({ type: 'subscribe', channel: 'room' })
  await carol.request({ type: 'disconnect' })
  await until(() => diffsOf(bob).some((f) => 'carol' in f.leaves), 2000, 'carol leaving at once')
  const carolAgain = await connect(server.url({ userId: 'carol' }))
  t.match(await carolAgain.request({ type: 'resume', token: carolToken }), { type: 'error', code: 'resume_failed' })

  // Not resumed within the window: the leave comes when it ends.
  const dave = await connect(server.url({ userId: 'dave' }))
  const daveToken = dave.all('connected')[0].resume as string
  await dave.request({ type: 'subscribe', channel: 'room' })
  const dropped = Date.now()
  dropNetwork(dave)
  await delay(WINDOW / 3)
  t.notOk(diffsOf(bob).some((f) => 'dave' in f.leaves), 'dave is still present while his session waits')
  await until(() => diffsOf(bob).some((f) => 'dave' in f.leaves), WINDOW * 3, 'dave leaving after the window')
  t.ok(Date.now() - dropped >= WINDOW - 50, 'not before the window ended')
  const daveAgain = await connect(server.url({ userId: 'dave' }))
  t.match(await daveAgain.request({ type: 'resume', token: daveToken }), { type: 'error', code: 'resume_failed' }, 'expired')
})

t.test('a resumed subscription to a history channel recovers what was missed', async (t) => {
  const server = await startServer(t, options)
  const alice = await connect(server.url({ userId: 'alice' }))
  const token = alice.all('connected')[0].resume as string
  alice.send({ type: 'subscribe', channel: 'news', ref: 's' })
  const subscribed = await alice.next((f) => f.type === 'subscribed')
  await server.app.channels.broadcastTo('news', 1)
  await alice.next((f) => f.type === 'message')
  dropNetwork(alice)
  for (let i = 2; i <= 4; i++) await server.app.channels.broadcastTo('news', i)
  const back = await connect(server.url({ userId: 'alice' }))
  t.equal((await back.request({ type: 'resume', token, since: { news: { offset: 1, epoch: subscribed.epoch } } })).type, 'ack')
  t.match(back.all('subscribed')[0], { channel: 'news', recovered: true, offset: 4 })
  t.same(back.all('message').map((f) => [f.offset, f.data]), [[2, 2], [3, 3], [4, 4]])
})

t.test('resume options are checked', async (t) => {
  await expectInvalidOptions(t, [
    ['window 0', { resume: { window: 0 } }, 'resume.window'],
    ['a string', { resume: 'yes' }, 'resume']
  ])
  const server = await startServer(t, { resume: true })
  const alice = await connect(server.url({ userId: 'alice' }))
  t.type(alice.all('connected')[0].resume, 'string', '`true` turns it on')
})

t.test('what a resume cannot restore: a channel its policy now refuses, presence never tracked', async (t) => {
  const banned = new Set<string>()
  const server = await startServer(t, {
    resume: { window: WINDOW },
    presence: { autoTrack: false },
    channels: { policies: { 'vip*': { subscribe: ({ connection }) => !banned.has(connection.userId) } } }
  })
  const alice = await connect(server.url({ userId: 'alice' }))
  const token = alice.all('connected')[0].resume as string
  t.equal((await alice.request({ type: 'subscribe', channel: 'vip' })).type, 'ack')
  t.equal((await alice.request({ type: 'subscribe', channel: 'hall' })).type, 'ack')
  dropNetwork(alice)
  banned.add('alice')
  const back = await connect(server.url({ userId: 'alice' }))
  t.equal((await back.request({ type: 'resume', token })).type, 'ack', 'the resume itself succeeds')
  t.same(back.all('subscribed').map((f) => f.channel), ['hall'], 'the channel still allowed is restored')
  t.match(back.all('error'), [{ code: 'forbidden', ref: undefined }], 'the refused one is said, without a ref')
  t.equal(await server.app.presence.get('alice'), null, 'no presence to restore: none made up')
})

t.test('a session that cannot be kept ends at once, and says why in the log', async (t) => {
  const adapter = new FailingSessions()
  const sink = new LogSink('error')
  const server = await startServer(t, { ...options, adapter }, undefined, sink.logger)
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room' })
  const alice = await connect(server.url({ userId: 'alice' }))
  await alice.request({ type: 'subscribe', channel: 'room' })
  const dropped = Date.now()
  dropNetwork(alice)
  await until(() => diffsOf(bob).some((f) => 'alice' in f.leaves), 2000, 'alice leaving')
  t.ok(Date.now() - dropped < WINDOW, 'without waiting for the window')
  await until(() => sink.matching('keeping the session for resume failed', 50).length === 1, 2000, 'the log line')
})
