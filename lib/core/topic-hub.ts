import type { Envelope } from '../adapters/adapter'
import { OutgoingFrame } from '../transport/outgoing-frame'
import type { ChannelSubscription, Connection } from '../connection/connection'

/** `null` marks an implicit subscription (user, group and `all` topics). */
type Subscribers = Map<Connection, ChannelSubscription | null>

/**
 * This node's subscribers of every topic, and the fan-out: one frame built per delivery,
 * written to each subscriber with no per-recipient allocation.
 */
export class TopicHub {
  private readonly topics = new Map<string, Subscribers>()
  /** Returns `true` when `conn` is the topic's first local subscriber. */
  add (topic: string, conn: Connection, subscription: ChannelSubscription | null): boolean {
    let subscribers = this.topics.get(topic)
    const first = subscribers === undefined
    if (subscribers === undefined) this.topics.set(topic, subscribers = new Map())
    subscribers.set(conn, subscription)
    return first
  }

  /** Returns `true` when the topic has no local subscriber left. */
  remove (topic: string, conn: Connection): boolean {
    const subscribers = this.topics.get(topic)
    if (subscribers === undefined || !subscribers.delete(conn)) return false
    if (subscribers.size > 0) return false
    this.topics.delete(topic)
    return true
  }

  subscribers (topic: string): ReadonlyMap<Connection, ChannelSubscription | null> | undefined {
    return this.topics.get(topic)
  }

  size (topic: string): number {
    return this.topics.get(topic)?.size ?? 0
  }

  get topicCount (): number {
    return this.topics.size
  }

  topicNames (): IterableIterator<string> {
    return this.topics.keys()
  }

  deliver (topic: string, envelope: Envelope): number {
    const subscribers = this.topics.get(topic)
    if (subscribers === undefined) return 0
    const frame = new OutgoingFrame(envelope.payload)
    const { origin, skip } = envelope
    let count = 0
    for (const [conn, subscription] of subscribers) {
      if (origin !== undefined && subscription !== null && !subscription.echo && conn.id === origin) continue
      if (skip !== undefined && conn.id === skip) continue
      if (conn.deliver(frame)) count++
    }
    return count
  }
}
