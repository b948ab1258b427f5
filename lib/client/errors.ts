/**
 * Codes the client raises itself, beside the server's error codes (PROTOCOL.md, "Error
 * codes") which it passes through unchanged.
 */
export const ClientErrorCode = {
  /** No answer to a request within its timeout. */
  Timeout: 'timeout',
  /** Evicted from the outgoing queue by its overflow strategy. */
  Dropped: 'dropped',
  /** Written to a socket that then died before the answer came: it may or may not have been handled. */
  ConnectionLost: 'connection_lost',
  /** `stop()` ended the client before the message could be sent or answered. */
  Stopped: 'stopped',
  /** The client is closed for good (stopped or failed): call `start()` again to connect. */
  Closed: 'closed',
  /** The retry policy's attempts are used up. */
  ReconnectFailed: 'reconnect_failed',
  /** The upgrade was refused with HTTP 401 (only visible where the WebSocket implementation shows it). */
  Unauthorized: 'unauthorized',
  /** The upgrade was refused with HTTP 403. */
  UpgradeForbidden: 'upgrade_forbidden',
  /** The server closed with 1008: a policy (connections per user, rate limit, slow consumer). */
  PolicyViolation: 'policy_violation',
  /** The server closed with 1002: the connection carried no identity. */
  ProtocolError: 'protocol_error',
  /** The server (the app) closed the connection normally, with 1000. */
  ClosedByServer: 'closed_by_server',
  /** A connection attempt failed before opening and `retryBeforeFirstOpen` is off, or the URL is unusable. */
  ConnectFailed: 'connect_failed',
  /** A `url`, `params`, `protocols` or `webSocketOptions` function threw, rejected or overran `connectTimeout`: the attempt is retried. */
  ConnectOptionsFailed: 'connect_options_failed',
  /** An event listener or subscription handler threw. */
  HandlerError: 'handler_error',
  /** The server sent a frame that is not a JSON object with a `type`. */
  InvalidFrame: 'invalid_frame'
} as const
export type ClientErrorCode = typeof ClientErrorCode[keyof typeof ClientErrorCode]

export interface HauynaErrorDetails {
  ref?: string | number
  details?: Array<{ path: string, message: string }>
  /** HTTP status of a refused upgrade, when the WebSocket implementation exposes it. */
  status?: number
  /** WebSocket close code that ended the connection. */
  closeCode?: number
  /** For request failures: whether the frame had been written to a socket (so it may have been handled). */
  sent?: boolean
  /** The channel of a failed subscription. */
  channel?: string
  cause?: unknown
}

/** Every failure the client reports, as a rejection or an `error` event: `code` says which. */
export class HauynaError extends Error {
  readonly code: string
  readonly ref?: string | number
  readonly details?: Array<{ path: string, message: string }>
  readonly status?: number
  readonly closeCode?: number
  readonly sent?: boolean
  readonly channel?: string

  constructor (code: string, message: string, extra: HauynaErrorDetails = {}) {
    super(message, extra.cause === undefined ? undefined : { cause: extra.cause })
    this.name = 'HauynaError'
    this.code = code
    if (extra.ref !== undefined) this.ref = extra.ref
    if (extra.details !== undefined) this.details = extra.details
    if (extra.status !== undefined) this.status = extra.status
    if (extra.closeCode !== undefined) this.closeCode = extra.closeCode
    if (extra.sent !== undefined) this.sent = extra.sent
    if (extra.channel !== undefined) this.channel = extra.channel
  }
}
