/** Runs a task now or later; `await later(task)` returns once the task ran or was scheduled. */
export type Later = (task: () => Promise<void>) => Promise<void>

/** Tasks that run after a delay, unless shutdown runs them first (`flush`). */
export class Deferrals {
  private readonly pending = new Map<NodeJS.Timeout, () => Promise<void>>()

  constructor (private readonly onError: (error: unknown) => void) {}

  defer (ms: number, task: () => Promise<void>): void {
    const timer = setTimeout(() => {
      this.pending.delete(timer)
      task().catch(this.onError)
    }, ms)
    timer.unref()
    this.pending.set(timer, task)
  }

  /** Runs every pending task now, one after the other, so nothing is left behind. */
  async flush (): Promise<void> {
    for (const [timer, task] of this.pending) {
      clearTimeout(timer)
      this.pending.delete(timer)
      await task().catch(this.onError)
    }
  }
}

/** `task` at once. */
export const now: Later = async (task) => { await task() }

/** `task` deferred by `ms`, or at once when `ms` is 0: the presence leave grace period. */
export function after (ms: number, deferrals: Deferrals): Later {
  if (ms === 0) return now
  return async (task) => { deferrals.defer(ms, task) }
}
