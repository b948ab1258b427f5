import { performance } from 'node:perf_hooks'

export interface CleanupOptions {
  /** Jobs run per batch; the event loop is yielded between batches. */
  batchSize: number
  /** Jobs waiting at most; a job arriving at a full queue runs at once instead (never dropped). */
  queueSize: number
  /** Milliseconds between batches; 0 runs the next batch on the next turn of the loop (setImmediate). */
  interval: number
  /** Further attempts of a failing step before it is counted as an error and skipped. */
  maxRetries: number
}

export interface CleanupMetrics {
  /** Jobs finished (every step done or given up). */
  processed: number
  /** Steps that still failed after `maxRetries` retries. */
  errors: number
  /** Failed steps put back in the queue for another attempt. */
  retries: number
  /** Jobs run at once because the queue was full. */
  inline: number
  /** Jobs waiting now. */
  queueSize: number
  /**
   * Mean milliseconds per processed job: a batch's wall time divided among its jobs, so
   * `queueSize × avgProcessTimeMs` estimates how long the queue takes to drain.
   */
  avgProcessTimeMs: number
}

/** One step of a job; named functions, so a failure can say which step failed. */
export type CleanupStep<J> = (job: J) => Promise<unknown> | unknown

interface Entry<J> {
  readonly job: J
  /** Index of the next step to run: a retried job resumes where it failed. */
  step: number
  attempts: number
}

/**
 * Runs multi-step cleanup jobs in bounded batches, yielding the event loop between batches,
 * so that a mass disconnect is spread over many short turns instead of one long one.
 * Jobs of a batch run concurrently (a network adapter overlaps its round trips); a failing
 * step goes back to the queue and is retried in a later batch, which gives it some time.
 */
export class CleanupQueue<J> {
  private readonly pending: Array<Entry<J>> = []
  private timer: NodeJS.Timeout | NodeJS.Immediate | undefined
  private batchRunning = false
  /** Jobs running now, in a batch or inline. */
  private active = 0
  /** Shutdown: batches follow each other without waiting `interval`. */
  private flushing = false
  private idleWaiters: Array<() => void> = []
  private processed = 0
  private errors = 0
  private retries = 0
  private inline = 0
  private totalMs = 0

  constructor (
    private readonly options: CleanupOptions,
    private readonly steps: ReadonlyArray<CleanupStep<J>>,
    private readonly onFailure: (error: unknown, job: J, step: string) => void
  ) {}

  enqueue (job: J): void {
    const entry: Entry<J> = { job, step: 0, attempts: 0 }
    if (this.pending.length >= this.options.queueSize) {
      this.inline++
      void this.runInline(entry)
      return
    }
    this.pending.push(entry)
    this.schedule(0)
  }

  get size (): number {
    return this.pending.length
  }

  metrics (): CleanupMetrics {
    return {
      processed: this.processed,
      errors: this.errors,
      retries: this.retries,
      inline: this.inline,
      queueSize: this.pending.length,
      avgProcessTimeMs: this.processed === 0 ? 0 : this.totalMs / this.processed
    }
  }

  /** Resolves once every queued and running job has finished; used by shutdown. */
  drain (): Promise<void> {
    if (this.isIdle()) return Promise.resolve()
    this.flushing = true
    if (this.timer !== undefined && !this.batchRunning) {
      this.cancelTimer()
      this.schedule(0)
    }
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private isIdle (): boolean {
    return this.pending.length === 0 && this.active === 0 && !this.batchRunning
  }

  private schedule (delay: number): void {
    if (this.timer !== undefined || this.batchRunning || this.pending.length === 0) return
    if (delay === 0 || this.flushing) {
      this.timer = setImmediate(() => { void this.runBatch() })
      return
    }
    this.timer = setTimeout(() => { void this.runBatch() }, delay)
    // A pending batch must not hold the process open; shutdown drains the queue explicitly.
    this.timer.unref()
  }

  private cancelTimer (): void {
    clearTimeout(this.timer as NodeJS.Timeout)
    clearImmediate(this.timer as NodeJS.Immediate)
    this.timer = undefined
  }

  private async runBatch (): Promise<void> {
    this.timer = undefined
    this.batchRunning = true
    const batch = this.pending.splice(0, this.options.batchSize)
    const started = performance.now()
    const finished = await Promise.all(batch.map((entry) => this.run(entry)))
    this.totalMs += performance.now() - started
    this.processed += finished.filter(Boolean).length
    this.batchRunning = false
    this.schedule(this.options.interval)
    this.settle()
  }

  private async runInline (entry: Entry<J>): Promise<void> {
    const started = performance.now()
    const finished = await this.run(entry)
    this.totalMs += performance.now() - started
    if (finished) this.processed++
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
          this.errors++
          this.onFailure(error, entry.job, step.name)
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

  private settle (): void {
    if (!this.isIdle()) return
    this.flushing = false
    const waiters = this.idleWaiters
    this.idleWaiters = []
    for (const resolve of waiters) resolve()
  }
}
