import { performance } from 'node:perf_hooks'
import { ConnectionState } from '../connection/state'
import { CloseCode } from '../protocol/codes'
import type { Runtime } from './runtime'

const STAMP_BYTES = 8

/**
 * A ping's payload is the time it was sent (`performance.now()`): the pong echoes it, so the
 * round trip is known without any per-connection state.
 */
export function pingStamp (now: number): Buffer {
  const stamp = Buffer.allocUnsafe(STAMP_BYTES)
  stamp.writeDoubleBE(now)
  return stamp
}

/** Milliseconds since the ping a pong answers, or `undefined` for a pong that answers none of ours. */
export function roundTrip (pong: Buffer, now: number, timeout: number): number | undefined {
  if (pong.length !== STAMP_BYTES) return undefined
  const ms = now - pong.readDoubleBE(0)
  return ms >= 0 && ms <= timeout ? ms : undefined
}

/**
 * One timer for every connection: pings each `interval`, terminates connections silent
 * for longer than `timeout` (4000), and moves connections without traffic to Idle.
 */
export class HeartbeatMonitor {
  private timer: NodeJS.Timeout | undefined
  private lastPing = 0

  constructor (private readonly runtime: Runtime) {}

  start (): void {
    const { heartbeat, idleTimeout } = this.runtime.options
    const tick = idleTimeout > 0 ? Math.min(heartbeat.interval, idleTimeout) : heartbeat.interval
    this.lastPing = Date.now()
    this.timer = setInterval(() => this.sweep(Date.now()), tick)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  sweep (now: number): void {
    const { heartbeat, idleTimeout } = this.runtime.options
    const ping = now - this.lastPing >= heartbeat.interval
    if (ping) this.lastPing = now
    // One stamp for the whole sweep: every socket gets the same bytes.
    const stamp = ping ? pingStamp(performance.now()) : undefined
    for (const conn of this.runtime.connectionsById.values()) {
      if (!conn.isOpen) continue
      if (now - conn.lastSeen > heartbeat.timeout) {
        this.runtime.log.info({ connectionId: conn.id, userId: conn.userId }, 'heartbeat timeout')
        conn.transition(ConnectionState.Error)
        conn.closeAndTerminate(CloseCode.HeartbeatTimeout, 'heartbeat timeout')
        continue
      }
      if (idleTimeout > 0 && conn.state === ConnectionState.Connected && now - conn.lastActivity >= idleTimeout) {
        conn.transition(ConnectionState.Idle)
      }
      if (stamp !== undefined) conn.socket.ping(stamp)
    }
  }
}
