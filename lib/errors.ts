import createError from '@fastify/error'

/**
 * Every error the plugin raises, with a stable `code`. Errors that reach a client are
 * translated to a wire code by `wireCodeOf` (protocol/wire-codes.ts); everything else
 * becomes `internal_error`.
 */
export const errors = {
  InvalidOption: createError<[string, string]>('HAUYNA_INVALID_OPTION', 'Invalid option "%s": %s'),
  Unauthorized: createError<[string?]>('HAUYNA_UNAUTHORIZED', 'Unauthorized: %s', 401),
  InvalidSchema: createError<[string, string]>('HAUYNA_INVALID_SCHEMA', 'Message type "%s": %s'),
  DuplicateType: createError<[string]>('HAUYNA_DUPLICATE_TYPE', 'Message type "%s" is already declared'),
  ReservedType: createError<[string]>('HAUYNA_RESERVED_TYPE', 'Message type "%s" is built in and cannot be redeclared'),
  InvalidStateTransition: createError<[string, string, string]>(
    'HAUYNA_INVALID_STATE_TRANSITION', 'Connection %s cannot go from %s to %s'),
  // Bad arguments to a service call: a 400 when they came from an HTTP request body.
  InvalidName: createError<[string, string]>('HAUYNA_INVALID_NAME', 'Invalid %s name: %s', 400),
  InvalidMeta: createError<[string, string]>('HAUYNA_INVALID_META', 'Invalid %s: %s', 400),
  Forbidden: createError<[string]>('HAUYNA_FORBIDDEN', '%s', 403),
  NotSubscribed: createError<[string]>('HAUYNA_NOT_SUBSCRIBED', 'Not subscribed to channel "%s"', 403),
  ResumeFailed: createError('HAUYNA_RESUME_FAILED', 'No session to resume: the token is unknown, expired, used already, or another user\'s', 404),
  Overloaded: createError<[number]>('HAUYNA_OVERLOADED', 'Too many connections being opened (more than %d at once): retry after the Retry-After seconds', 503),
  Draining: createError('HAUYNA_DRAINING', 'This server is draining for a restart: connect to another instance, or retry after the Retry-After seconds', 503),
  NoHistory: createError<[string]>('HAUYNA_NO_HISTORY', 'Channel "%s" keeps no history (its policy has no `history`)', 404),
  TooLarge: createError<[string, number, number]>('HAUYNA_TOO_LARGE', '%s is %d bytes, over the limit of %d bytes', 413),
  InvalidCloseCode: createError<[number]>('HAUYNA_INVALID_CLOSE_CODE', 'Close code %d is not one an endpoint may send', 400),
  UnknownConnection: createError<[string]>('HAUYNA_UNKNOWN_CONNECTION', 'No connection with id "%s"', 404),
  ChannelExists: createError<[string]>('HAUYNA_CHANNEL_EXISTS', 'Channel "%s" was already created', 409),
  Unavailable: createError<[]>('HAUYNA_UNAVAILABLE', 'Delivered on this node only: the other nodes are unreachable', 503),
  StateUnavailable: createError<[string]>('HAUYNA_STATE_UNAVAILABLE', 'The state shared by the nodes is unreachable: %s', 503),
  RedisUnreachable: createError<[string, string]>('HAUYNA_REDIS_UNREACHABLE', 'Redis at %s is unreachable: %s', 503),
  RedisNotInstalled: createError<[string]>(
    'HAUYNA_REDIS_NOT_INSTALLED', 'redisAdapter() needs the ioredis package, an optional peer dependency (npm install ioredis): %s')
}

/** A publish that reached this node's subscribers but not the other nodes; `delivered` is this node's count. */
export type UnavailableError = InstanceType<typeof errors.Unavailable> & { delivered: number }

export function unavailable (delivered: number): UnavailableError {
  return Object.assign(new errors.Unavailable(), { delivered })
}

/** This node's deliveries of a publish that failed only to reach the other nodes; rethrows any other error. */
export function deliveredLocally (error: unknown): number {
  if ((error as { code?: unknown } | null)?.code !== 'HAUYNA_UNAVAILABLE') throw error
  return (error as UnavailableError).delivered
}
