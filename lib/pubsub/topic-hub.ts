import type { Envelope } from '../adapters/adapter'
import { OutgoingFrame } from '../transport/outgoing-frame'

/** What the hub delivers to: a connection, seen only as far as fan-out needs. */
export interface Deliverable {
  readonly id: string
  /** Writes a frame built once for every recipient; `false` when it was not written. */
  deliver (frame: OutgoingFrame): boolean
}

/** A channel subscription as the fan-out reads it; `null` marks a user, group or `all` topic. */
export interface Delivery {
  readonly echo: boolean
}

/**
 * This node's subscribers of every topic, and the fan-out: one frame built per delivery,
 * written to each subscriber with no per-recipient allocation.
 */
export class TopicHub<D extends Deliverable, S extends Delivery> {
  private readonly topics = new Map<string, Map<D, S | null>>()

  /** Returns `true` when `subscriber` is the topic's first local subscriber. */
  add (topic: string, subscriber: D, subscription: S | null): boolean {
    let subscribers = this.topics.get(topic)
    const first = subscribers === undefined
    if (subscribers === undefined) this.topics.set(topic, subscribers = new Map())
    subscribers.set(subscriber, subscription)
    return first
  }

  /** Returns `true` when the topic has no local subscriber left. */
  remove (topic: string, subscriber: D): boolean {
    const subscribers = this.topics.get(topic)
    if (subscribers === undefined || !subscribers.delete(subscriber)) return false
    if (subscribers.size > 0) return false
    this.topics.delete(topic)
    return true
  }

  subscribers (topic: string): ReadonlyMap<D, S | null> | undefined {
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
    for (const [subscriber, subscription] of subscribers) {
      if (origin !== undefined && subscription !== null && !subscription.echo && subscriber.id === origin) continue
      if (skip !== undefined && subscriber.id === skip) continue
      if (subscriber.deliver(frame)) count++
    }
    return count
  }
}
