import type { Appended, HistoryPolicy, Member } from '../adapters/adapter'
import type { ChannelSubscription, Connection } from '../connection/connection'
import type { PresenceSummary } from '../protocol/schemas'
import type { LifecycleEvent, LifecycleEvents } from './types'

// What services need of the layers below them, each as small as its users need. The
// composition root hands in the objects that implement them (the bus, the hub, the directory).

/** Publishes to every node: `origin` for echo suppression, `skip` a connection left out. */
export interface Publisher {
  publish (topic: string, message: object, origin?: string, skip?: string): Promise<number>
  /** Publishes to a channel that keeps history: the message gets the stream's next offset. */
  append (topic: string, message: object, policy: HistoryPolicy, origin?: string): Promise<Appended>
}

/** Joins and leaves topics; both resolve once the adapter knows, `undefined` when nothing changed there. */
export interface TopicJoiner {
  join (conn: Connection, topic: string, subscription: ChannelSubscription | null): Promise<void> | undefined
  leave (conn: Connection, topic: string): Promise<void> | undefined
}

/**
 * A user's own topic on this node, taken with the user's first connection here and given up with
 * the last; both resolve once the adapter knows, `undefined` when it needs no telling.
 */
export interface UserTopics {
  userArrived (userId: string): Promise<void> | undefined
  userLeft (userId: string): Promise<void> | undefined
}

/** This node's subscribers, by topic. */
export interface TopicView {
  subscribers (topic: string): ReadonlyMap<Connection, ChannelSubscription | null> | undefined
  size (topic: string): number
  topicNames (): IterableIterator<string>
}

/** This node's connections. */
export interface ConnectionLookup {
  get (id: string): Connection | undefined
  resolve (target: Connection | string): Connection
  ofUser (userId: string): Connection[]
  values (): IterableIterator<Connection>
  readonly size: number
  readonly userCount: number
}

/** Where a user is connected: one of the user's connections, and its node. */
export interface ConnectionLocation {
  connectionId: string
  nodeId: string
  /** Epoch milliseconds when it connected. */
  connectedAt: number
}

/**
 * Every node's connections, counted and located by user. On a cluster, each node writes its
 * own into a shared store; on a process that is the whole cluster, the directory already is it.
 */
export interface ConnectionRoster {
  /** A connection was set up; `undefined` when nothing had to be written. */
  registered (conn: Connection): Promise<void> | undefined
  /** A connection closed (safe to call again, as a retried cleanup step does). */
  unregistered (conn: Connection): Promise<void> | undefined
  locate (userId: string): Promise<ConnectionLocation[]>
  /** Connections, and distinct users with at least one, on every node. */
  totals (): Promise<{ connections: number, users: number }>
}

/**
 * Every node's channel subscriptions, by channel. On a cluster, each node writes its own into
 * a shared store; on a process that is the whole cluster, the topic hub already is it.
 */
export interface SubscriptionRoster {
  /** A subscription began (or its meta changed); `undefined` when nothing had to be written. */
  joined (conn: Connection, channel: string, subscription: ChannelSubscription): Promise<void> | undefined
  /** A subscription ended; `undefined` when nothing had to be written. */
  left (conn: Connection, channel: string): Promise<void> | undefined
  members (channel: string): Promise<Member[]>
  size (channel: string): Promise<number>
  /** Channels with at least one subscriber, each with their number. */
  sizes (): Promise<Map<string, number>>
  /** The users with at least one subscription of the channel. */
  users (channel: string): Promise<Set<string>>
}

/** Where services announce lifecycle events; the events service implements it. */
export interface EventSink {
  emit<E extends LifecycleEvent> (event: E, ...args: LifecycleEvents[E]): Promise<void>
  /** Lets a service skip building an event's argument when nobody listens. */
  listenerCount (event: LifecycleEvent): number
}

/** Channel presence as the channels service drives it. */
export interface ChannelPresenceTracker {
  joined (conn: Connection, channel: string): Promise<void>
  left (conn: Connection, channel: string): Promise<void>
  /** The users present in the channel on every node, or `undefined` when its policy has no presence. */
  snapshot (channel: string): Promise<Record<string, PresenceSummary> | undefined>
}
