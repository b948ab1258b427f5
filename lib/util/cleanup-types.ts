// The cleanup queue as users see it: its options, and its figures in stats and metrics.

/** How disconnect cleanup is paced (the `cleanup` option). */
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
  overflow: number
  /** Jobs waiting now. */
  queueSize: number
  /**
   * Mean milliseconds per processed job: a batch's wall time divided among its jobs, so
   * `queueSize × avgProcessTimeMs` estimates how long the queue takes to drain.
   */
  avgProcessTimeMs: number
}
