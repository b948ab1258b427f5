import type { RateLimitOptions } from './limits'

/**
 * A token bucket refilled lazily from timestamps: no timer per connection.
 * Violations decay when the client stays within its rate for a full second.
 */
export class TokenBucket {
  private tokens: number
  private refilledAt: number
  private violations = 0

  constructor (private readonly options: RateLimitOptions, now: number) {
    this.tokens = options.burst
    this.refilledAt = now
  }

  /** `true` when the message may pass; otherwise the current violation count grows. */
  take (now: number): boolean {
    const elapsed = now - this.refilledAt
    if (elapsed > 0) {
      this.tokens = Math.min(this.options.burst, this.tokens + elapsed * this.options.perSecond / 1000)
      this.refilledAt = now
      if (elapsed >= 1000) this.violations = 0
    }
    if (this.tokens >= 1) {
      this.tokens -= 1
      return true
    }
    this.violations++
    return false
  }

  get persistentlyExceeded (): boolean {
    return this.violations > this.options.maxViolations
  }
}
