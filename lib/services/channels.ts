import type { HistoryEntry, HistoryPolicy, HistoryStore, StreamPosition } from '../adapters/adapter'
import type { ChannelSubscription, Connection } from '../connection/connection'
import { channelTopic } from '../pubsub/topics'
import { releaseHeld } from '../pubsub/topic-hub'
import { errors } from '../errors'
import { frameJson, frames } from '../protocol/frames'
import { checkMeta, checkName, userKey } from '../protocol/names'
import type { PresenceSummary, Ref, ServerMessage } from '../protocol/schemas'
import type { ChannelRegistry } from './channel-registry'
import type { ChannelPolicy, ChannelPolicies, ResolvedChannelPolicy } from './policies'
import type { ChannelPresenceTracker, ConnectionLookup, EventSink, Publisher, SubscriptionRoster, TopicJoiner, TopicView } from './ports'
import { type SendOptions, senderOf } from './send-options'
import type { ChannelInfo } from './types'
import { type Later, now } from '../util/deferrals'

/** @internal */
export interface ChannelsDeps {
  connections: Pick<ConnectionLookup, 'resolve' | 'ofUser'>
  publisher: Publisher
  topics: TopicJoiner
  subscribers: Pick<TopicView, 'subscribers'>
  /** Every node's subscriptions. */
  subscriptions: SubscriptionRoster
  /** Every node's channel history, shared through the adapter. */
  history: HistoryStore
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
  /**
   * On a channel that keeps history: the last message the subscriber has. What came after it
   * follows `subscribed` (`recovered: true`), or `recovered: false` says it could not.
   */
  since?: StreamPosition
}

/** A publish: this node's deliveries and, on a channel that keeps history, the place the message got. */
export interface PublishResult {
  delivered: number
  offset?: number
  epoch?: string
}

export interface HistoryOptions {
  /** Only the messages after this place (from `subscribed`, a message, or an earlier read). */
  since?: StreamPosition
  /** At most this many (default and cap: the channel's history size); the first after `since`, else the last. */
  limit?: number
}

/** A channel message as a client receives it. */
export type ChannelMessageFrame = ServerMessage<'message'>

/** What `channels.history()` found: kept messages, oldest first, and the stream's position now. */
export interface ChannelHistory extends StreamPosition {
  messages: ChannelMessageFrame[]
  /** With `since`: whether `messages` follow it without a gap (same epoch, nothing dropped meanwhile). */
  complete: boolean
}

export interface Subscriber {
  connectionId: string
  userId: string
  meta: Record<string, unknown>
  /** The node the connection is on. */
  nodeId: string
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

  /**
   * The channel's metadata and its subscribers on every node, or `null` when it exists on no
   * node. A channel known only from other nodes' subscribers is implicit, with no meta here
   * (explicit channels and their meta are each node's own), created with its first subscriber.
   */
  async get (channel: string): Promise<ChannelInfo | null> {
    const local = this.registry.info(channel)
    const subscribers = await this.deps.subscriptions.size(channel)
    if (local !== null) return { ...local, subscribers }
    if (subscribers === 0) return null
    const members = await this.deps.subscriptions.members(channel)
    // Not Math.min(...): a large channel's members would pass the engine's limit on arguments.
    const createdAt = members.reduce((oldest, m) => Math.min(oldest, m.since), Infinity)
    return { name: channel, meta: {}, createdAt, explicit: false, subscribers: members.length }
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
    await this.open(this.deps.connections.resolve(target), channel, options)
  }

  /**
   * Subscribes and answers with `subscribed` (with the channel's presence when its policy turns
   * presence on); on a channel that keeps history, with its position, followed by the messages
   * missed since `since` when they are all kept, then by whatever arrived meanwhile. Answered
   * at once, without a promise, unless a step has to wait (an adapter write, presence, history,
   * a listener): most subscribes, and most of what connecting costs, never wait. @internal
   */
  open (conn: Connection, channel: string, options: SubscribeOptions, ref?: Ref): Promise<void> | undefined {
    const policy = this.policies.for(channel)
    if (policy.history !== undefined) return this.openWithHistory(conn, channel, options, policy, ref)
    const joined = this.join(conn, channel, options, policy)
    if (joined instanceof Promise || policy.presence) return this.answerWhenJoined(conn, channel, options, policy, ref, joined)
    answerSubscribed(conn, frames.subscribed(channel, ref, undefined, { recovered: recoveredWithout(options) }))
    return undefined
  }

  private async answerWhenJoined (
    conn: Connection, channel: string, options: SubscribeOptions, policy: ResolvedChannelPolicy, ref: Ref | undefined,
    joined: ChannelSubscription | Promise<ChannelSubscription>
  ): Promise<void> {
    await joined
    answerSubscribed(conn, frames.subscribed(channel, ref, await this.presenceOf(channel, policy), { recovered: recoveredWithout(options) }))
  }

  private async openWithHistory (conn: Connection, channel: string, options: SubscribeOptions, policy: ResolvedChannelPolicy, ref: Ref | undefined): Promise<void> {
    const subscription = await this.join(conn, channel, options, policy, true)
    try {
      subscription.floor = await this.answerFromHistory(conn, channel, policy, ref, options.since)
    } catch (error) {
      // Without its answer, the subscription would start with a gap nobody knows of.
      await this.leave(conn, channel)
      throw error
    } finally {
      releaseHeld(conn, subscription)
    }
  }

  /** The channel's presence for `subscribed`; nothing to wait for when its policy has none. */
  private presenceOf (channel: string, policy: ResolvedChannelPolicy): Promise<Record<string, PresenceSummary> | undefined> | undefined {
    return policy.presence ? this.deps.presence.snapshot(channel) : undefined
  }

  /** `subscribed` with the stream's position, and the missed messages when every one is kept; resolves to what the subscriber has. */
  private async answerFromHistory (
    conn: Connection, channel: string, channelPolicy: ResolvedChannelPolicy, ref: Ref | undefined, since: StreamPosition | undefined
  ): Promise<StreamPosition> {
    const policy = channelPolicy.history as HistoryPolicy
    const topic = channelTopic(channel)
    const read = since === undefined
      ? { ...await this.deps.history.position(topic, policy), entries: [], complete: false }
      : await this.deps.history.read(topic, policy, since, policy.size)
    const recovered = since === undefined ? undefined : read.complete
    const { offset, epoch } = read
    answerSubscribed(conn, frames.subscribed(channel, ref, await this.presenceOf(channel, channelPolicy), { offset, epoch, recovered }))
    if (recovered === true) for (const entry of read.entries) conn.send(placed(entry, epoch))
    return { offset, epoch }
  }

  async unsubscribe (target: ConnectionRef, channel: string): Promise<boolean> {
    const conn = this.deps.connections.resolve(target)
    const left = await this.leave(conn, channel)
    if (left) conn.send(frames.unsubscribed(channel))
    return left
  }

  /**
   * Publishes to every subscriber of `channel` on every node; resolves to the deliveries made on
   * this node (the other nodes deliver without answering: see docs/SCALING.md).
   */
  async broadcastTo (channel: string, data: unknown, options: SendOptions = {}): Promise<number> {
    return (await this.publish(channel, data, options)).delivered
  }

  /** `broadcastTo`, resolving also to the offset and epoch the message got on a channel that keeps history. */
  async publish (channel: string, data: unknown, options: SendOptions = {}): Promise<PublishResult> {
    checkName('channel', channel)
    const message = frames.message(channel, senderOf(options), data)
    const history = this.policies.for(channel).history
    if (history !== undefined) return this.deps.publisher.append(channelTopic(channel), message, history)
    return { delivered: await this.deps.publisher.publish(channelTopic(channel), message) }
  }

  /**
   * The channel's kept messages and its position, from any node: for an HTTP route that loads a
   * page, whose client then subscribes with `since` set to the position. Rejects with
   * HAUYNA_NO_HISTORY when the channel's policy keeps none.
   */
  async history (channel: string, options: HistoryOptions = {}): Promise<ChannelHistory> {
    checkName('channel', channel)
    const policy = this.policies.for(channel).history
    if (policy === undefined) throw new errors.NoHistory(channel)
    const limit = Math.min(options.limit ?? policy.size, policy.size)
    const read = await this.deps.history.read(channelTopic(channel), policy, options.since, limit)
    const messages = read.entries.map((entry) => placed(entry, read.epoch))
    return { messages, offset: read.offset, epoch: read.epoch, complete: read.complete }
  }

  /** Every node's subscribers of `channel`. */
  async subscribers (channel: string): Promise<Subscriber[]> {
    const members = await this.deps.subscriptions.members(channel)
    return members.map(({ connectionId, userId, meta, nodeId }) => ({ connectionId, userId, meta, nodeId }))
  }

  async subscribedChannels (target: ConnectionRef): Promise<string[]> {
    return [...this.deps.connections.resolve(target).subscriptions.keys()]
  }

  async isSubscribed (target: ConnectionRef, channel: string): Promise<boolean> {
    return this.deps.connections.resolve(target).subscriptions.has(channel)
  }

  /** Channels with at least one subscriber on any node, largest first. */
  async list (): Promise<Array<{ channel: string, subscribers: number }>> {
    const sets = await this.deps.subscriptions.sizes()
    return Array.from(sets, ([channel, subscribers]) => ({ channel, subscribers })).sort((a, b) => b.subscribers - a.subscribers)
  }

  /** Unsubscribes on the server's initiative, telling the client why. */
  private async drop (conn: Connection, channel: string, reason: string): Promise<boolean> {
    const left = await this.leave(conn, channel)
    if (left) conn.send(frames.unsubscribed(channel, undefined, reason))
    return left
  }

  /**
   * The subscription itself, shared by the client path and the server API. `hold`: its
   * messages wait (see `Delivery.held`) until the subscribe is answered. The subscription
   * itself when no step had to wait, else a promise of it. @internal
   */
  join (conn: Connection, channel: string, options: SubscribeOptions, policy: ResolvedChannelPolicy, hold = false): ChannelSubscription | Promise<ChannelSubscription> {
    checkName('channel', channel)
    const meta = checkMeta('subscription meta', options.meta, this.deps.maxMetaBytes)
    const limit = this.deps.maxSubscriptionsPerConnection
    const resubscribe = conn.subscriptions.has(channel)
    if (!resubscribe && conn.subscriptions.size >= limit) {
      throw new errors.Forbidden(`subscription limit of ${limit} channels per connection reached`)
    }
    const subscription: ChannelSubscription = { meta, echo: options.echo ?? true, since: Date.now() }
    if (hold) subscription.held = []
    conn.subscriptions.set(channel, subscription)
    // Registry and hub change in the same tick, so a channel exists exactly while subscribed.
    const joining: Joining = { conn, channel, subscription, created: this.registry.opened(channel), presence: policy.presence && !resubscribe }
    const joined = this.deps.topics.join(conn, channelTopic(channel), subscription)
    const rest = joined === undefined ? this.afterHub(joining) : this.afterAdapter(joined, joining)
    return rest === undefined ? subscription : rest.then(() => subscription)
  }

  private async afterAdapter (joined: Promise<void>, joining: Joining): Promise<void> {
    await joined
    await this.afterHub(joining)
  }

  /**
   * What follows the hub, in this order: the shared roster, `channel_created`, channel presence,
   * the `subscribe` listeners. `undefined` when none of them had to wait.
   */
  private afterHub (joining: Joining): Promise<void> | undefined {
    const { conn, channel, subscription, created, presence } = joining
    const recorded = this.deps.subscriptions.joined(conn, channel, subscription)
    if (recorded === undefined && !presence && this.deps.events.listenerCount('subscribe') === 0) {
      return created ? this.registry.announceCreated(channel) : undefined
    }
    return this.announceJoin(recorded, joining)
  }

  private async announceJoin (recorded: Promise<void> | undefined, { conn, channel, subscription, created, presence }: Joining): Promise<void> {
    await recorded
    if (created) await this.registry.announceCreated(channel)
    if (presence) await this.deps.presence.joined(conn, channel)
    if (this.deps.events.listenerCount('subscribe') > 0) await this.deps.events.emit('subscribe', conn, channel, subscription.meta)
  }

  /** `presenceLeave` says when the channel's presence leave happens (the leave grace period). @internal */
  async leave (conn: Connection, channel: string, presenceLeave: Later = now): Promise<boolean> {
    if (!conn.subscriptions.delete(channel)) return false
    await this.deps.topics.leave(conn, channelTopic(channel))
    await this.deps.subscriptions.left(conn, channel)
    const presence = this.deps.presence
    await presenceLeave(() => presence.left(conn, channel))
    await this.deps.events.emit('unsubscribe', conn, channel)
    await this.registry.released(channel)
    return true
  }

  /** A connection closed: drop all of its subscriptions. @internal */
  async detach (conn: Connection, presenceLeave: Later): Promise<void> {
    for (const channel of [...conn.subscriptions.keys()]) await this.leave(conn, channel, presenceLeave)
  }
}

/** A subscription being added: whether it created the channel, and whether it joins the channel's presence. */
interface Joining {
  conn: Connection
  channel: string
  subscription: ChannelSubscription
  created: boolean
  presence: boolean
}

/** `recovered` of a subscribe answered without history: `false` when the client asked to recover. */
function recoveredWithout (options: SubscribeOptions): false | undefined {
  return options.since === undefined ? undefined : false
}

/** Every subscribe's answer, its JSON built by template. */
function answerSubscribed (conn: Connection, frame: ServerMessage<'subscribed'>): void {
  conn.sendJson(frame, frameJson.subscribed(frame))
}

/** A kept message as the client receives it: its place written in. */
function placed (entry: HistoryEntry, epoch: string): ChannelMessageFrame {
  return { ...JSON.parse(entry.payload) as ChannelMessageFrame, offset: entry.offset, epoch }
}
