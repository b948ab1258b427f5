// Scenario 4, pong: 4 connections write unsolicited pong frames as fast as they can (then, on
// a fresh server, ping frames, which the server must answer): are they closed, what does
// GET /health see meanwhile, and how much CPU does the server spend on them.
import type { LeanClient } from '../../bench/lean-client'
import { encodeFrame } from '../../bench/lean-client'
import { connect, pump, repeated } from '../attack'
import { ms, now, percentile, sampleHealth } from '../measure'
import { cpuMs } from '../proc'
import { startServer } from '../processes'
import type { Result, Scenario } from '../scenario'

const CONNECTIONS = 4

async function attack (opcode: number, seconds: number) {
  const server = await startServer({})
  try {
    const clients: LeanClient[] = []
    for (let i = 0; i < CONNECTIONS; i++) clients.push(await connect(server.port, `ponger-${i}`))
    const chunk = repeated(encodeFrame(opcode, Buffer.from('12345678')), 1024)
    const health = sampleHealth(server.port)
    const cpuBefore = cpuMs(server.pid)
    const deadline = now() + seconds * 1000
    await Promise.all(clients.map((client) => pump(client, chunk, deadline)))
    const cpu = cpuMs(server.pid) - cpuBefore
    const latencies = await health.stop()
    const closed = clients.filter((c) => c.closeCode !== undefined || c.socket.destroyed).length
    for (const client of clients) client.destroy()
    return { closed, latencies, cpuPercent: cpu / seconds / 10 }
  } finally {
    await server.stop()
  }
}

export const pong: Scenario = {
  name: 'pong',
  async run ({ quick }): Promise<Result> {
    const seconds = quick ? 3 : 5
    const figures: Result['figures'] = {}
    for (const [label, opcode] of [['pong', 0xa], ['ping', 0x9]] as const) {
      const r = await attack(opcode, seconds)
      figures[`${label}: closed`] = `${r.closed}/${CONNECTIONS}`
      figures[`${label}: /health p50/p99 ms`] = `${ms(percentile(r.latencies, 0.5))}/${ms(percentile(r.latencies, 0.99))}`
      figures[`${label}: server CPU %`] = r.cpuPercent.toFixed(0)
    }
    return { figures, budgets: [] }
  }
}
