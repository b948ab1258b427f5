import { ConnectionState } from '../connection/state'
import { CloseCode } from '../protocol/codes'
import type { Runtime } from './runtime'

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
      if (ping) conn.socket.ping()
    }
  }
}
