// Scenario 2, flood: one connection writes `publish` frames as fast as it can under the default
// options and is closed 1008 over its rate limit. Phase 1 measures the bystanders during the
// flood (GET /health, another client's publish → receive) and the RSS peak; phase 2, with a
// fresh flooder and nobody else, the server CPU and log lines spent on it after its close.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { encodeText } from '../../bench/lean-client'
import { protocols } from '../../bench/protocols'
import { connect, pump, repeated } from '../attack'
import { mb, ms, now, percentile, sampleBystander, sampleHealth, sleep } from '../measure'
import { cpuMs } from '../proc'
import { startServer } from '../processes'
import { budget, type Scenario } from '../scenario'

const chunk = repeated(encodeText(protocols.hauyna.publish('flood', { text: 'flood' })), 512)

/**
 * The server's own CPU rate at rest (ms per ms): the probe's event-loop monitor and timers
 * cost a little every second, which is no flooder's doing and is taken off its bill.
 */
async function idleRate (pid: number): Promise<number> {
  const started = now()
  const cpu = cpuMs(pid)
  await sleep(2000)
  return (cpuMs(pid) - cpu) / (now() - started)
}

/** Floods for `seconds`; resolves to when the close frame came (undefined if none) and the frames written. */
async function floodOnce (port: number, user: string, seconds: number, onClosed: () => void = () => {}) {
  let closedAt: number | undefined
  const client = await connect(port, user, { onClose: () => { closedAt = now(); onClosed() } })
  const writes = await pump(client, chunk, now() + seconds * 1000)
  client.destroy()
  return { closedAt, frames: writes * 512 }
}

/** Log lines stamped after `since` (epoch ms); pino writes one JSON object per line. */
function linesAfter (file: string, since: number): number {
  return readFileSync(file, 'utf8').split('\n').filter((line) => line.length > 0 && (JSON.parse(line) as { time: number }).time > since).length
}

/**
 * Resolves once `pid` spends under 20 ms of CPU in 500 ms (at most 30 s): a server still
 * working through a flooder's buffered frames has not finished paying for it.
 */
async function quiet (pid: number): Promise<void> {
  const deadline = now() + 30_000
  let last = cpuMs(pid)
  while (now() < deadline) {
    await sleep(500)
    const cpu = cpuMs(pid)
    if (cpu - last < 20) return
    last = cpu
  }
}

export const flood: Scenario = {
  name: 'flood',
  async run ({ quick }) {
    const seconds = quick ? 3 : 6
    const dir = mkdtempSync(path.join(tmpdir(), 'hauyna-stress-'))
    const logFile = path.join(dir, 'server.log')
    const server = await startServer({ logFile })
    try {
      const health = sampleHealth(server.port)
      const bystander = await sampleBystander(server.port, 'bystander')
      const first = await floodOnce(server.port, 'flooder-1', seconds)
      const healthMs = await health.stop()
      const otherMs = await bystander.stop()
      const { maxRss } = await server.probe()
      await quiet(server.pid)
      const idle = await idleRate(server.pid)

      let cpuAtClose = 0
      const second = await floodOnce(server.port, 'flooder-2', seconds, () => { cpuAtClose = cpuMs(server.pid) })
      await quiet(server.pid)
      // pino writes asynchronously: give the last lines time to reach the file.
      await sleep(500)
      const rawAfterClose = second.closedAt === undefined ? NaN : cpuMs(server.pid) - cpuAtClose
      const cpuAfterClose = second.closedAt === undefined ? NaN : rawAfterClose - idle * (now() - second.closedAt)
      const logLines = second.closedAt === undefined ? NaN : linesAfter(logFile, second.closedAt)
      return {
        figures: {
          'closed 1008': first.closedAt !== undefined && second.closedAt !== undefined ? 'yes' : 'NO',
          'frames written': first.frames + second.frames,
          'cpu ms after close': ms(cpuAfterClose),
          'raw cpu ms after close (idle included)': ms(rawAfterClose),
          'idle cpu ms/s': ms(idle * 1000),
          'log lines after close': logLines,
          'RSS MB': mb(maxRss),
          '/health p50/p99 ms': `${ms(percentile(healthMs, 0.5))}/${ms(percentile(healthMs, 0.99))}`,
          'other p99 ms': ms(percentile(otherMs, 0.99))
        },
        budgets: [
          budget('flooder CPU after close < 100 ms', cpuAfterClose < 100, `${ms(cpuAfterClose)} ms`),
          budget('no log growth after close', logLines === 0, `${logLines} lines`)
        ]
      }
    } finally {
      await server.stop()
      if (process.env.STRESS_KEEP_LOGS === undefined) rmSync(dir, { recursive: true, force: true })
      else console.log(`flood: server log kept in ${logFile}`)
    }
  }
}
