const WINDOW_MS = 10_000
const LINES_PER_WINDOW = 10

/**
 * Caps what one connection can make the server log: a client repeating a bad frame would
 * otherwise write a line per frame. Past the cap, lines are only counted; the count is
 * reported with the next line let through (`suppressed`).
 */
export class LogThrottle {
  private windowStart = 0
  private lines = 0
  private dropped = 0

  /** `undefined` when this line must be dropped, else how many were dropped before it. */
  admit (now: number): number | undefined {
    if (now - this.windowStart >= WINDOW_MS) {
      this.windowStart = now
      this.lines = 0
    }
    if (this.lines >= LINES_PER_WINDOW) {
      this.dropped++
      return undefined
    }
    this.lines++
    const dropped = this.dropped
    this.dropped = 0
    return dropped
  }

  /** Lines dropped and not yet reported. */
  get pending (): number {
    return this.dropped
  }
}
