/**
 * When and how often to reconnect (Hauyna's RetryPolicy): attempt `n` (0-based) waits
 * `min(baseDelay × backoffMultiplier^n, maxDelay)`, spread by ± `jitter` of itself so that
 * many clients dropped at once do not come back in one thundering herd.
 */
export interface RetryPolicy {
  /** Reconnection attempts after a connection is lost or an attempt fails; `Infinity` never gives up. */
  maxAttempts: number
  /** Milliseconds before the first attempt. */
  baseDelay: number
  /** Upper bound of the exponential part, in milliseconds. */
  maxDelay: number
  /** Growth factor per attempt (≥ 1). */
  backoffMultiplier: number
  /** Random spread as a fraction of the delay, 0–1: 0.1 gives ±10 %. */
  jitter: number
}

export const defaultRetryPolicy: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: Infinity,
  baseDelay: 1000,
  maxDelay: 30_000,
  backoffMultiplier: 2,
  jitter: 0.1
})

function check (name: keyof RetryPolicy, value: number, ok: boolean, rule: string): void {
  if (typeof value !== 'number' || Number.isNaN(value) || !ok) {
    throw new RangeError(`retry.${name} must be ${rule}, got ${String(value)}`)
  }
}

/** Fills in the defaults and rejects values that would make the delays meaningless. */
export function resolveRetryPolicy (policy: Partial<RetryPolicy> = {}): RetryPolicy {
  const p = { ...defaultRetryPolicy, ...policy }
  check('maxAttempts', p.maxAttempts, p.maxAttempts === Infinity || (Number.isInteger(p.maxAttempts) && p.maxAttempts >= 0),
    'an integer >= 0 or Infinity')
  check('baseDelay', p.baseDelay, Number.isFinite(p.baseDelay) && p.baseDelay >= 0, 'a finite number >= 0')
  check('maxDelay', p.maxDelay, Number.isFinite(p.maxDelay) && p.maxDelay >= p.baseDelay, 'a finite number >= baseDelay')
  check('backoffMultiplier', p.backoffMultiplier, Number.isFinite(p.backoffMultiplier) && p.backoffMultiplier >= 1,
    'a finite number >= 1')
  check('jitter', p.jitter, p.jitter >= 0 && p.jitter <= 1, 'between 0 and 1')
  return p
}

/**
 * Milliseconds to wait before reconnection attempt `attempt` (0-based). `random` returns a
 * number in [0, 1), as `Math.random` does; injectable so the spread can be tested.
 */
export function retryDelay (policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.baseDelay * Math.pow(policy.backoffMultiplier, attempt), policy.maxDelay)
  const spread = base * policy.jitter * (random() * 2 - 1)
  return Math.max(0, Math.round(base + spread))
}

/**
 * Milliseconds to wait before attempt `attempt` when the server may have said how long to wait
 * (`retryAfter` ms, from a 503's Retry-After): at least that long, spread by the policy's jitter
 * so that the clients it turned away do not all come back at once, and never less than
 * `retryDelay`. The load generator's reconnect storm (bench/storm.js) waits by this rule too.
 */
export function reconnectDelay (policy: RetryPolicy, attempt: number, retryAfter = 0, random: () => number = Math.random): number {
  return Math.max(Math.round(retryAfter * (1 + policy.jitter * random())), retryDelay(policy, attempt, random))
}
