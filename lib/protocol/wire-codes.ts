import { ErrorCode } from './codes'

// The plugin errors (errors.ts) a client may see as themselves; any other is internal_error.
const wireCodes: Record<string, ErrorCode> = {
  HAUYNA_INVALID_NAME: ErrorCode.InvalidMessage,
  HAUYNA_INVALID_META: ErrorCode.InvalidMessage,
  HAUYNA_FORBIDDEN: ErrorCode.Forbidden,
  HAUYNA_NOT_SUBSCRIBED: ErrorCode.NotSubscribed,
  HAUYNA_TOO_LARGE: ErrorCode.TooLarge,
  HAUYNA_UNAVAILABLE: ErrorCode.Unavailable,
  HAUYNA_RESUME_FAILED: ErrorCode.ResumeFailed
}

/** The wire code a client sees for an error thrown while handling its message. */
export function wireCodeOf (err: unknown): ErrorCode {
  const code = (err as { code?: unknown } | null)?.code
  return (typeof code === 'string' && wireCodes[code]) || ErrorCode.InternalError
}
