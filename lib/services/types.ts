import type { PresenceEntry } from '../adapters/adapter'
import type { Connection } from '../connection/connection'
import type { ConnectionState } from '../connection/state'

// Values that more than one service shows: the events carry them, the services make them.

/** A channel as `channels.get()` and the `channel_created` / `channel_removed` events show it. */
export interface ChannelInfo {
  name: string
  meta: Record<string, unknown>
  /** Epoch ms. */
  createdAt: number
  /** Created with `channels.create()`: it persists while empty, until `channels.remove()`. */
  explicit: boolean
  /** Subscribed connections: on every node from `channels.get()`, on this node in the `channel_created`/`channel_removed` events. */
  subscribers: number
}

/** A present user: one entry per connection; `status`/`meta` are those last changed. */
export interface UserPresence {
  userId: string
  status: string
  meta: Record<string, unknown>
  connections: PresenceEntry[]
}

export interface PresenceChange {
  event: 'join' | 'leave' | 'update'
  userId: string
  connectionId: string
  /** The user's presence after the change (for `leave`, the entry that left). */
  presence: UserPresence
}

/** Lifecycle events and the arguments their handlers receive. */
export interface LifecycleEvents {
  connect: [connection: Connection]
  disconnect: [connection: Connection, info: { code: number, reason: string }]
  subscribe: [connection: Connection, channel: string, meta: Record<string, unknown>]
  unsubscribe: [connection: Connection, channel: string]
  presence_change: [change: PresenceChange]
  state_change: [connection: Connection, from: ConnectionState, to: ConnectionState]
  channel_created: [channel: ChannelInfo]
  channel_removed: [channel: ChannelInfo]
  error: [error: Error, connection: Connection | undefined]
}
export type LifecycleEvent = keyof LifecycleEvents
