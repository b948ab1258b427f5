import type { Connection } from '../connection/connection'
import { channelTopic } from '../pubsub/topics'
import { deliveredLocally } from '../errors'
import { frames } from '../protocol/frames'
import type { PresenceSummary } from '../protocol/schemas'
import type { ChannelPresenceTracker, Publisher } from './ports'
import type { UserPresence } from './types'

export interface ChannelPresenceDeps {
  /** Whether the channel's policy turns presence on. */
  enabled (channel: string): boolean
  presence: { get (userId: string): Promise<UserPresence | null> }
  publisher: Publisher
  defaultStatus: string
}

interface Member {
  /** This user's connections subscribed to the channel. */
  connections: number
  /** Last known status and meta, so a leave can say who left. */
  status: string
  meta: Record<string, unknown>
}

type Diff = Record<string, PresenceSummary>

/**
 * Presence per channel, for channels whose policy turns it on: the users subscribed, a
 * snapshot for the `subscribed` reply, and `presence_diff` frames on user-level joins,
 * leaves and updates. A second tab of a present user changes nothing on the wire.
 */
export class ChannelPresence implements ChannelPresenceTracker {
  private readonly channels = new Map<string, Map<string, Member>>()
  private readonly userChannels = new Map<string, Set<string>>()

  constructor (private readonly deps: ChannelPresenceDeps) {}

  async joined (conn: Connection, channel: string): Promise<void> {
    if (!this.deps.enabled(channel) || this.joinedAgain(conn.userId, channel)) return
    const state = await this.current(conn.userId)
    // Another connection of this user may have joined while the state was read: one join only.
    if (this.joinedAgain(conn.userId, channel)) return
    const fresh = { connections: 1, ...state }
    let members = this.channels.get(channel)
    if (members === undefined) this.channels.set(channel, members = new Map())
    members.set(conn.userId, fresh)
    let joined = this.userChannels.get(conn.userId)
    if (joined === undefined) this.userChannels.set(conn.userId, joined = new Set())
    joined.add(channel)
    // The joiner sees itself in its `subscribed` snapshot, not again as a diff.
    await this.publish(channel, { joins: { [conn.userId]: summary(fresh) } }, conn.id)
  }

  /** Channels with a present user, and users present in a channel, on this node. @internal */
  get counts (): { channels: number, users: number } {
    return { channels: this.channels.size, users: this.userChannels.size }
  }

  /** Counts one more connection of a user already present in the channel; `false` if absent. */
  private joinedAgain (userId: string, channel: string): boolean {
    const member = this.channels.get(channel)?.get(userId)
    if (member === undefined) return false
    member.connections++
    return true
  }

  async left (userId: string, channel: string): Promise<void> {
    const members = this.channels.get(channel)
    const member = members?.get(userId)
    if (members === undefined || member === undefined) return
    if (--member.connections > 0) return
    members.delete(userId)
    if (members.size === 0) this.channels.delete(channel)
    const joined = this.userChannels.get(userId)
    joined?.delete(channel)
    if (joined?.size === 0) this.userChannels.delete(userId)
    await this.publish(channel, { leaves: { [userId]: { ...summary(member), connections: 1 } } })
  }

  /** A user's status or meta changed: every presence channel they are in hears an update. */
  async updated (userId: string): Promise<void> {
    const joined = this.userChannels.get(userId)
    if (joined === undefined) return
    const state = await this.current(userId)
    for (const channel of [...joined]) {
      const member = this.channels.get(channel)?.get(userId)
      if (member === undefined || sameState(member, state)) continue
      member.status = state.status
      member.meta = state.meta
      await this.publish(channel, { updates: { [userId]: summary(member) } })
    }
  }

  snapshot (channel: string): Diff | undefined {
    if (!this.deps.enabled(channel)) return undefined
    // Own keys for every user id: `out[userId] = …` on a plain object would drop `__proto__`.
    return Object.fromEntries(Array.from(this.channels.get(channel) ?? [], ([userId, member]) => [userId, summary(member)]))
  }

  private async current (userId: string): Promise<{ status: string, meta: Record<string, unknown> }> {
    const presence = await this.deps.presence.get(userId)
    return presence === null
      ? { status: this.deps.defaultStatus, meta: {} }
      : { status: presence.status, meta: presence.meta }
  }

  private async publish (channel: string, diff: { joins?: Diff, leaves?: Diff, updates?: Diff }, skip?: string): Promise<void> {
    const frame = frames.presenceDiff(channel, diff.joins ?? {}, diff.leaves ?? {}, diff.updates)
    // A diff that reached this node's subscribers but not the other nodes (the adapter's
    // HAUYNA_UNAVAILABLE) must not fail the subscribe or unsubscribe that caused it.
    await this.deps.publisher.publish(channelTopic(channel), frame, undefined, skip).catch(deliveredLocally)
  }
}

/** Metas are small (`maxMetaBytes`), and come from the store as new objects each time. */
function sameState (member: Member, state: { status: string, meta: Record<string, unknown> }): boolean {
  return member.status === state.status && JSON.stringify(member.meta) === JSON.stringify(state.meta)
}

function summary (member: Member): PresenceSummary {
  return { status: member.status, meta: member.meta, connections: member.connections }
}
