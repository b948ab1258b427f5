// Scenario 5, slow consumer: 200 connections subscribed to a channel stop reading while one
// publisher sends 8 KiB messages to it at 200/s, heard by 5 healthy subscribers too. How long
// until the server has closed the slow ones, and whether the healthy ones got everything, in order.
import { protocols } from '../../bench/protocols'
import { openUntil, subscriber } from '../../bench/subscriber'
import { now, sleep, waitFor } from '../measure'
import { startServer } from '../processes'
import { budget, type Scenario } from '../scenario'

const SLOW = 200
const HEALTHY = 5
const RATE = 200
const CHANNEL = 'firehose'

export const slowConsumer: Scenario = {
  name: 'slow-consumer',
  async run ({ quick }) {
    const seconds = quick ? 5 : 10
    const proto = protocols.hauyna
    // The publisher alone needs more than the default 50 messages/s.
    const server = await startServer({ options: { rateLimit: { burst: 1000, perSecond: 1000 } } })
    try {
      const { clients: slow, failure } = await openUntil(SLOW, (i) => subscriber(server.port, proto, `slow-${i}`, CHANNEL), { concurrency: 50 })
      if (failure !== null) throw new Error(`slow subscribers: ${failure}`)
      const heard = Array.from({ length: HEALTHY }, () => ({ count: 0, last: -1, ordered: true }))
      const healthy = await Promise.all(heard.map((h, i) => subscriber(server.port, proto, `healthy-${i}`, CHANNEL, {
        decodeAll: true,
        onData: (msg) => {
          if (msg.type !== 'message') return
          if (msg.data.seq <= h.last) h.ordered = false
          h.last = msg.data.seq
          h.count++
        }
      })))
      // The default channel policy lets only subscribers publish; the publisher reads its echo.
      const publisher = await subscriber(server.port, proto, 'publisher', CHANNEL)
      for (const client of slow) client.socket.pause()
      const pad = 'x'.repeat(8 * 1024)
      const started = now()
      let sent = 0
      let allClosedAfter = NaN
      const closedWatch = waitFor(async () => (await server.get('/ws/stats')).connections <= HEALTHY + 1, seconds * 1000 + 10_000, 200)
        .then((closed) => { if (closed) allClosedAfter = (now() - started) / 1000 })
      while (now() - started < seconds * 1000) {
        publisher.send(proto.publish(CHANNEL, { seq: sent++, pad }))
        await sleep(Math.max(0, started + (sent * 1000) / RATE - now()))
      }
      await closedWatch
      await waitFor(() => heard.every((h) => h.count >= sent), 5_000)
      const received = heard.reduce((n, h) => n + h.count, 0)
      const ordered = heard.every((h) => h.ordered)
      for (const client of [...slow, ...healthy, publisher]) client.destroy()
      const closedWithin = Number.isNaN(allClosedAfter) ? `not within ${seconds + 10} s` : `${allClosedAfter.toFixed(1)} s`
      return {
        figures: { 'slow closed within': closedWithin, 'healthy received/sent': `${received}/${sent * HEALTHY}`, 'order ok': ordered ? 'yes' : 'NO' },
        // How soon the slow ones go depends mostly on the kernel's socket buffers: a figure, not a budget.
        budgets: [
          budget('healthy subscribers lose nothing, in order', received === sent * HEALTHY && ordered, `${received}/${sent * HEALTHY}${ordered ? '' : ', out of order'}`)
        ]
      }
    } finally {
      await server.stop()
    }
  }
}
