import { performance } from 'node:perf_hooks'
import type { CleanupMetrics, CleanupOptions } from './cleanup-types'

/** One step of a job; named functions, so a failure can say which step failed. */
export type CleanupStep<J> = (job: J) => Promise<unknown> | unknown

interface Entry<J> {
  readonly job: J
  /** Index of the next step to run: a retried job resumes where it failed. */
  step: number
  attempts: number
}

/**
 * Runs multi-step cleanup jobs in bounded batches, one batch per turn of the event loop, so
 * that a mass disconnect is spread over many short turns instead of one long one. While the
 * queue is empty, up to `batchSize` jobs per turn start at once: a lone disconnect is cleaned
 * up as promptly as without a queue, and only a burst waits. A batch's jobs run concurrently,
 * and the next batch does not wait for a slow one (a network adapter's round trip, an app's
 * async `disconnect` handler): only the synchronous work is batched. A failing step goes back
 * to the queue and is retried in a later batch, which gives it time.
 */
export class CleanupQueue<J> {
  private readonly pending: Array<Entry<J>> = []
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined
  /** Jobs started and not yet finished, in batches or inline. */
  private active = 0
  /** Shutdown: batches follow each other without waiting `interval`. */
  private flushing = false
  /** Jobs that may still start at once in this turn of the event loop. */
  private budget: number
  private budgetReset: NodeJS.Immediate | undefined
  private idleWaiters: Array<() => void> = []
  private processed = 0
  private errors = 0
  private retries = 0
  private overflow = 0
  private totalMs = 0

  constructor (
    private readonly options: CleanupOptions,
    private readonly steps: ReadonlyArray<CleanupStep<J>>,
    private readonly onFailure: (error: unknown, job: J, step: string) => void
  ) {
    this.budget = options.batchSize
  }

  enqueue (job: J): void {
    const entry: Entry<J> = { job, step: 0, attempts: 0 }
    if (this.pending.length === 0 && this.budget > 0) {
      this.spendBudget()
      void this.runAll([entry])
      return
    }
    if (this.pending.length >= this.options.queueSize) {
      this.overflow++
      void this.runAll([entry])
      return
    }
    this.pending.push(entry)
    this.schedule(0)
  }

  metrics (): CleanupMetrics {
    return {
      processed: this.processed,
      errors: this.errors,
      retries: this.retries,
      overflow: this.overflow,
      queueSize: this.pending.length,
      avgProcessTimeMs: this.processed === 0 ? 0 : this.totalMs / this.processed
    }
  }

  /** Resolves once every queued and running job has finished; used by shutdown. */
  drain (): Promise<void> {
    if (this.isIdle()) return Promise.resolve()
    this.flushing = true
    if (this.timer !== undefined) {
      this.cancelTimer()
      this.schedule(0)
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  // The budget comes back on the next turn: the check phase follows the poll phase whose
  // close events spent it.
  private spendBudget (): void {
    this.budget--
    this.budgetReset ??= setImmediate(() => {
      this.budgetReset = undefined
      this.budget = this.options.batchSize
    })
  }

  private isIdle (): boolean {
    return this.pending.length === 0 && this.active === 0
  }

  private schedule (delay: number): void {
    if (this.timer !== undefined || this.pending.length === 0) return
    if (delay === 0 || this.flushing) {
      this.timer = setImmediate(() => this.nextBatch())
      return
    }
    this.timer = setTimeout(() => this.nextBatch(), delay)
    // A waiting batch must not hold the process open; shutdown drains the queue explicitly.
    this.timer.unref()
  }

  private cancelTimer (): void {
    clearTimeout(this.timer as NodeJS.Timeout)
    clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = undefined
  }

  private nextBatch (): void {
    this.timer = undefined
    void this.runAll(this.pending.splice(0, this.options.batchSize))
    this.schedule(this.options.interval)
  }

  /** Wall time from start to the last job's end is shared among the jobs that finished. */
  private async runAll (entries: Array<Entry<J>>): Promise<void> {
    const started = performance.now()
    const finished = await Promise.all(entries.map((entry) => this.run(entry)))
    this.totalMs += performance.now() - started
    for (const done of finished) if (done) this.processed++
    this.settle()
  }

  /** Runs the remaining steps; resolves `false` when the job went back to the queue for a retry. */
  private async run (entry: Entry<J>): Promise<boolean> {
    this.active++
    try {
      while (entry.step < this.steps.length) {
        const step = this.steps[entry.step]
        try {
          await step(entry.job)
        } catch (error) {
          if (entry.attempts < this.options.maxRetries) {
            this.retry(entry)
            return false
          }
          this.giveUp(error, entry, step.name || `step ${entry.step}`)
        }
        entry.step++
        entry.attempts = 0
      }
      return true
    } finally {
      this.active--
    }
  }

  // A retry ignores `queueSize`: the job was admitted already, and dropping it would leak.
  private retry (entry: Entry<J>): void {
    entry.attempts++
    this.retries++
    this.pending.push(entry)
    this.schedule(this.options.interval)
  }

  private giveUp (error: unknown, entry: Entry<J>, step: string): void {
    this.errors++
    try {
      this.onFailure(error, entry.job, step)
    } catch {
      // The failure sink itself failed: the error is counted, and the job goes on regardless.
    }
  }

  private settle (): void {
    if (!this.isIdle()) return
    this.flushing = false
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
