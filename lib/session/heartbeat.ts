import { performance } from 'node:perf_hooks'
import type { Connection } from '../connection/connection'
import { ConnectionState } from '../connection/state'
import { CloseCode } from '../protocol/codes'
import { pingFrame } from '../transport/outgoing-frame'
import { pingStamp } from '../transport/ping-stamp'

export interface HeartbeatDeps {
  /** Ms between pings. */
  interval: number
  /** Ms of silence after which a connection is terminated. */
  timeout: number
  /** Ms without traffic before a connection goes Idle; 0 never. */
  idleTimeout: number
  connections: { values (): IterableIterator<Connection> }
  log: { info (fields: object, message: string): void }
}

/**
 * Connections checked (and pinged) per synchronous slice of a sweep: a ping costs tens of
 * microseconds (one socket write), so a slice stays within a few milliseconds. @internal
 */
export const SWEEP_SLICE = 64

/**
 * One timer for every connection: pings each `interval`, terminates connections silent
 * for longer than `timeout` (4000), and moves connections without traffic to Idle.
 * A sweep runs in slices of `SWEEP_SLICE` connections with the event loop free in between,
 * so tens of thousands of connections never stall it for the whole round.
 */
export class HeartbeatMonitor {
  private timer: NodeJS.Timeout | undefined
  private lastPing = 0
  /** The sweep in progress: a live iterator, so connections added or removed meanwhile are fine. */
  private round: Iterator<Connection> | undefined
  private pinging = false
  private nextSlice: NodeJS.Immediate | undefined

  constructor (private readonly deps: HeartbeatDeps) {}

  start (): void {
    const { interval, idleTimeout } = this.deps
    const tick = idleTimeout > 0 ? Math.min(interval, idleTimeout) : interval
    this.lastPing = Date.now()
    this.timer = setInterval(() => this.sweep(Date.now()), tick)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    clearImmediate(this.nextSlice)
    this.timer = this.nextSlice = this.round = undefined
  }

  /** Starts a round over every connection, unless the previous one is still going. */
  private sweep (now: number): void {
    if (this.round !== undefined) return
    this.pinging = now - this.lastPing >= this.deps.interval
    if (this.pinging) this.lastPing = now
    this.round = this.deps.connections.values()
    this.slice()
  }

  private slice (): void {
    const round = this.round
    if (round === undefined) return
    const now = Date.now()
    // One stamp per slice: its sockets share the bytes, and the round trip excludes earlier slices.
    const stamp = this.pinging ? pingStamp(performance.now()) : undefined
    const ping = stamp === undefined ? undefined : { stamp, frame: pingFrame(stamp) }
    for (let i = 0; i < SWEEP_SLICE; i++) {
      const next = round.next()
      if (next.done === true) {
        this.round = this.nextSlice = undefined
        return
      }
      this.check(next.value, now, ping)
    }
    this.nextSlice = setImmediate(() => this.slice())
  }

  private check (conn: Connection, now: number, ping: { stamp: Buffer, frame: Buffer } | undefined): void {
    const { timeout, idleTimeout } = this.deps
    if (!conn.isOpen) return
    if (now - conn.lastSeen > timeout) {
      this.deps.log.info({ connectionId: conn.id, userId: conn.userId }, 'heartbeat timeout')
      conn.transition(ConnectionState.Error)
      conn.closeAndTerminate(CloseCode.HeartbeatTimeout, 'heartbeat timeout')
      return
    }
    if (idleTimeout > 0 && conn.state === ConnectionState.Connected && now - conn.lastActivity >= idleTimeout) {
      conn.transition(ConnectionState.Idle)
    }
    if (ping !== undefined) conn.ping(ping.frame, ping.stamp)
  }
}
