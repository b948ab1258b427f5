import t, { type Test } from 'tap'
import { createClient, gatedServer, record, whileAway } from './client-helpers'
import { connect, type Frame, type Server, until } from './helpers'

// The SDK's side of session resume: after a drop it sends `resume` with its old connection's
// token instead of subscribing again, and others see no leave and no join.

const fast = { baseDelay: 20, maxDelay: 80, backoffMultiplier: 2, jitter: 0 }

/** A gated server (see client-helpers) with resume on, and every subscribe and resume frame the SDK clients (not `watcher`) send. */
async function resumingServer (t: Test, window: number): Promise<{ server: Server, gate: { closed: boolean }, frames: Frame[] }> {
  const { server, gate } = await gatedServer(t, {
    resume: { window },
    channels: { policies: { room: { presence: true }, news: { history: { size: 50, ttl: 60_000 } } } }
  })
  const frames: Frame[] = []
  server.app.events.on('connect', (conn) => {
    if (conn.userId === 'watcher') return
    conn.socket.on('message', (data) => {
      const frame = JSON.parse(String(data)) as Frame
      if (frame.type === 'subscribe' || frame.type === 'resume') frames.push(frame)
    })
  })
  return { server, gate, frames }
}

t.test('a reconnect takes the session over: no subscribe sent again, no leave or join seen, history recovered', async (t) => {
  const { server, gate, frames } = await resumingServer(t, 5000)
  const watcher = await connect(server.url({ userId: 'watcher' }))
  await watcher.request({ type: 'subscribe', channel: 'room' })
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const news: Array<[unknown, boolean]> = []
  client.subscribe('room', () => {}, { meta: { seat: 4 } })
  const subscribed = client.subscribe('news', (m, { replayed }) => { news.push([m.data, replayed]) }).subscribed
  const recoveries = record(client, 'recovery')
  await client.start()
  await subscribed
  await client.presence('away')
  await server.app.channels.broadcastTo('news', 'before')
  await until(() => news.length === 1, 2000, 'the first message')
  await until(() => watcher.frames.some((f) => f.type === 'presence_diff' && 'alice' in f.joins), 2000, 'alice joining')

  await whileAway(server, gate, client, async () => {
    for (const data of ['away 1', 'away 2']) await server.app.channels.broadcastTo('news', data)
  })
  await until(() => news.length === 3, 3000, 'the missed messages')
  await server.app.channels.broadcastTo('news', 'after')
  await until(() => news.length === 4, 2000, 'a live message')
  t.same(news, [['before', false], ['away 1', true], ['away 2', true], ['after', false]], 'each message once, the missed ones replayed')
  t.same(frames.map((f) => f.type), ['subscribe', 'subscribe', 'resume'], 'the reconnect resumed instead of subscribing again')
  t.same(frames[2].since, { news: { offset: 1, epoch: client.position('news')?.epoch } }, 'from the place the app was')
  t.match(recoveries, [[{ channel: 'news', recovered: true, since: { offset: 1 }, offset: 3 }]])
  const [conn] = server.app.connections.byUser('alice')
  t.same(conn.subscriptions.get('room')?.meta, { seat: 4 }, 'the subscription meta came back with the session')
  t.match(await server.app.presence.get('alice'), { status: 'away' })
  await watcher.settle()
  t.equal(watcher.frames.filter((f) => f.type === 'presence_diff' && ('alice' in f.joins || 'alice' in f.leaves)).length, 1,
    'the watcher saw alice join once, never leave')
})

t.test('a session gone (the window over) or resume off: the client subscribes again itself', async (t) => {
  const { server, gate, frames } = await resumingServer(t, 200)
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const news: unknown[] = []
  const subscribed = client.subscribe('news', (m) => { news.push(m.data) }).subscribed
  await client.start()
  await subscribed
  await whileAway(server, gate, client, async () => {
    await server.app.channels.broadcastTo('news', 'missed')
    await new Promise((resolve) => setTimeout(resolve, 400))
  })
  await until(() => news.length === 1, 3000, 'the missed message, through a subscribe with since')
  t.same(frames.map((f) => f.type), ['subscribe', 'resume', 'subscribe'], 'resume refused (resume_failed), then subscribe')
  t.match(frames[2], { channel: 'news', since: { offset: 0 } })

  const plain = createClient(t, server.url({ userId: 'bob' }), { retry: fast, resume: false })
  const ready = plain.subscribe('news', () => {}).subscribed
  await plain.start()
  await ready
  const before = frames.length
  await whileAway(server, gate, plain, async () => {})
  await until(() => frames.length === before + 1, 2000, 'bob subscribing again')
  t.equal(frames[before].type, 'subscribe', 'resume: false never sends resume')
})

t.test('a channel the app left while away is left on the server too', async (t) => {
  const { server, gate } = await resumingServer(t, 5000)
  const client = createClient(t, server.url({ userId: 'alice' }), { retry: fast })
  const leave = client.subscribe('room', () => {})
  const ready = client.subscribe('news', () => {}).subscribed
  await client.start()
  await ready
  await leave.subscribed
  await whileAway(server, gate, client, async () => { await leave() })
  await until(async () => (await server.app.channels.subscribers('room')).length === 0 &&
    (await server.app.channels.subscribers('news')).length === 1, 3000, 'room left, news kept')
  t.same((await server.app.channels.subscribers('news')).map((s) => s.userId), ['alice'])
})
