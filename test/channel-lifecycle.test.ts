import t from 'tap'
import type { FastifyInstance } from 'fastify'
import type { ChannelInfo } from '../lib/services/types'
import { type Client, connect, startServer, until } from './helpers'
import { internalsOf } from '../lib/plugin'

/** Records `channel_created` / `channel_removed` as `[event, name, explicit]`. */
function recordChannelEvents (app: FastifyInstance): Array<[string, string, boolean]> {
  const seen: Array<[string, string, boolean]> = []
  app.events.on('channel_created', (info: ChannelInfo) => { seen.push(['created', info.name, info.explicit]) })
  app.events.on('channel_removed', (info: ChannelInfo) => { seen.push(['removed', info.name, info.explicit]) })
  return seen
}

function idOf (client: Client): string {
  return client.frames[0].connectionId as string
}

/** The channel registry's size: the only channel state that could outlive its subscribers. */
function channelRecords (app: FastifyInstance): number {
  return internalsOf(app).channelRecords
}

t.test('implicit channels: created on first subscribe, removed with the last subscriber', async (t) => {
  let seen: Array<[string, string, boolean]> = []
  const server = await startServer(t, {}, (app) => { seen = recordChannelEvents(app) })
  const { channels } = server.app
  const a = await connect(server.url({ userId: 'alice' }))
  const b = await connect(server.url({ userId: 'bob' }))
  t.equal(await channels.get('lobby'), null, 'no channel before a subscriber')

  t.equal((await a.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
  t.equal((await b.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
  t.match(await channels.get('lobby'), { name: 'lobby', meta: {}, explicit: false, subscribers: 2, createdAt: Number })
  t.same(seen, [['created', 'lobby', false]], 'created once, by the first subscriber')

  t.equal((await a.request({ type: 'unsubscribe', channel: 'lobby' })).type, 'ack')
  t.equal((await channels.get('lobby'))?.subscribers, 1)
  await b.close()
  await until(async () => (await channels.get('lobby')) === null, 2000, 'the closed connection to leave the channel')
  t.same(seen, [['created', 'lobby', false], ['removed', 'lobby', false]])
  t.same(a.violations, [])
})

t.test('explicit channels: meta, persist while empty, create conflicts, remove', async (t) => {
  let seen: Array<[string, string, boolean]> = []
  const server = await startServer(t, {}, (app) => { seen = recordChannelEvents(app) })
  const { channels } = server.app
  const info = await channels.create('news', { meta: { owner: 'alice' } })
  t.match(info, { name: 'news', meta: { owner: 'alice' }, explicit: true, subscribers: 0 })
  t.same(await channels.get('news'), info)
  await t.rejects(channels.create('news'), { code: 'HAUYNA_CHANNEL_EXISTS', statusCode: 409 })
  await t.rejects(channels.create(''), { code: 'HAUYNA_INVALID_NAME' })
  await t.rejects(channels.create('x', { meta: [] as never }), { code: 'HAUYNA_INVALID_META' })

  const a = await connect(server.url({ userId: 'alice' }))
  await channels.subscribe(idOf(a), 'news')
  t.equal(await channels.unsubscribe(idOf(a), 'news'), true)
  t.match(await channels.get('news'), { explicit: true, subscribers: 0 }, 'still there when empty')

  // An implicit channel that is created explicitly is promoted, not created twice.
  await channels.subscribe(idOf(a), 'chat')
  t.match(await channels.create('chat', { meta: { topic: 'x' } }), { explicit: true, meta: { topic: 'x' }, subscribers: 1 })
  await channels.unsubscribe(idOf(a), 'chat')
  t.match(await channels.get('chat'), { explicit: true, subscribers: 0 })

  // Removing a channel with a subscriber tells the subscriber why.
  await channels.subscribe(idOf(a), 'chat')
  t.equal(await channels.remove('chat'), true)
  t.match(await a.next((f) => f.type === 'unsubscribed' && f.channel === 'chat' && f.reason !== undefined),
    { channel: 'chat', reason: 'channel removed' })
  t.equal(await channels.isSubscribed(idOf(a), 'chat'), false)
  t.equal(await channels.get('chat'), null)

  t.equal(await channels.remove('news'), true, 'an empty explicit channel goes at once')
  t.equal(await channels.get('news'), null)
  t.equal(await channels.remove('news'), false, 'nothing left to remove')
  await channels.subscribe(idOf(a), 'lobby')
  t.equal(await channels.remove('lobby'), false, 'implicit channels are not removed by hand')
  t.same(seen, [
    ['created', 'news', true], ['created', 'chat', false], ['removed', 'chat', false],
    ['removed', 'news', false], ['created', 'lobby', false]
  ])
  t.same(a.violations, [])
})

t.test('10,000 subscribe/unsubscribe cycles over distinct channels leave no channel state', async (t) => {
  let seen: Array<[string, string, boolean]> = []
  const server = await startServer(t, {}, (app) => { seen = recordChannelEvents(app) })
  const { channels } = server.app
  const client = await connect(server.url({ userId: 'alice' }))
  const topicsBefore = (await server.app.hauyna.stats()).topics
  for (let i = 0; i < 10_000; i++) {
    await channels.subscribe(idOf(client), `churn-${i}`)
    await channels.unsubscribe(idOf(client), `churn-${i}`)
  }
  t.equal(channelRecords(server.app), 0, 'no channel records')
  const stats = await server.app.hauyna.stats()
  t.equal(stats.topics, topicsBefore, 'no topics left')
  t.equal(stats.channels.count, 0)
  t.equal(seen.filter(([event]) => event === 'created').length, 10_000)
  t.equal(seen.filter(([event]) => event === 'removed').length, 10_000)
  await client.next((f) => f.type === 'unsubscribed' && f.channel === 'churn-9999')
  t.same(client.violations, [])
})

t.test('kick: every connection of the user leaves the channel and hears why', async (t) => {
  const server = await startServer(t)
  const { channels } = server.app
  const tabs = [await connect(server.url({ userId: 'alice' })), await connect(server.url({ userId: 'alice' }))]
  const bob = await connect(server.url({ userId: 'bob' }))
  for (const c of [...tabs, bob]) t.equal((await c.request({ type: 'subscribe', channel: 'room' })).type, 'ack')

  t.equal(await channels.kick('room', 'alice', 'spam'), 2, 'resolves to the connections kicked')
  for (const tab of tabs) {
    t.match(await tab.next('unsubscribed'), { type: 'unsubscribed', channel: 'room', reason: 'spam' })
    t.equal(await channels.isSubscribed(idOf(tab), 'room'), false)
  }
  t.equal(await channels.isSubscribed(idOf(bob), 'room'), true, 'other users stay')
  t.equal(await channels.kick('room', 'alice'), 0, 'nothing left to kick')
  for (const tab of tabs) {
    await tab.settle()
    t.equal(tab.count('unsubscribed'), 1, 'a kick that removed nothing tells nobody')
  }
  t.equal(await channels.kick('room', 'bob'), 1)
  t.match(await bob.next('unsubscribed'), { channel: 'room', reason: 'kicked' }, 'the default reason')
  t.equal(await channels.get('room'), null, 'the emptied implicit channel is gone')
  for (const c of [...tabs, bob]) t.same(c.violations, [])
})

t.test('closeUser closes every connection of the user with the code and reason', async (t) => {
  const server = await startServer(t)
  const { connections } = server.app
  const tabs = [await connect(server.url({ userId: 'alice' })), await connect(server.url({ userId: 'alice' }))]
  const bob = await connect(server.url({ userId: 'bob' }))

  t.equal(await connections.closeUser('alice', 4001, 'banned'), 2)
  for (const tab of tabs) t.same(await tab.closed, { code: 4001, reason: 'banned' })
  t.equal(await connections.closeUser('nobody'), 0)
  await t.rejects(connections.closeUser('bob', 999), { code: 'HAUYNA_INVALID_CLOSE_CODE' })
  await t.rejects(connections.closeUser('nobody', 999), { code: 'HAUYNA_INVALID_CLOSE_CODE' },
    'the code is checked even when there is nobody to close')
  t.equal(connections.byUser('bob').length, 1, 'an invalid code closes nothing')
  t.equal(await connections.closeUser('bob'), 1)
  t.same(await bob.closed, { code: 1000, reason: '' })
  for (const c of [...tabs, bob]) t.same(c.violations, [])
})

t.test('concurrent unsubscribes of the last two subscribers remove the channel once', async (t) => {
  let seen: Array<[string, string, boolean]> = []
  const server = await startServer(t, {}, (app) => { seen = recordChannelEvents(app) })
  const { channels } = server.app
  const clients = [await connect(server.url({ userId: 'alice' })), await connect(server.url({ userId: 'bob' }))]
  for (const c of clients) await channels.subscribe(idOf(c), 'room')
  t.same(await Promise.all(clients.map((c) => channels.unsubscribe(idOf(c), 'room'))), [true, true])
  for (const c of clients) t.match(await c.next('unsubscribed'), { channel: 'room' })
  t.equal(await channels.get('room'), null)
  t.equal(channelRecords(server.app), 0)
  t.same(seen, [['created', 'room', false], ['removed', 'room', false]], 'one channel_removed')
  for (const c of clients) t.same(c.violations, [])
})
