/** Error codes carried by `error` frames (PROTOCOL.md, "Error codes"). */
export const ErrorCode = {
  InvalidJson: 'invalid_json',
  InvalidMessage: 'invalid_message',
  UnknownType: 'unknown_type',
  Forbidden: 'forbidden',
  NotSubscribed: 'not_subscribed',
  RateLimited: 'rate_limited',
  TooLarge: 'too_large',
  MissingUserId: 'missing_user_id',
  /** Delivered on this node only: the adapter could not hand the message to the other nodes. */
  Unavailable: 'unavailable',
  /** A `resume` found no session to take over: the client subscribes again itself. */
  ResumeFailed: 'resume_failed',
  InternalError: 'internal_error'
} as const
export type ErrorCode = typeof ErrorCode[keyof typeof ErrorCode]

/** WebSocket close codes the server uses (PROTOCOL.md, "Close codes"). */
export const CloseCode = {
  Normal: 1000,
  GoingAway: 1001,
  ProtocolError: 1002,
  PolicyViolation: 1008,
  MessageTooBig: 1009,
  InternalError: 1011,
  HeartbeatTimeout: 4000
} as const
export type CloseCode = typeof CloseCode[keyof typeof CloseCode]

/** Close codes an endpoint may send (RFC 6455 §7.4): the registered ones and 3000–4999. */
export function isValidCloseCode (code: number): boolean {
  return Number.isInteger(code) && ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999))
}
