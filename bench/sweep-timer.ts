import { performance } from 'node:perf_hooks'
import { HeartbeatMonitor } from '../lib/session/heartbeat'

export interface SweepTimes {
  /** Wall-clock ms of each synchronous call. */
  wall: number[]
  /** CPU ms (user + system, every thread) of each call. */
  cpu: number[]
}

/**
 * Times every call of the heartbeat monitor's unit of synchronous work (`slice` when it has
 * one, else the whole `sweep`), in wall-clock and CPU time: on a shared machine the process
 * may be descheduled mid-call, which only the wall-clock figure counts. Used by
 * bench/heartbeat-sweep.ts and the stress suite's server.
 */
export function timeSweepWork (): SweepTimes {
  const record: SweepTimes = { wall: [], cpu: [] }
  const proto = HeartbeatMonitor.prototype as unknown as Record<string, (...args: unknown[]) => void>
  const name = typeof proto.slice === 'function' ? 'slice' : 'sweep'
  const original = proto[name]
  proto[name] = function (this: unknown, ...args: unknown[]) {
    const started = performance.now()
    const cpu = process.cpuUsage()
    original.apply(this, args)
    const used = process.cpuUsage(cpu)
    record.wall.push(performance.now() - started)
    record.cpu.push((used.user + used.system) / 1000)
  }
  return record
}
