import type { Member, MemberStore } from '../adapters/adapter'
import type { ChannelSubscription, Connection } from '../connection/connection'
import { NO_META } from '../protocol/names'
import { channelOf, channelTopic } from '../pubsub/topics'
import type { ConnectionLocation, ConnectionLookup, ConnectionRoster, SubscriptionRoster, TopicView } from './ports'

// What every node must read of the others: who is connected and who is subscribed where. A
// cluster writes it to the adapter's shared sets as it changes; a process that is the whole
// cluster (the memory adapter) already holds it in its directory and topic hub, and reads it
// there, so that connecting and subscribing write it once, not twice.

/** The kind of shared set that holds each user's connections, on every node. */
const USER_SETS = 'user'

/** The kind of shared set that holds each channel's subscriptions. */
export const CHANNEL_SETS = 'channel'

/** A cluster's connections: each node adds its own to one shared set per user. */
export class SharedConnectionRoster implements ConnectionRoster {
  constructor (private readonly members: MemberStore) {}

  async registered (conn: Connection): Promise<void> {
    await this.members.add(USER_SETS, conn.userId, { connectionId: conn.id, userId: conn.userId, meta: NO_META, since: conn.connectedAt })
  }

  async unregistered (conn: Connection): Promise<void> {
    await this.members.remove(USER_SETS, conn.userId, conn.userId, conn.id)
  }

  async locate (userId: string): Promise<ConnectionLocation[]> {
    const members = await this.members.members(USER_SETS, userId)
    return members.map(({ connectionId, nodeId, since }) => ({ connectionId, nodeId, connectedAt: since }))
  }

  async totals (): Promise<{ connections: number, users: number }> {
    const { sets, members } = await this.members.total(USER_SETS)
    return { connections: members, users: sets }
  }
}

/** The whole cluster's connections when it is this process: the connection directory. */
export class LocalConnectionRoster implements ConnectionRoster {
  constructor (private readonly directory: Pick<ConnectionLookup, 'ofUser' | 'size' | 'userCount'>, private readonly nodeId: string) {}

  registered (): undefined {
    return undefined
  }

  unregistered (): undefined {
    return undefined
  }

  async locate (userId: string): Promise<ConnectionLocation[]> {
    return this.directory.ofUser(userId).map((conn) => ({ connectionId: conn.id, nodeId: this.nodeId, connectedAt: conn.connectedAt }))
  }

  async totals (): Promise<{ connections: number, users: number }> {
    return { connections: this.directory.size, users: this.directory.userCount }
  }
}

/** A cluster's subscriptions: each node adds its own to one shared set per channel. */
export class SharedSubscriptionRoster implements SubscriptionRoster {
  constructor (private readonly store: MemberStore) {}

  async joined (conn: Connection, channel: string, subscription: ChannelSubscription): Promise<void> {
    await this.store.add(CHANNEL_SETS, channel, { connectionId: conn.id, userId: conn.userId, meta: subscription.meta, since: subscription.since })
  }

  async left (conn: Connection, channel: string): Promise<void> {
    await this.store.remove(CHANNEL_SETS, channel, conn.userId, conn.id)
  }

  members (channel: string): Promise<Member[]> {
    return this.store.members(CHANNEL_SETS, channel)
  }

  size (channel: string): Promise<number> {
    return this.store.size(CHANNEL_SETS, channel)
  }

  sizes (): Promise<Map<string, number>> {
    return this.store.sets(CHANNEL_SETS)
  }

  async users (channel: string): Promise<Set<string>> {
    return new Set((await this.store.users(CHANNEL_SETS, channel)).keys())
  }
}

/** The whole cluster's subscriptions when it is this process: the topic hub's channel topics. */
export class LocalSubscriptionRoster implements SubscriptionRoster {
  constructor (private readonly hub: TopicView, private readonly nodeId: string) {}

  joined (): undefined {
    return undefined
  }

  left (): undefined {
    return undefined
  }

  async members (channel: string): Promise<Member[]> {
    const members: Member[] = []
    for (const [conn, subscription] of this.hub.subscribers(channelTopic(channel)) ?? []) {
      // A channel topic is only ever joined with its subscription (`null` marks the other kinds).
      const { meta, since } = subscription as ChannelSubscription
      members.push({ connectionId: conn.id, userId: conn.userId, meta, since, nodeId: this.nodeId })
    }
    return members
  }

  async size (channel: string): Promise<number> {
    return this.hub.size(channelTopic(channel))
  }

  async sizes (): Promise<Map<string, number>> {
    const sizes = new Map<string, number>()
    for (const topic of this.hub.topicNames()) {
      const channel = channelOf(topic)
      if (channel !== undefined) sizes.set(channel, this.hub.size(topic))
    }
    return sizes
  }

  async users (channel: string): Promise<Set<string>> {
    const users = new Set<string>()
    for (const conn of this.hub.subscribers(channelTopic(channel))?.keys() ?? []) users.add(conn.userId)
    return users
  }
}
