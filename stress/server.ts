// One stress-suite server process: fastify-hauyna from lib/ (run by tsx, no build), with the
// options the harness passes as JSON in argv[2], and GET /stress/probe for what the harness
// measures inside the process. Reports its port over IPC.
import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import hauyna from '../lib/index'
import { HeartbeatMonitor } from '../lib/session/heartbeat'
import { timeSweepWork } from '../bench/sweep-timer'
import type { Probe, ServerConfig } from './config'

const config = JSON.parse(process.argv[2] ?? '{}') as ServerConfig

/** Every own property of Object.prototype with its value: a pollution changes one of them. */
function prototypeSnapshot (): Map<string | symbol, unknown> {
  return new Map(Reflect.ownKeys(Object.prototype).map((key) => [key, Object.getOwnPropertyDescriptor(Object.prototype, key)?.value]))
}

function isPolluted (before: Map<string | symbol, unknown>): boolean {
  const now = prototypeSnapshot()
  return now.size !== before.size || [...now].some(([key, value]) => !before.has(key) || before.get(key) !== value)
}

async function main (): Promise<void> {
  const pristine = prototypeSnapshot()
  const loop = monitorEventLoopDelay({ resolution: 5 })
  loop.enable()
  const sweep = timeSweepWork(HeartbeatMonitor)
  const app = Fastify({ logger: config.logFile === undefined ? false : { level: 'info', file: config.logFile } })
  await app.register(hauyna, {
    ...config.options,
    adapter: config.redisUrl === undefined ? undefined : hauyna.redisAdapter({ url: config.redisUrl }),
    channels: { policies: { 'presence:*': { presence: true } } }
  })
  if (config.slowMs !== undefined) {
    const slowMs = config.slowMs
    app.events.on('slow', { schema: Type.Object({ data: Type.String() }) }, async () => { await sleep(slowMs) })
  }
  app.get('/stress/probe', async (request): Promise<Probe> => {
    const query = request.query as { gc?: string, reset?: string }
    if (query.gc !== undefined) global.gc?.()
    const cpu = process.cpuUsage()
    const probe = {
      cpuUs: cpu.user + cpu.system,
      rss: process.memoryUsage.rss(),
      maxRss: process.resourceUsage().maxRSS * 1024,
      heapUsed: process.memoryUsage().heapUsed,
      loopMaxMs: loop.max / 1e6,
      loopP99Ms: loop.percentile(99) / 1e6,
      sweepSliceMaxMs: Math.max(0, ...sweep.wall),
      polluted: isPolluted(pristine)
    }
    if (query.reset !== undefined) {
      loop.reset()
      for (const list of Object.values(sweep)) list.length = 0
    }
    return probe
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const address = app.server.address()
  process.send?.({ type: 'listening', port: typeof address === 'object' && address !== null ? address.port : 0 })
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'stop') void app.close().finally(() => process.exit(0))
  })
}

main().catch((error) => { console.error(error); process.exit(1) })
