import type { Subscription } from './subscriptions'
import type { OutgoingMessage, StreamPosition } from './types'

interface Restoring {
  sub: Subscription
  since: StreamPosition | undefined
}

/**
 * A `resume` in flight: the server takes over the dropped connection's session and answers
 * each subscription it restores with a `subscribed` that carries no ref. Those answers are
 * matched here to the app's subscriptions; the ones the server did not restore (new since
 * the drop, or refused now) are subscribed as usual once the resume is answered.
 */
export class SessionResume {
  private readonly waiting = new Map<string, Restoring>()

  constructor (subs: Subscription[]) {
    for (const sub of subs) this.waiting.set(sub.channel, { sub, since: sub.stream.position })
  }

  /** The `resume` message: the token, and each subscription's place in its channel's stream. */
  message (token: string): OutgoingMessage {
    const since: Record<string, StreamPosition> = {}
    for (const [channel, { since: position }] of this.waiting) if (position !== undefined) since[channel] = position
    return { type: 'resume', token, since }
  }

  /** The subscription that a `subscribed` without a ref restores, if it is one of them (once). */
  take (channel: string): Restoring | undefined {
    const restoring = this.waiting.get(channel)
    this.waiting.delete(channel)
    return restoring
  }

  /** The subscriptions the server did not restore. */
  rest (): Subscription[] {
    return Array.from(this.waiting.values(), ({ sub }) => sub)
  }
}
