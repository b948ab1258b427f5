import type { RedisConnection } from './redis-connections'
import { COMMAND_TIMEOUT_MS, isReady, within } from './redis-reply'

/**
 * A store kept in Redis, with a mirror in this process of what this node wrote to it. Reads
 * answer from Redis, or from the mirror (this node's part only) while Redis is down, fails or
 * is slow; a write that did not reach Redis marks the store stale, and the adapter writes the
 * mirror back when Redis answers again.
 */
export abstract class MirroredStore {
  /** Redis may lack what the mirror holds: a write did not reach it since the last registration. */
  stale = false

  constructor (protected readonly redis: RedisConnection) {}

  /** Redis's answer, or `undefined` (and a registration due) when it is down or slow. */
  protected async write (command: () => Promise<unknown>): Promise<unknown> {
    const reply = isReady(this.redis) ? await within(command(), COMMAND_TIMEOUT_MS).catch(() => undefined) : undefined
    if (reply === undefined) this.stale = true
    return reply
  }

  /** Redis's answer, or this node's own when Redis is down, fails or is slow. */
  protected async read<T> (command: () => Promise<T>, local: () => T): Promise<T> {
    if (!isReady(this.redis)) return local()
    return await within(command(), COMMAND_TIMEOUT_MS).catch(() => undefined) ?? local()
  }
}
