import type { ByteBudget, InboxLimits } from './limits'

/**
 * The bytes parked in every inbox of one node, against one cap: per-connection limits alone
 * let many connections within their limits hold `connections × limit` between them.
 */
export class InboxBudget implements ByteBudget {
  used = 0

  constructor (readonly max: number) {}

  reserve (bytes: number): boolean {
    if (this.used + bytes > this.max) return false
    this.used += bytes
    return true
  }

  release (bytes: number): void {
    this.used -= bytes
  }
}


type Frame = [data: Buffer, isBinary: boolean]

/** Inbound frames waiting for their turn, bounded in count, in bytes and by the node's budget. */
export class Inbox {
  private readonly frames: Frame[] = []
  private bytes = 0

  constructor (private readonly limits: InboxLimits, private readonly budget: ByteBudget) {}

  get size (): number {
    return this.frames.length
  }

  /** `false` when the frame would go over a limit; the caller refuses it. */
  push (data: Buffer, isBinary: boolean): boolean {
    const size = data.length
    if (this.frames.length >= this.limits.maxMessages || this.bytes + size > this.limits.maxBytes ||
        !this.budget.reserve(size)) return false
    this.bytes += size
    this.frames.push([data, isBinary])
    return true
  }

  shift (): Frame | undefined {
    const frame = this.frames.shift()
    if (frame !== undefined) this.forget(frame[0].length)
    return frame
  }

  /** Drops every waiting frame (the connection is closing) and gives their bytes back. */
  clear (): void {
    this.forget(this.bytes)
    this.frames.length = 0
  }

  private forget (bytes: number): void {
    this.bytes -= bytes
    this.budget.release(bytes)
  }
}
