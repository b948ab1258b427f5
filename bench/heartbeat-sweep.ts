/**
 * How long the heartbeat sweep blocks the event loop with many open connections.
 *
 *   ulimit -n 20000 && node --import tsx bench/heartbeat-sweep.ts [connections=19000] [interval=1000]
 *
 * The server (this process) runs the plugin from source with a short heartbeat interval; a
 * child process holds the client sockets (bench/lean-client.js, which answers pings), spread
 * over several loopback source addresses so ephemeral ports do not run out. Over a few
 * intervals it reports the longest event-loop stall (an idle server: the sweep is the stall).
 */
import { fork } from 'node:child_process'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import hauyna from '../lib/index'
import { HeartbeatMonitor } from '../lib/session/heartbeat'
import { timeSweepWork } from './sweep-timer'

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { LeanClient } = require('./lean-client.js') as { LeanClient: new (port: number, path: string, options: { localAddress: string }) => { ready: Promise<void> } }

const SOURCES = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
const ROUNDS = 6

async function openClients (port: number, count: number): Promise<void> {
  const clients: unknown[] = []
  for (let i = 0; i < count; i += 200) {
    const batch = Array.from({ length: Math.min(200, count - i) }, (_, j) =>
      new LeanClient(port, `/ws?userId=u${i + j}`, { localAddress: SOURCES[(i + j) % SOURCES.length] }))
    await Promise.all(batch.map((c) => c.ready))
    clients.push(...batch)
  }
  process.send?.({ opened: clients.length })
}

const ms = (ns: number): string => (ns / 1e6).toFixed(1)

function summary (values: number[]): string {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (q: number): string => (sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(1)
  return `median ${at(0.5)}, p99 ${at(0.99)}, max ${at(1)} ms`
}

async function server (count: number, interval: number): Promise<void> {
  const app = Fastify({ logger: false })
  await app.register(hauyna, { heartbeat: { interval, timeout: 600_000 }, maxConnectionsPerUser: 1 })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const child = fork(__filename, ['clients', String(port), String(count)], { execArgv: ['--import', 'tsx'] })
  const opening = performance.now()
  await new Promise<void>((resolve) => child.once('message', () => resolve()))
  const stats = await app.hauyna.stats()
  console.log(`${stats.connections} connections open in ${((performance.now() - opening) / 1000).toFixed(1)} s`)

  const work = timeSweepWork(HeartbeatMonitor)
  const loop = monitorEventLoopDelay({ resolution: 1 })
  loop.enable()
  await new Promise((resolve) => setTimeout(resolve, ROUNDS * interval))
  loop.disable()
  console.log(`${ROUNDS} heartbeat intervals of ${interval} ms: event-loop delay max ${ms(loop.max)} ms, ` +
    `p99 ${ms(loop.percentile(99))} ms, mean ${ms(loop.mean)} ms`)
  console.log(`sweep work, ${work.wall.length} synchronous calls: wall ${summary(work.wall)}; CPU ${summary(work.cpu)}`)
  child.kill()
  await app.close()
}

const [role, a, b] = process.argv.slice(2)
if (role === 'clients') void openClients(Number(a), Number(b))
else void server(Number(role ?? 19_000), Number(a ?? 1000))
