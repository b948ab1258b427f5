'use strict'
// Subscribed lean clients that come back when their connection drops, for the reconnect
// storm. Each waits between attempts as its target's own client would (the dialect's `retry`)
// by the SDK's own rule, reconnectDelay from the build: backoff, jitter, and at least a 503's
// Retry-After. Run `npm run build` first.
const { reconnectDelay, resolveRetryPolicy } = require('../dist/lib/client/retry-policy.js')
const { openUntil } = require('./subscriber')

// The SDK's default connectTimeout: an attempt not subscribed by then has failed.
const ATTEMPT_TIMEOUT = 10_000
const now = () => performance.timeOrigin + performance.now()

/** The kind of a failed attempt, from subscriber()'s reason. */
function kindOf (reason) {
  if (reason === 'ECONNREFUSED') return 'refused'
  if (reason === 'HTTP 503') return '503'
  if (reason === 'ECONNRESET' || reason === 'EPIPE') return 'reset'
  if (reason.startsWith('not subscribed within')) return 'timeout'
  return 'other'
}

class Fleet {
  /** `open(i, timeout)` resolves to client i subscribed (bench/subscriber.js); `retry` is a partial RetryPolicy. */
  constructor (open, retry) {
    this.open = open
    this.policy = resolveRetryPolicy(retry)
    this.size = 0
    // Clients subscribed again since their connection dropped; the times the count reached 99 % and 100 %.
    this.back = 0
    this.reached = {}
    this.failures = {}
    this.reasons = {}
    this.clients = new Set()
    this.timers = new Set()
    this.stopped = false
    this.onBack = () => {}
  }

  /** Opens `count` clients, all or none. */
  async start (count) {
    const { clients, failure } = await openUntil(count, (i) => this.open(i, ATTEMPT_TIMEOUT))
    if (failure) {
      for (const client of clients) client.destroy()
      throw new Error(failure)
    }
    this.size = count
    clients.forEach((client, i) => this.watch(i, client, false))
  }

  /** When the connection of `client` drops, client i tries again; `counted`: it is one of `back`. */
  watch (i, client, counted) {
    this.clients.add(client)
    client.socket.once('close', () => {
      this.clients.delete(client)
      if (counted) this.back--
      this.retry(i, 0)
    })
  }

  retry (i, attempt, retryAfter) {
    if (this.stopped) return
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      this.attempt(i, attempt)
    }, reconnectDelay(this.policy, attempt, retryAfter))
    this.timers.add(timer)
  }

  attempt (i, attempt) {
    if (this.stopped) return
    this.open(i, ATTEMPT_TIMEOUT).then((client) => {
      if (this.stopped) return client.destroy()
      this.back++
      this.watch(i, client, true)
      if (this.back >= Math.ceil(this.size * 0.99)) this.reached['99'] ??= now()
      if (this.back === this.size) {
        this.reached['100'] ??= now()
        this.onBack()
      }
    }, (error) => {
      const kind = kindOf(error.message)
      this.failures[kind] = (this.failures[kind] ?? 0) + 1
      this.reasons[error.message] = (this.reasons[error.message] ?? 0) + 1
      this.retry(i, attempt + 1, error.retryAfter)
    })
  }

  /** Resolves when every client is back, or at `deadline` (ms since the epoch). */
  allBack (deadline) {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, Math.max(0, deadline - now()))
      this.onBack = () => { clearTimeout(timer); resolve() }
      if (this.back === this.size) this.onBack()
    })
  }

  /** Closes every client and cancels every pending attempt. */
  stop () {
    this.stopped = true
    for (const timer of this.timers) clearTimeout(timer)
    for (const client of this.clients) client.destroy()
  }

  /** The storm's figures, in seconds since `killedAt` (undefined: never reached). */
  result (killedAt) {
    const since = (at) => (at === undefined ? undefined : (at - killedAt) / 1000)
    return {
      clients: this.size, back: this.back, t99: since(this.reached['99']), t100: since(this.reached['100']),
      failures: this.failures, reasons: this.reasons
    }
  }
}

module.exports = { Fleet }
