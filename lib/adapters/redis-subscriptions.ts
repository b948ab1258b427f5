import type { Redis } from 'ioredis'
import { COMMAND_TIMEOUT_MS, ignore, isReady, within } from './redis-reply'

/** Channels per SUBSCRIBE when the whole set is sent again. */
const RESUBSCRIBE_BATCH = 1000

/**
 * The pub/sub channels this node wants on one Redis server (`ShardedSubscriptions` on a
 * cluster), kept here rather than in Redis so that subscribing never waits for a connection
 * that is down: SUBSCRIBE/UNSUBSCRIBE go out while the subscriber connection is ready, and the
 * whole set is subscribed again each time it becomes ready.
 *
 * The connection is made with `autoResubscribe: false`: ioredis would restore the channels
 * subscribed when the connection dropped, not those wanted now (it would miss topics gained
 * during the outage and bring back topics left during it).
 */
export class TopicSubscriptions {
  private readonly wanted = new Set<string>()

  constructor (private readonly redis: Redis) {
    redis.on('ready', () => this.resubscribe())
  }

  /** Resolves once Redis confirmed, or at once when the connection is not ready. */
  add (channel: string): Promise<void> {
    this.wanted.add(channel)
    return this.send(() => this.redis.subscribe(channel))
  }

  /** Whether this node wants the channel now. */
  has (channel: string): boolean {
    return this.wanted.has(channel)
  }

  remove (channel: string): Promise<void> {
    this.wanted.delete(channel)
    return this.send(() => this.redis.unsubscribe(channel))
  }

  private async send (command: () => Promise<unknown>): Promise<void> {
    if (!isReady(this.redis)) return
    // A failure or a late reply is repaired by the resubscription when the connection is ready again.
    await within(command(), COMMAND_TIMEOUT_MS).catch(ignore)
  }

  private resubscribe (): void {
    const channels = [...this.wanted]
    for (let i = 0; i < channels.length; i += RESUBSCRIBE_BATCH) {
      this.redis.subscribe(...channels.slice(i, i + RESUBSCRIBE_BATCH)).catch(ignore)
    }
  }
}
