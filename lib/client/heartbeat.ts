import type { HeartbeatSettings } from './types'

/**
 * The client's side of liveness (browsers cannot see the server's pings): sends a
 * `heartbeat` every `interval` and declares the socket dead when nothing at all has come
 * back for `timeout`. Any frame counts, not only `heartbeat_ack`, so a busy connection is
 * never mistaken for a dead one. `heartbeat_ack` echoes the `ts` sent, which gives the RTT.
 */
export class ClientHeartbeat {
  private timer: ReturnType<typeof setInterval> | undefined
  private lastSeen = 0
  private lastBeat = 0
  private settings: HeartbeatSettings = { interval: 0, timeout: 0 }
  /** Round-trip milliseconds of the last answered heartbeat. */
  rtt: number | undefined

  constructor (
    private readonly beat: (ts: number) => void,
    private readonly dead: () => void
  ) {}

  start (settings: HeartbeatSettings, now: number): void {
    this.stop()
    this.settings = settings
    this.lastSeen = this.lastBeat = now
    // Checking twice per timeout bounds detection to 1.5 × timeout however long the interval.
    const tick = Math.max(1, Math.min(settings.interval, settings.timeout / 2))
    this.timer = setInterval(() => this.tick(Date.now()), tick)
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Any frame from the server. */
  seen (now: number): void {
    this.lastSeen = now
  }

  acked (ts: unknown, now: number): void {
    if (typeof ts === 'number' && ts <= now) this.rtt = now - ts
  }

  private tick (now: number): void {
    if (now - this.lastSeen > this.settings.timeout) {
      this.stop()
      this.dead()
      return
    }
    if (now - this.lastBeat >= this.settings.interval) {
      this.lastBeat = now
      this.beat(now)
    }
  }
}

/** The server's announced settings, overridden field by field by the client's option. */
export function heartbeatSettings (
  announced: HeartbeatSettings,
  option: Partial<HeartbeatSettings> | false | undefined
): HeartbeatSettings | undefined {
  if (option === false) return undefined
  return { interval: option?.interval ?? announced.interval, timeout: option?.timeout ?? announced.timeout }
}
