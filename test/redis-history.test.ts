import t from 'tap'
import { ClusterNode, open } from './cluster-nodes'
import { type Client, delay, type Frame, until } from './helpers'
import { REDIS_URL, requireRedis, skipRedis, testPrefix } from './redis-helpers'

// History, recovery and session resume across three server processes on one Redis: a client
// that drops from one node and comes back to another gets exactly what it missed.
const NODE_TTL = 1000
const RESUME_WINDOW = 3000

interface Position { offset: number, epoch: string }

async function subscribe (client: Client, channel: string, since?: Position): Promise<Frame> {
  const ref = `s${Math.random()}`
  client.send({ type: 'subscribe', channel, since, ref })
  const answer = await client.next((f) => (f.type === 'subscribed' || f.type === 'error') && f.ref === ref, 5000)
  if (answer.type === 'error') throw new Error(`subscribe refused: ${JSON.stringify(answer)}`)
  return answer
}

function received (client: Client, channel: string): Frame[] {
  return client.frames.filter((f) => f.type === 'message' && f.channel === channel)
}

t.test('history across three processes on one Redis', { skip: skipRedis }, async (t) => {
  if (!requireRedis(t)) return
  const policies = { 'tiny*': { history: { size: 3, ttl: 60_000 } }, 'news*': { history: { size: 500, ttl: 60_000 } } }
  const config = { redis: { url: REDIS_URL }, keyPrefix: testPrefix(t), nodeTtl: NODE_TTL, resumeWindow: RESUME_WINDOW, policies }
  const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => ClusterNode.start(t, name, config)))

  await t.test('a subscriber that left node b recovers on node c exactly what node a published meanwhile', async (t) => {
    const first = await open(t, b.url('alice'))
    const start = await subscribe(first, 'news')
    t.equal(start.offset, 0)
    t.match(await a.ask({ cmd: 'channelPublish', channel: 'news', data: 1 }), { offset: 1, epoch: start.epoch })
    await until(() => received(first, 'news').length === 1, 5000, 'message 1 on b')
    t.same([received(first, 'news')[0].offset, received(first, 'news')[0].epoch], [1, start.epoch], 'offset and epoch across nodes')
    await first.close()
    for (let i = 2; i <= 6; i++) await a.ask({ cmd: 'channelSend', channel: 'news', data: i })

    const back = await open(t, c.url('alice'))
    t.match(await subscribe(back, 'news', { offset: 1, epoch: start.epoch as string }), { recovered: true, offset: 6, epoch: start.epoch })
    await b.ask({ cmd: 'channelSend', channel: 'news', data: 7 })
    await until(() => received(back, 'news').length === 6, 5000, 'replay and live message on c')
    t.same(received(back, 'news').map((f) => [f.offset, f.data]), [[2, 2], [3, 3], [4, 4], [5, 5], [6, 6], [7, 7]])
    const history = await b.ask({ cmd: 'history', channel: 'news', since: { offset: 4, epoch: start.epoch as string } }) as { messages: Frame[], offset: number, complete: boolean }
    t.same([history.messages.map((m) => m.data), history.offset, history.complete], [[5, 6, 7], 7, true], 'channels.history() on another node')
    t.same(back.violations, [])
  })

  await t.test('recovery refused across nodes: another epoch, an offset no longer kept', async (t) => {
    const carol = await open(t, a.url('carol'))
    const start = await subscribe(carol, 'tiny')
    for (let i = 1; i <= 6; i++) await b.ask({ cmd: 'channelSend', channel: 'tiny', data: i })
    const dave = await open(t, c.url('dave'))
    t.match(await subscribe(dave, 'tiny', { offset: 1, epoch: start.epoch as string }), { recovered: false, offset: 6 }, 'offset 2 is gone (size 3)')
    t.match(await subscribe(dave, 'tiny', { offset: 3, epoch: 'not-this-one' }), { recovered: false, offset: 6 }, 'another epoch')
    t.match(await subscribe(dave, 'tiny', { offset: 3, epoch: start.epoch as string }), { recovered: true, offset: 6 })
    await until(() => received(dave, 'tiny').length === 3, 5000, 'the three kept')
    t.same(received(dave, 'tiny').map((f) => f.data), [4, 5, 6])
  })

  await t.test('publishes racing with 100 reconnects to alternating nodes are neither lost nor duplicated', async (t) => {
    let publishing = true
    let published = 0
    const publisher = (async () => {
      while (publishing && published < 20_000) {
        await a.ask({ cmd: 'channelSend', channel: 'news-race', data: ++published })
      }
    })()
    const got: number[] = []
    const offsets: number[] = []
    let position: Position | undefined
    let recovered = 0
    for (let round = 0; round < 100; round++) {
      const client = await open(t, (round % 2 === 0 ? b : c).url(`racer${round % 3}`))
      const answer = await subscribe(client, 'news-race', position)
      if (answer.recovered === true) recovered++
      position ??= { offset: answer.offset as number, epoch: answer.epoch as string }
      await delay(round % 5)
      await client.close()
      for (const frame of received(client, 'news-race')) {
        got.push(frame.data as number)
        offsets.push(frame.offset as number)
        position = { offset: frame.offset as number, epoch: frame.epoch as string }
      }
      if (client.violations.length > 0) t.fail(client.violations.join('; '))
    }
    publishing = false
    await publisher
    t.equal(recovered, 99, 'every reconnect after the first recovered')
    t.ok(got.length > 100, `messages crossed the reconnects (${got.length} of ${published})`)
    t.same(got, got.map((_, i) => got[0] + i), 'one run of consecutive messages: no gap, no duplicate')
    t.same(offsets, offsets.map((_, i) => offsets[0] + i), 'and of consecutive offsets')
  })

  await t.test('a session dropped on node b is resumed on node c: no leave, no join, subscriptions and presence back', async (t) => {
    const watcher = await open(t, a.url('watcher'))
    t.equal((await watcher.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
    const erin = await open(t, b.url('erin'))
    const token = erin.all('connected')[0].resume as string
    t.type(token, 'string')
    t.equal((await erin.request({ type: 'subscribe', channel: 'lobby', meta: { seat: 3 } })).type, 'ack')
    const news = await subscribe(erin, 'news')
    t.equal((await erin.request({ type: 'presence', status: 'away' })).type, 'ack')
    await until(() => watcher.frames.some((f) => f.type === 'presence_diff' && 'erin' in f.joins), 5000, 'erin joining the lobby')

    erin.ws.terminate()
    await delay(100)
    await a.ask({ cmd: 'channelSend', channel: 'news', data: 'while away' })
    const back = await open(t, c.url('erin'))
    t.equal((await back.request({ type: 'resume', token, since: { news: { offset: news.offset as number, epoch: news.epoch as string } } })).type, 'ack')
    t.same(back.all('subscribed').map((f) => f.channel).sort(), ['lobby', 'news'])
    t.match(back.all('subscribed').find((f) => f.channel === 'news'), { recovered: true })
    t.same(received(back, 'news').map((f) => f.data), ['while away'], 'the message published while away')
    t.match(await b.ask({ cmd: 'presenceOf', userId: 'erin' }), { status: 'away' }, 'presence restored, seen from node b')
    await delay(RESUME_WINDOW + NODE_TTL)
    const diffs = watcher.frames.filter((f) => f.type === 'presence_diff' && ('erin' in f.joins || 'erin' in f.leaves))
    t.equal(diffs.length, 1, 'the watcher saw erin join once and never leave')
    const after = await a.ask({ cmd: 'presenceOf', userId: 'erin' }) as { status: string, connections: unknown[] }
    t.same([after.status, after.connections.length], ['away', 1], 'one connection left after the window')
  })
})
