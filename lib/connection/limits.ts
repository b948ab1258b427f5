import type { Codec } from '../protocol/codec'

// The limits a connection applies to itself, as plain types: the options declare them, the
// connection and its inbox and rate limiter enforce them.

export interface RateLimitOptions {
  /** Messages a connection may send in a burst. */
  burst: number
  /** Messages added back to the bucket per second. */
  perSecond: number
  /** Rejected messages within one refill window after which the connection is closed (1008). */
  maxViolations: number
}

export interface InboxLimits {
  maxMessages: number
  maxBytes: number
}

/** The node's limits that every connection applies to itself. */
export interface ConnectionLimits {
  readonly rateLimit: RateLimitOptions | false
  readonly inbox: InboxLimits
  readonly maxBufferedBytes: number
  readonly maxMetaBytes: number
  readonly closeTimeout: number
  /** Pongs answering a ping older than this prove nothing. */
  readonly heartbeatTimeout: number
  readonly codec: Codec | undefined
}

/** Bytes shared by every inbox of a node, against one cap. */
export interface ByteBudget {
  reserve (bytes: number): boolean
  release (bytes: number): void
}
