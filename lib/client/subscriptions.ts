import { advance, type StreamState } from './recovery'
import type { ChannelMessage, Delivery, StreamPosition, SubscribedFrame, SubscribeOptions } from './types'

export type ChannelHandler = (message: ChannelMessage, delivery: Delivery) => void

/** The options sent with every (re)subscribe; `since` is the stream's, not an option to repeat. */
type SentOptions = Omit<SubscribeOptions, 'since'>

/** One channel the app wants: its handlers, the options sent with every (re)subscribe, its place in the stream. */
export interface Subscription {
  readonly channel: string
  readonly handlers: Set<ChannelHandler>
  options: SentOptions
  readonly stream: StreamState
  /** Settles with the first answer; later resubscribes report failures as `error` events. */
  readonly subscribed: Promise<SubscribedFrame>
  confirm (frame: SubscribedFrame): void
  refuse (error: Error): void
  settled: boolean
}

function subscription (channel: string, options: SentOptions, since: StreamPosition | undefined): Subscription {
  let confirm!: (frame: SubscribedFrame) => void
  let refuse!: (error: Error) => void
  const subscribed = new Promise<SubscribedFrame>((resolve, reject) => { confirm = resolve; refuse = reject })
  // Nobody has to look at `subscribed`: a refusal is also reported as an `error` event.
  subscribed.catch(() => {})
  const sub: Subscription = {
    channel,
    handlers: new Set(),
    options,
    stream: { position: since },
    subscribed,
    settled: false,
    confirm: (frame) => { sub.settled = true; confirm(frame) },
    refuse: (error) => { sub.settled = true; refuse(error) }
  }
  return sub
}

/**
 * The channels this client wants, independent of any one connection: the server forgets
 * them when a socket dies, so the client sends them all again after every reconnect.
 */
export class Subscriptions {
  private readonly byChannel = new Map<string, Subscription>()

  constructor (private readonly onHandlerError: (error: unknown, channel: string) => void) {}

  /**
   * Adds a handler; `send` when the channel is new (or its options changed) and must be sent,
   * `created` when it is new: only then does `since` count, a subscription knowing its own place.
   */
  add (channel: string, handler: ChannelHandler, { since, ...options }: SubscribeOptions): { sub: Subscription, send: boolean, created: boolean } {
    const existing = this.byChannel.get(channel)
    if (existing !== undefined) {
      existing.handlers.add(handler)
      const changed = options.meta !== undefined || options.echo !== undefined
      if (changed) existing.options = { ...existing.options, ...options }
      return { sub: existing, send: changed, created: false }
    }
    const sub = subscription(channel, options, since)
    sub.handlers.add(handler)
    this.byChannel.set(channel, sub)
    return { sub, send: true, created: true }
  }

  /** Removes a handler; `true` when it was the channel's last, so the channel is gone too. */
  remove (channel: string, handler: ChannelHandler): boolean {
    const sub = this.byChannel.get(channel)
    if (sub === undefined || !sub.handlers.delete(handler)) return false
    if (sub.handlers.size > 0) return false
    this.byChannel.delete(channel)
    return true
  }

  /** Forgets a channel the server refused, so it is not retried on every reconnect. */
  drop (sub: Subscription): void {
    if (this.byChannel.get(sub.channel) === sub) this.byChannel.delete(sub.channel)
  }

  /** Forgets a channel the server removed this client from, whatever its handlers. */
  forget (channel: string): void {
    this.byChannel.delete(channel)
  }

  has (sub: Subscription): boolean {
    return this.byChannel.get(sub.channel) === sub
  }

  all (): Subscription[] {
    return [...this.byChannel.values()]
  }

  channels (): string[] {
    return [...this.byChannel.keys()]
  }

  /** The channel's position, for the app to save; `undefined` on a channel without history. */
  position (channel: string): StreamPosition | undefined {
    const position = this.byChannel.get(channel)?.stream.position
    return position === undefined ? undefined : { ...position }
  }

  /**
   * Hands a message to its channel's handlers, unless they had it already: `undefined` for a
   * duplicate (a replay overlapping what came live), which nobody should see twice.
   */
  deliver (message: ChannelMessage): Delivery | undefined {
    const sub = this.byChannel.get(message.channel)
    // A channel the server subscribed this client to itself: no stream is kept for it.
    if (sub === undefined) return { replayed: false }
    const delivery = advance(sub.stream, message)
    if (delivery === undefined) return undefined
    for (const handler of [...sub.handlers]) {
      try {
        handler(message, delivery)
      } catch (error) {
        this.onHandlerError(error, message.channel)
      }
    }
    return delivery
  }
}
