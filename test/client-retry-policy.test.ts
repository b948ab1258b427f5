import t from 'tap'
import { defaultRetryPolicy, resolveRetryPolicy, retryDelay } from '../lib/client/index'
import { reconnectDelay } from '../lib/client/retry-policy'

const policy = resolveRetryPolicy({ baseDelay: 100, maxDelay: 1000, backoffMultiplier: 2, jitter: 0 })

t.test('without jitter the delay is min(base × multiplier^attempt, max)', async (t) => {
  const delays = Array.from({ length: 7 }, (_, attempt) => retryDelay(policy, attempt))
  t.same(delays, [100, 200, 400, 800, 1000, 1000, 1000])
})

t.test('the multiplier shapes the curve; 1 gives a constant delay', async (t) => {
  const triple = resolveRetryPolicy({ baseDelay: 10, maxDelay: 10_000, backoffMultiplier: 3, jitter: 0 })
  t.same([0, 1, 2, 3].map((n) => retryDelay(triple, n)), [10, 30, 90, 270])
  const flat = resolveRetryPolicy({ baseDelay: 250, maxDelay: 250, backoffMultiplier: 1, jitter: 0 })
  t.same([0, 5, 50].map((n) => retryDelay(flat, n)), [250, 250, 250])
})

t.test('jitter spreads the delay by ± that fraction of it, never further', async (t) => {
  const jittery = resolveRetryPolicy({ baseDelay: 1000, maxDelay: 8000, backoffMultiplier: 2, jitter: 0.25 })
  // The extremes of the random source give the bounds exactly.
  t.equal(retryDelay(jittery, 0, () => 0), 750, 'random 0 → −25 %')
  t.equal(retryDelay(jittery, 0, () => 0.5), 1000, 'random 0.5 → the base delay')
  t.equal(retryDelay(jittery, 0, () => 0.999999), 1250, 'random → 1 gives +25 %')
  t.equal(retryDelay(jittery, 10, () => 0), 6000, 'the spread applies to the capped delay')
  // With the real random source every delay stays inside the bounds, and they differ.
  const seen = new Set<number>()
  for (let i = 0; i < 200; i++) {
    const delay = retryDelay(jittery, 2)
    seen.add(delay)
    if (delay < 3000 || delay > 5000) t.fail(`delay ${delay} outside [3000, 5000]`)
  }
  t.ok(seen.size > 1, `jitter produced ${seen.size} distinct delays`)
})

t.test('a delay is never negative', async (t) => {
  const full = resolveRetryPolicy({ baseDelay: 0, maxDelay: 0, jitter: 1 })
  t.equal(retryDelay(full, 3, () => 0), 0)
})

t.test("a Retry-After is waited at least, spread upward by the jitter; the policy's delay when that is longer", async (t) => {
  const jittery = resolveRetryPolicy({ baseDelay: 1000, maxDelay: 8000, backoffMultiplier: 2, jitter: 0.25 })
  t.equal(reconnectDelay(jittery, 0, 5000, () => 0), 5000, 'random 0 → Retry-After itself')
  t.equal(reconnectDelay(jittery, 0, 5000, () => 0.999999), 6250, 'random → 1 gives +25 %')
  t.equal(reconnectDelay(jittery, 3, 1000, () => 0.5), 8000, "the policy's longer delay wins")
  t.equal(reconnectDelay(jittery, 1, undefined, () => 0.5), retryDelay(jittery, 1, () => 0.5), 'no Retry-After: retryDelay')
})

t.test('defaults follow the seed: infinite attempts, 1 s base, 30 s cap, ×2, 10 % jitter', async (t) => {
  t.same(resolveRetryPolicy(), { maxAttempts: Infinity, baseDelay: 1000, maxDelay: 30_000, backoffMultiplier: 2, jitter: 0.1 })
  t.same(resolveRetryPolicy({ maxAttempts: 5 }), { ...defaultRetryPolicy, maxAttempts: 5 })
  t.ok(Object.isFrozen(defaultRetryPolicy))
})

t.test('invalid policies are refused with the field named', async (t) => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ maxAttempts: -1 }, /retry\.maxAttempts/],
    [{ maxAttempts: 1.5 }, /retry\.maxAttempts/],
    [{ maxAttempts: NaN }, /retry\.maxAttempts/],
    [{ baseDelay: -5 }, /retry\.baseDelay/],
    [{ baseDelay: Infinity }, /retry\.baseDelay/],
    [{ baseDelay: 100, maxDelay: 50 }, /retry\.maxDelay/],
    [{ backoffMultiplier: 0.5 }, /retry\.backoffMultiplier/],
    [{ jitter: 1.5 }, /retry\.jitter/],
    [{ jitter: -0.1 }, /retry\.jitter/],
    [{ jitter: '0.1' }, /retry\.jitter/]
  ]
  for (const [given, message] of cases) {
    t.throws(() => resolveRetryPolicy(given as never), { name: 'RangeError', message }, JSON.stringify(given))
  }
  t.equal(resolveRetryPolicy({ maxAttempts: Infinity }).maxAttempts, Infinity)
  t.equal(resolveRetryPolicy({ maxAttempts: 0 }).maxAttempts, 0)
})
