// The small per-connection budgets, at their exact boundaries: the end-to-end tests in
// hardening/limits show the behaviour, these pin the arithmetic (off-by-one, `>` vs `>=`).
import t from 'tap'
import { TokenBucket } from '../lib/connection/rate-limiter'
import { Inbox, InboxBudget } from '../lib/connection/inbox'
import { LogThrottle } from '../lib/connection/log-throttle'

const frame = (bytes: number): Buffer => Buffer.alloc(bytes)

t.test('token bucket: a burst passes, the next frame does not, time refills at perSecond', async (t) => {
  const bucket = new TokenBucket({ burst: 3, perSecond: 2, maxViolations: 5 }, 0)
  t.same([bucket.take(0), bucket.take(0), bucket.take(0)], [true, true, true])
  t.equal(bucket.take(0), false, 'the burst is spent')
  t.equal(bucket.take(499), false, '0.998 of a token is not a token')
  t.equal(bucket.take(500), true, 'exactly one token after 500 ms at 2/s')
  t.equal(bucket.take(500), false)
  t.same([bucket.take(10_000), bucket.take(10_000), bucket.take(10_000), bucket.take(10_000)],
    [true, true, true, false], 'refill stops at the burst')
})

t.test('token bucket: violations count past maxViolations, and a full second within the rate forgives them', async (t) => {
  const bucket = new TokenBucket({ burst: 1, perSecond: 1, maxViolations: 2 }, 0)
  bucket.take(0)
  bucket.take(0)
  bucket.take(0)
  t.equal(bucket.persistentlyExceeded, false, 'two violations are allowed')
  bucket.take(0)
  t.equal(bucket.persistentlyExceeded, true, 'the third is one too many')

  const forgiven = new TokenBucket({ burst: 1, perSecond: 1, maxViolations: 0 }, 0)
  forgiven.take(0)
  forgiven.take(0)
  t.equal(forgiven.persistentlyExceeded, true)
  t.equal(forgiven.take(1000), true, 'a second later a token is back')
  t.equal(forgiven.persistentlyExceeded, false, 'and exactly one second forgives')

  const notYet = new TokenBucket({ burst: 1, perSecond: 1, maxViolations: 0 }, 0)
  notYet.take(0)
  notYet.take(0)
  notYet.take(999)
  t.equal(notYet.persistentlyExceeded, true, '999 ms does not forgive')
})

t.test('token bucket: a clock that goes back neither refills nor forgives', async (t) => {
  const bucket = new TokenBucket({ burst: 1, perSecond: 1000, maxViolations: 0 }, 5000)
  bucket.take(5000)
  t.equal(bucket.take(3000), false, 'no tokens from negative time')
  t.equal(bucket.persistentlyExceeded, true)
  t.equal(bucket.take(5000), false, 'and the refill point did not move back to 3000')

  const spared = new TokenBucket({ burst: 2, perSecond: 1000, maxViolations: 0 }, 5000)
  spared.take(5000)
  t.equal(spared.take(3000), true, 'nor takes away the token that was left')
})

t.test('inbox: bounded in count and bytes, the boundary itself admitted', async (t) => {
  const budget = new InboxBudget(1000)
  const inbox = new Inbox({ maxMessages: 2, maxBytes: 10 }, budget)
  t.equal(inbox.push(frame(4), false), true)
  t.equal(inbox.push(frame(7), false), false, '4 + 7 bytes is over 10')
  t.equal(inbox.push(frame(6), true), true, '4 + 6 bytes is exactly 10')
  t.equal(inbox.size, 2)
  t.equal(inbox.push(frame(0), false), false, 'two messages is the count limit')
  t.equal(budget.used, 10)
  t.same(inbox.shift()?.[0].length, 4, 'first in, first out')
  t.same(inbox.shift()?.[1], true, 'the binary flag travels with the frame')
  t.equal(inbox.shift(), undefined)
  t.equal(budget.used, 0, 'every byte shifted out is given back')
})

t.test('inbox budget: shared by every inbox; reaching it exactly is allowed', async (t) => {
  const budget = new InboxBudget(10)
  const limits = { maxMessages: 10, maxBytes: 100 }
  const a = new Inbox(limits, budget)
  const b = new Inbox(limits, budget)
  t.equal(a.push(frame(6), false), true)
  t.equal(b.push(frame(5), false), false, 'the node budget refuses what one inbox would allow')
  t.equal(b.push(frame(4), false), true, '6 + 4 is exactly the budget')
  t.equal(budget.used, 10)
  a.clear()
  t.equal(a.size, 0)
  t.equal(budget.used, 4, 'clearing gives back only that inbox\'s bytes')
  t.equal(a.push(frame(6), false), true, 'and a cleared inbox takes frames again')
  b.clear()
  a.clear()
  t.equal(budget.used, 0)
})

t.test('log throttle: ten lines per ten seconds, the rest counted and reported with the next line', async (t) => {
  const throttle = new LogThrottle()
  const start = 20_000
  const first = Array.from({ length: 10 }, () => throttle.admit(start))
  t.same(first, Array(10).fill(0), 'ten lines pass, nothing dropped before them')
  t.equal(throttle.admit(start + 9_999), undefined, 'the eleventh within the window is dropped')
  t.equal(throttle.admit(start + 9_999), undefined)
  t.equal(throttle.pending, 2)
  t.equal(throttle.admit(start + 10_000), 2, 'exactly ten seconds later a line passes and reports the drops')
  t.equal(throttle.pending, 0)
  const second = Array.from({ length: 10 }, () => throttle.admit(start + 19_999))
  t.same(second, [...Array(9).fill(0), undefined], 'the new window began at its first line, which counts in it')
})
