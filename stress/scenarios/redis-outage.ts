// Scenario 7, redis-outage: two server processes share a private redis-server, which is killed
// for 30 s (10 s in --quick) and restarted on the same port. A publisher on node A sends 20
// messages/s to a channel heard on A (same node) and on B. Same-node losses and delay during
// the outage; after the restart, when B hears new messages again and whether presence
// (three users, all connected throughout) is back in Redis.
import { protocols } from '../../bench/protocols'
import { subscriber } from '../../bench/subscriber'
import { now, sleep, waitFor } from '../measure'
import { freePort, startRedis, startServer, stopChild } from '../processes'
import { budget, type Scenario } from '../scenario'

const CHANNEL = 'outage'
const RATE = 20
const USERS = 3

interface Heard { seq: number, at: number, delay: number }

export const redisOutage: Scenario = {
  name: 'redis-outage',
  async run ({ quick }) {
    const outageSeconds = quick ? 10 : 30
    const proto = protocols.hauyna
    const redisPort = await freePort()
    let redis = await startRedis(redisPort)
    const redisUrl = `redis://127.0.0.1:${redisPort}`
    const nodes = [await startServer({ redisUrl, options: { nodeId: 'A' } }), await startServer({ redisUrl, options: { nodeId: 'B' } })]
    const [a, b] = nodes
    try {
      const heard = { same: [] as Heard[], cross: [] as Heard[] }
      const listen = (list: Heard[]) => (msg: any): void => {
        if (msg.type === 'message') list.push({ seq: msg.data.seq, at: now(), delay: now() - msg.data.t })
      }
      const publisher = await subscriber(a.port, proto, 'publisher', CHANNEL)
      const same = await subscriber(a.port, proto, 'same-node', CHANNEL, { decodeAll: true, onData: listen(heard.same) })
      const cross = await subscriber(b.port, proto, 'cross-node', CHANNEL, { decodeAll: true, onData: listen(heard.cross) })
      let seq = 0
      const sentAt: number[] = []
      const timer = setInterval(() => {
        if (seq >= 100_000) return
        sentAt.push(now())
        publisher.send(proto.publish(CHANNEL, { seq: seq++, t: now() }))
      }, 1000 / RATE)
      try {
        await sleep(2_000)
        const killedAt = now()
        await stopChild(redis, () => redis.kill('SIGKILL'))
        await sleep(outageSeconds * 1000)
        const firstAfterOutage = seq
        redis = await startRedis(redisPort)
        const restartedAt = now()
        const resumed = await waitFor(() => heard.cross.some((h) => h.seq >= firstAfterOutage), 30_000, 50)
        const resumedAfter = resumed ? (heard.cross.find((h) => h.seq >= firstAfterOutage) as Heard).at - restartedAt : NaN
        const presence = await waitFor(async () => (await b.get('/ws/stats').catch(() => ({ presence: -1 }))).presence === USERS, 15_000, 250)
        const presenceNow = (await b.get('/ws/stats').catch(() => ({ presence: -1 }))).presence as number
        await sleep(1_000)
        // Messages sent while Redis was down, as the same-node subscriber saw them.
        const during = (s: number): boolean => sentAt[s] >= killedAt && sentAt[s] < restartedAt
        const sentDuring = sentAt.filter((_t, s) => during(s)).length
        const heardDuring = heard.same.filter((h) => during(h.seq))
        const lost = sentDuring - new Set(heardDuring.map((h) => h.seq)).size
        const maxDelay = Math.max(0, ...heardDuring.map((h) => h.delay))
        const resumedText = resumed ? `${(resumedAfter / 1000).toFixed(1)} s` : 'not within 30 s'
        return {
          figures: {
            'same-node lost': `${lost}/${sentDuring}`,
            'max delay ms': maxDelay.toFixed(0),
            'cross-node resumed within': resumedText,
            'presence restored': presence ? `yes (${USERS})` : `NO (${presenceNow}/${USERS})`
          },
          budgets: [budget('same-node delivery loses nothing during a Redis outage', lost === 0, `${lost}/${sentDuring} lost`)]
        }
      } finally {
        clearInterval(timer)
        for (const client of [publisher, same, cross]) client.destroy()
      }
    } finally {
      await Promise.all(nodes.map((node) => node.stop()))
      await stopChild(redis)
    }
  }
}
