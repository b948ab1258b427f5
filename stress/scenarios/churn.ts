// Scenario 6, churn: bounded connect → subscribe (a presence channel) → presence → disconnect
// cycles, 50 at a time, half ending with a `disconnect` frame and half with a dropped socket.
// Heap growth per cycle (after GC, warm-up excluded) and what the node still holds afterwards.
import { openUntil } from '../../bench/subscriber'
import { connect } from '../attack'
import { withTimeout, waitFor } from '../measure'
import { startServer, type StressServer } from '../processes'
import { budget, type Scenario } from '../scenario'

const CONCURRENCY = 50
const WARM_UP = 500

/** One cycle; resolves once the presence update is acknowledged and the client has gone. */
async function cycle (port: number, i: number): Promise<void> {
  let acknowledged: () => void = () => {}
  const done = new Promise<void>((resolve) => { acknowledged = resolve })
  const client = await connect(port, `churn-${i}`, {
    decode: true,
    onMessage: (text) => { if (text?.includes(`"ref":"p${i}"`) === true) acknowledged() }
  })
  client.send(JSON.stringify({ type: 'subscribe', channel: `presence:room-${i % 20}`, ref: `s${i}` }))
  client.send(JSON.stringify({ type: 'presence', status: 'busy', meta: { cycle: i }, ref: `p${i}` }))
  try {
    await withTimeout(done, 10_000, `cycle ${i}: presence not acknowledged within 10 s`)
    if (i % 2 === 0) client.send(JSON.stringify({ type: 'disconnect' }))
  } finally {
    // Odd cycles drop the socket at once; even ones give the server's close a moment first.
    setTimeout(() => client.destroy(), i % 2 === 0 ? 200 : 0)
  }
}

async function cycles (server: StressServer, first: number, count: number): Promise<void> {
  const { failure } = await openUntil(count, (k) => cycle(server.port, first + k), { concurrency: CONCURRENCY })
  if (failure !== null) throw new Error(failure)
}

/** What a node without connections should hold none of, as `name count` pairs; empty when clean. */
function leftovers (stats: any): string[] {
  const held: Record<string, number> = {
    connections: stats.connections, users: stats.users, topics: stats.topics, presence: stats.presence,
    channels: stats.channels.count, groups: stats.groups, 'cleanup queue': stats.cleanup.queueSize
  }
  return Object.entries(held).filter(([, n]) => n !== 0).map(([name, n]) => `${name} ${n}`)
}

export const churn: Scenario = {
  name: 'churn',
  async run ({ quick }) {
    const count = quick ? 2_000 : 10_000
    const server = await startServer({ options: { maxConnectionsPerUser: 100 } })
    try {
      await cycles(server, 0, WARM_UP)
      await waitFor(async () => leftovers(await server.get('/ws/stats')).length === 0, 10_000, 200)
      const before = await server.probe({ gc: true })
      await cycles(server, WARM_UP, count)
      await waitFor(async () => leftovers(await server.get('/ws/stats')).length === 0, 10_000, 200)
      const after = await server.probe({ gc: true })
      const left = leftovers(await server.get('/ws/stats'))
      const perCycle = (after.heapUsed - before.heapUsed) / count
      return {
        figures: { cycles: count, 'heap B/cycle': perCycle.toFixed(1), leftovers: left.length === 0 ? 'none' : left.join(', ') },
        budgets: [budget('nothing left after churn', left.length === 0, left.length === 0 ? 'none' : left.join(', '))]
      }
    } finally {
      await server.stop()
    }
  }
}
