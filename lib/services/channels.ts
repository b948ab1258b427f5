import type { ChannelSubscription, Connection } from '../connection/connection'
import { channelOf, channelTopic } from '../pubsub/topics'
import { errors } from '../errors'
import { frames } from '../protocol/frames'
import { checkMeta, checkName, userKey } from '../protocol/names'
import type { Ref } from '../protocol/schemas'
import type { ChannelRegistry } from './channel-registry'
import type { ChannelPolicy, ChannelPolicies } from './policies'
import type { ChannelPresenceTracker, ConnectionLookup, EventSink, Publisher, TopicJoiner, TopicView } from './ports'
import { type SendOptions, senderOf } from './send-options'
import type { ChannelInfo } from './types'
import { type Later, now } from '../util/deferrals'

/** @internal */
export interface ChannelsDeps {
  connections: Pick<ConnectionLookup, 'resolve' | 'ofUser'>
  publisher: Publisher
  topics: TopicJoiner
  subscribers: TopicView
  presence: ChannelPresenceTracker
  events: EventSink
  /** Built by the composition root, which also gives channel presence its `presence` flags. */
  policies: ChannelPolicies
  registry: ChannelRegistry
  maxMetaBytes: number
  maxSubscriptionsPerConnection: number
}

export interface SubscribeOptions {
  meta?: Record<string, unknown>
  /** Whether the connection receives its own publishes (default `true`). */
  echo?: boolean
}

export interface Subscriber {
  connectionId: string
  userId: string
  meta: Record<string, unknown>
}

/** A connection, or the id of one on this node. */
export type ConnectionRef = Connection | string

/** Channels: subscriptions with per-subscription meta, policies, and channel fan-out. */
export class ChannelsService {
  readonly policies: ChannelPolicies
  /** Channel metadata and lifecycle (explicit and implicit channels). @internal */
  readonly registry: ChannelRegistry

  /** @internal */
  constructor (private readonly deps: ChannelsDeps) {
    this.policies = deps.policies
    this.registry = deps.registry
  }

  /** Creates an explicit channel, which persists while empty; rejects with HAUYNA_CHANNEL_EXISTS if one was created already. */
  async create (channel: string, options: { meta?: Record<string, unknown> } = {}): Promise<ChannelInfo> {
    checkName('channel', channel)
    const meta = checkMeta('channel meta', options.meta, this.deps.maxMetaBytes)
    return this.registry.create(channel, { ...meta })
  }

  /** The channel's metadata and local subscriber count, or `null` when it does not exist. */
  async get (channel: string): Promise<ChannelInfo | null> {
    return this.registry.info(channel)
  }

  /**
   * Removes an explicit channel: its subscribers get `unsubscribed` with reason
   * `channel removed`. `false` when no explicit channel has that name.
   */
  async remove (channel: string): Promise<boolean> {
    if (!this.registry.demote(channel)) return false
    const subscribers = [...this.deps.subscribers.subscribers(channelTopic(channel))?.keys() ?? []]
    // Demoted to implicit, it goes with its last subscriber, or now if it has none.
    if (subscribers.length === 0) await this.registry.released(channel)
    for (const conn of subscribers) await this.drop(conn, channel, 'channel removed')
    return true
  }

  /** Removes every connection of `userId` from `channel`, each told why; resolves to the number removed. */
  async kick (channel: string, userId: string, reason = 'kicked'): Promise<number> {
    let kicked = 0
    for (const conn of this.deps.connections.ofUser(userKey(userId))) {
      if (await this.drop(conn, channel, reason)) kicked++
    }
    return kicked
  }

  /** Adds or replaces the policy of a channel name or `*` pattern. */
  policy (pattern: string, policy: ChannelPolicy): this {
    this.policies.set(pattern, policy)
    return this
  }

  /** Subscribes a connection on the server's authority (policies do not apply; limits do). */
  async subscribe (target: ConnectionRef, channel: string, options: SubscribeOptions = {}): Promise<void> {
    const conn = this.deps.connections.resolve(target)
    await this.join(conn, channel, options)
    conn.send(this.subscribedReply(channel))
  }

  /** The `subscribed` frame, with the channel's presence when its policy turns presence on. @internal */
  subscribedReply (channel: string, ref?: Ref): object {
    return frames.subscribed(channel, ref, this.deps.presence.snapshot(channel))
  }

  async unsubscribe (target: ConnectionRef, channel: string): Promise<boolean> {
    const conn = this.deps.connections.resolve(target)
    const left = await this.leave(conn, channel)
    if (left) conn.send(frames.unsubscribed(channel))
    return left
  }

  /** Publishes to every subscriber of `channel`; resolves to the deliveries made. */
  async broadcastTo (channel: string, data: unknown, options: SendOptions = {}): Promise<number> {
    checkName('channel', channel)
    return this.deps.publisher.publish(channelTopic(channel), frames.message(channel, senderOf(options), data))
  }

  async subscribers (channel: string): Promise<Subscriber[]> {
    const out: Subscriber[] = []
    for (const [conn, subscription] of this.deps.subscribers.subscribers(channelTopic(channel)) ?? []) {
      out.push({ connectionId: conn.id, userId: conn.userId, meta: subscription?.meta ?? {} })
    }
    return out
  }

  async subscribedChannels (target: ConnectionRef): Promise<string[]> {
    return [...this.deps.connections.resolve(target).subscriptions.keys()]
  }

  async isSubscribed (target: ConnectionRef, channel: string): Promise<boolean> {
    return this.deps.connections.resolve(target).subscriptions.has(channel)
  }

  /** Channels with at least one subscriber on this node, largest first. */
  async list (): Promise<Array<{ channel: string, subscribers: number }>> {
    const out: Array<{ channel: string, subscribers: number }> = []
    for (const topic of this.deps.subscribers.topicNames()) {
      const channel = channelOf(topic)
      if (channel !== undefined) out.push({ channel, subscribers: this.deps.subscribers.size(topic) })
    }
    return out.sort((a, b) => b.subscribers - a.subscribers)
  }

  /** Unsubscribes on the server's initiative, telling the client why. */
  private async drop (conn: Connection, channel: string, reason: string): Promise<boolean> {
    const left = await this.leave(conn, channel)
    if (left) conn.send(frames.unsubscribed(channel, undefined, reason))
    return left
  }

  /** The subscription itself, shared by the client path and the server API. @internal */
  async join (conn: Connection, channel: string, options: SubscribeOptions): Promise<void> {
    checkName('channel', channel)
    const meta = checkMeta('subscription meta', options.meta, this.deps.maxMetaBytes)
    const limit = this.deps.maxSubscriptionsPerConnection
    if (!conn.subscriptions.has(channel) && conn.subscriptions.size >= limit) {
      throw new errors.Forbidden(`subscription limit of ${limit} channels per connection reached`)
    }
    const subscription: ChannelSubscription = { meta, echo: options.echo ?? true, since: Date.now() }
    const resubscribe = conn.subscriptions.has(channel)
    conn.subscriptions.set(channel, subscription)
    // Registry and hub change in the same tick, so a channel exists exactly while subscribed.
    const created = this.registry.opened(channel)
    await this.deps.topics.join(conn, channelTopic(channel), subscription)
    if (created) await this.registry.announceCreated(channel)
    if (!resubscribe) await this.deps.presence.joined(conn, channel)
    await this.deps.events.emit('subscribe', conn, channel, meta)
  }

  /** `presenceLeave` says when the channel's presence leave happens (the leave grace period). @internal */
  async leave (conn: Connection, channel: string, presenceLeave: Later = now): Promise<boolean> {
    if (!conn.subscriptions.delete(channel)) return false
    await this.deps.topics.leave(conn, channelTopic(channel))
    const presence = this.deps.presence
    await presenceLeave(() => presence.left(conn.userId, channel))
    await this.deps.events.emit('unsubscribe', conn, channel)
    await this.registry.released(channel)
    return true
  }

  /** A connection closed: drop all of its subscriptions. @internal */
  async detach (conn: Connection, presenceLeave: Later): Promise<void> {
    for (const channel of [...conn.subscriptions.keys()]) await this.leave(conn, channel, presenceLeave)
  }
}
