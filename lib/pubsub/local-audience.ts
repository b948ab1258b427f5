import { OutgoingFrame } from '../transport/outgoing-frame'
import type { Deliverable } from './topic-hub'
import { ALL_TOPIC, userOf } from './topics'

/**
 * Who a user topic and the `all` topic reach on this node: every connection of the user, every
 * connection. The connection directory holds exactly these sets already, so the bus reads them
 * there instead of keeping a hub entry per connection for both topics (two map writes, a map per
 * user and their release, on every connect and disconnect).
 */
export interface LocalAudience<D extends Deliverable> {
  values (): Iterable<D>
  ofUserSet (userId: string): Iterable<D> | undefined
  /** Users with a connection here: each has its user topic on this node. */
  readonly userCount: number
}

/** The audience of a user or `all` topic; `undefined` for a topic the hub holds. */
export function audienceOf<D extends Deliverable> (audience: LocalAudience<D>, topic: string): Iterable<D> | undefined {
  if (topic === ALL_TOPIC) return audience.values()
  const userId = userOf(topic)
  return userId === undefined ? undefined : audience.ofUserSet(userId) ?? []
}

/** One frame for all of them; `skip` leaves one connection out (a broadcast's sender). */
export function deliverToAudience<D extends Deliverable> (recipients: Iterable<D>, payload: string, skip: string | undefined): number {
  const frame = new OutgoingFrame(payload)
  let count = 0
  for (const recipient of recipients) {
    if (skip !== undefined && recipient.id === skip) continue
    if (recipient.deliver(frame)) count++
  }
  return count
}
