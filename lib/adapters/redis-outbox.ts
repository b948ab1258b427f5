import { isCluster, type RedisConnection } from './redis-connections'
import type { OutgoingStats } from './redis-options'
import { isReady } from './redis-reply'

export interface OutboxLimits {
  /** Publishes sent and not yet answered by Redis. */
  maxMessages: number
  /** Their bytes (UTF-8). */
  maxBytes: number
}

/**
 * The cross-node PUBLISHes of one node (SPUBLISH on a Redis Cluster, where ioredis sends each
 * to the shard of its channel's slot), and its history appends, whose script publishes. Each
 * is written to Redis at once and held (by ioredis) until Redis answers, so the queue is the
 * publishes in flight: bounded, so that a stalled or lost connection holds a bounded amount of
 * memory, and never waited on by a publisher.
 */
export class Outbox {
  readonly stats: OutgoingStats = { messages: 0, bytes: 0, dropped: 0 }

  constructor (private readonly redis: RedisConnection, private readonly limits: OutboxLimits) {}

  /** `false` (and counted as dropped) when Redis is not ready or the queue is full. */
  send (channel: string, message: string): boolean {
    const bytes = Buffer.byteLength(message)
    if (!this.admit(bytes)) return false
    const sent = isCluster(this.redis) ? this.redis.spublish(channel, message) : this.redis.publish(channel, message)
    sent.then(() => this.settle(bytes), () => this.fail(bytes))
    return true
  }

  /**
   * Another command that takes a message of `bytes` to the other nodes (a history append's
   * script), in the same queue and bounds: its reply, or `undefined` (counted as dropped) when it
   * may not go.
   */
  carry<T> (bytes: number, command: () => Promise<T>): Promise<T> | undefined {
    if (!this.admit(bytes)) return undefined
    const sent = command()
    sent.then(() => this.settle(bytes), () => this.fail(bytes))
    return sent
  }

  /** Counts a message in, unless Redis is not ready or the queue is full (then it counts it dropped). */
  private admit (bytes: number): boolean {
    const { stats, limits } = this
    if (!isReady(this.redis) || stats.messages >= limits.maxMessages || stats.bytes + bytes > limits.maxBytes) {
      stats.dropped++
      return false
    }
    stats.messages++
    stats.bytes += bytes
    return true
  }

  private settle (bytes: number): void {
    this.stats.messages--
    this.stats.bytes -= bytes
  }

  private fail (bytes: number): void {
    this.stats.dropped++
    this.settle(bytes)
  }
}
