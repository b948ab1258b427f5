import { ClientErrorCode, HauynaError } from './errors'
import type { OutgoingMessage } from './types'

/** A message waiting for the `ack` or `error` that bears its `ref`. */
export interface PendingRequest {
  readonly ref: string
  readonly message: OutgoingMessage & { ref: string }
  /** The frame as written: serialized once, when the request is made, so bad data fails there. */
  readonly text: string
  /** Written to a socket: from then on the server may have handled it. */
  sent: boolean
  /**
   * Called with the answer as it arrives, before any later frame: a promise's continuation
   * would come after the frames that `ws` hands over in the same tick (a replay after `subscribed`).
   */
  readonly answered?: (frame: AnswerFrame) => void
  resolve (frame: AnswerFrame): void
  reject (error: HauynaError): void
}

/** The answer frames that settle a request (`subscribed`/`unsubscribed` answer before their `ack`). */
export interface AnswerFrame {
  type: string
  ref?: unknown
  code?: unknown
  message?: unknown
  details?: unknown
}

const answers = new Set(['ack', 'error', 'subscribed', 'unsubscribed'])

function errorOf (frame: AnswerFrame, ref: string): HauynaError {
  return new HauynaError(String(frame.code), String(frame.message), {
    ref,
    sent: true,
    details: Array.isArray(frame.details) ? frame.details : undefined
  })
}

/**
 * Requests by `ref`. Each settles exactly once: by its answer, by its timeout, or by the
 * client giving it up (connection lost, dropped, stopped); its timer goes with it.
 */
export class PendingRequests {
  private readonly byRef = new Map<string, { request: PendingRequest, timer: ReturnType<typeof setTimeout> }>()

  /** `onTimeout` runs before the rejection: the client takes the message out of its queue. */
  constructor (private readonly onTimeout: (request: PendingRequest) => void) {}

  get size (): number {
    return this.byRef.size
  }

  /** Throws (before registering anything) when `message` cannot be serialized. */
  create (
    message: OutgoingMessage & { ref: string }, timeout: number, answered?: (frame: AnswerFrame) => void
  ): { request: PendingRequest, promise: Promise<AnswerFrame> } {
    const text = JSON.stringify(message)
    let resolve!: (frame: AnswerFrame) => void
    let reject!: (error: HauynaError) => void
    const promise = new Promise<AnswerFrame>((res, rej) => { resolve = res; reject = rej })
    const ref = message.ref
    const request: PendingRequest = {
      ref,
      message,
      text,
      sent: false,
      answered,
      resolve: (frame) => { if (this.forget(ref)) resolve(frame) },
      reject: (error) => { if (this.forget(ref)) reject(error) }
    }
    const timer = setTimeout(() => this.expire(request, timeout), timeout)
    this.byRef.set(ref, { request, timer })
    return { request, promise }
  }

  /** Settles the request a frame answers; `false` when it answers none (late, or not ours). */
  settle (frame: AnswerFrame): boolean {
    if (!answers.has(frame.type) || frame.ref === undefined) return false
    const entry = this.byRef.get(String(frame.ref))
    if (entry === undefined) return false
    const { request } = entry
    if (frame.type === 'error') {
      request.reject(errorOf(frame, request.ref))
    } else {
      request.resolve(frame)
      request.answered?.(frame)
    }
    return true
  }

  /** Rejects every request `which` selects (e.g. those written to a socket that died). */
  rejectWhere (which: (request: PendingRequest) => boolean, error: (request: PendingRequest) => HauynaError): void {
    for (const { request } of [...this.byRef.values()]) {
      if (which(request)) request.reject(error(request))
    }
  }

  private expire (request: PendingRequest, timeout: number): void {
    this.onTimeout(request)
    request.reject(new HauynaError(ClientErrorCode.Timeout, `no answer to "${request.message.type}" within ${timeout} ms`,
      { ref: request.ref, sent: request.sent }))
  }

  private forget (ref: string): boolean {
    const entry = this.byRef.get(ref)
    if (entry === undefined) return false
    clearTimeout(entry.timer)
    this.byRef.delete(ref)
    return true
  }
}
