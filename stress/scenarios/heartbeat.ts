// Scenario 8, heartbeat: ~19,000 idle connections (the descriptor limit allowing) on a server
// pinging every 2 s; the longest synchronous heartbeat slice and the event-loop delay over a few intervals.
import { openUntil } from '../../bench/subscriber'
import { connect } from '../attack'
import { ms, sleep } from '../measure'
import { hardFdLimit, startServer } from '../processes'
import { budget, type Scenario } from '../scenario'

const WANTED = 19_000
// Descriptors each process needs besides these sockets (stdio, IPC, epoll, listener…).
const FD_RESERVE = 500
// Source addresses 127.0.0.1…N, each with its own ephemeral port range.
const SOURCE_ADDRESSES = 32
const INTERVAL_MS = 2_000
// A server stalled by its heartbeat answers late; the stall is what is measured, so wait for it.
const PROBE_TIMEOUT_MS = 60_000

export const heartbeat: Scenario = {
  name: 'heartbeat',
  async run ({ quick }) {
    const intervals = quick ? 3 : 6
    const wanted = Math.min(WANTED, hardFdLimit() - FD_RESERVE)
    const server = await startServer({ options: { heartbeat: { interval: INTERVAL_MS, timeout: 10 * INTERVAL_MS } } }, { fdLimit: true })
    try {
      const { clients, failure } = await openUntil(wanted, (i) => connect(server.port, `idle-${i}`, { localAddress: `127.0.0.${1 + (i % SOURCE_ADDRESSES)}`, timeout: 30_000 }),
        { concurrency: 200, deadline: Date.now() + 120_000 })
      await sleep(INTERVAL_MS)
      await server.probe({ reset: true, timeout: PROBE_TIMEOUT_MS })
      await sleep(intervals * INTERVAL_MS + 100)
      const { loopMaxMs, loopP99Ms, sweepSliceMaxMs } = await server.probe({ timeout: PROBE_TIMEOUT_MS })
      const open = clients.filter((c) => !c.socket.destroyed && c.closeCode === undefined).length
      for (const client of clients) client.destroy()
      return {
        figures: {
          connections: open,
          'longest heartbeat slice ms': ms(sweepSliceMaxMs),
          'event-loop delay p99/max ms': `${ms(loopP99Ms)}/${ms(loopMaxMs)}`,
          ...(failure === null ? {} : { 'stopped opening': failure })
        },
        // The tick is the budget; the loop's max also holds GC pauses and bursts of pongs arriving
        // together, which no sweep design removes, so it is shown beside it.
        budgets: [
          budget(`heartbeat tick < 20 ms at ${wanted} connections`, sweepSliceMaxMs < 20 && open >= wanted, `${ms(sweepSliceMaxMs)} ms at ${open}`),
          budget('event-loop delay p99 < 20 ms', loopP99Ms < 20, `${ms(loopP99Ms)} ms`)
        ]
      }
    } finally {
      await server.stop()
    }
  }
}
