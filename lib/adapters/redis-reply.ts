import { errors } from '../errors'
import type { RedisConnection } from './redis-connections'

/**
 * How long a command sent on a ready connection may go unanswered before the adapter goes on
 * without it. A connection that drops with commands in flight keeps them in ioredis until it
 * reconnects (or gives up after `maxRetriesPerRequest` retries, about 10 s): nothing waits that long.
 */
export const COMMAND_TIMEOUT_MS = 1000

/** A health check or a clean-shutdown step that Redis does not answer in this time counts as failed. */
export const REPLY_TIMEOUT_MS = 2000

export function ignore (): void {}

/**
 * Whether a command sent now goes to Redis at once. Any other status would put it in ioredis's
 * offline queue, where it waits for the reconnect: the adapter sends nothing then.
 */
export function isReady (redis: RedisConnection): boolean {
  return redis.status === 'ready'
}

/** Settles with `undefined` when `promise` has not settled within `ms`. */
export function within<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Redis's answer about state that no node mirrors (added groups, channel history): while Redis
 * is not ready or slow, there is no part of it to answer with, so HAUYNA_STATE_UNAVAILABLE.
 */
export async function fromRedis<T> (redis: RedisConnection, command: () => Promise<T>): Promise<T> {
  if (!isReady(redis)) throw new errors.StateUnavailable('Redis is not connected')
  const reply = await within(command(), COMMAND_TIMEOUT_MS)
  if (reply === undefined) throw new errors.StateUnavailable(`no reply from Redis within ${COMMAND_TIMEOUT_MS} ms`)
  return reply
}
