import type { Envelope, StreamPosition } from '../adapters/adapter'
import { type HeldFrame, OutgoingFrame } from '../transport/outgoing-frame'

/** What the hub delivers to: a connection, seen only as far as fan-out needs. */
export interface Deliverable {
  readonly id: string
  /** Writes a frame built once for every recipient; `false` when it was not written. */
  deliver (frame: OutgoingFrame): boolean
}

/** A channel subscription as the fan-out reads it; `null` marks a user, group or `all` topic. */
export interface Delivery {
  readonly echo: boolean
  /**
   * On a channel that keeps history, while the subscribe is being answered: its messages wait
   * here, so that none reaches the client before `subscribed` and the replay.
   */
  held?: HeldFrame[]
  /** On a channel that keeps history: the subscriber has every message up to here (replayed or skipped). */
  floor?: StreamPosition
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
    if (envelope.offset !== undefined) return deliverPlaced(subscribers, frame, envelope as Placed)
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

type Placed = Envelope & StreamPosition

function behind (place: StreamPosition, floor: StreamPosition | undefined): boolean {
  return floor !== undefined && place.epoch === floor.epoch && place.offset <= floor.offset
}

/**
 * A message with a place in its channel's stream (history channels): held for a subscriber
 * whose subscribe is still being answered, never sent twice to one that has it already.
 */
function deliverPlaced<D extends Deliverable, S extends Delivery> (subscribers: Map<D, S | null>, frame: OutgoingFrame, envelope: Placed): number {
  const { origin, offset, epoch } = envelope
  let count = 0
  for (const [subscriber, entry] of subscribers) {
    // Placed messages go to channel topics only, whose subscribers all have a subscription; an
    // append carries no `skip` (nobody is left out of a channel's stream).
    const subscription = entry as S
    if (!subscription.echo && subscriber.id === origin) continue
    if (subscription.held !== undefined) {
      subscription.held.push({ frame, offset, epoch })
      count++
    } else if (!behind(envelope, subscription.floor) && subscriber.deliver(frame)) count++
  }
  return count
}

/** The held messages the subscriber does not have yet, in the order they came. */
export function releaseHeld<D extends Deliverable> (subscriber: D, subscription: Delivery): void {
  const held = subscription.held ?? []
  subscription.held = undefined
  for (const { frame, offset, epoch } of held) if (!behind({ offset, epoch }, subscription.floor)) subscriber.deliver(frame)
}
