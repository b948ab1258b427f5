import type { MemberStore, Vacancy } from '../adapters/adapter'
import type { Connection } from '../connection/connection'
import { channelTopic } from '../pubsub/topics'
import { deliveredLocally } from '../errors'
import { frames } from '../protocol/frames'
import { NO_META } from '../protocol/names'
import type { PresenceSummary } from '../protocol/schemas'
import type { ChannelPresenceTracker, Publisher } from './ports'
import type { UserPresence } from './types'

/** The kind of shared set that holds, per channel, the connections present in it. */
export const PRESENCE_SETS = 'presence'

export interface ChannelPresenceDeps {
  /** Whether the channel's policy turns presence on. */
  enabled (channel: string): boolean
  presence: { get (userId: string): Promise<UserPresence | null> }
  members: MemberStore
  publisher: Publisher
  defaultStatus: string
}

type Diff = Record<string, PresenceSummary>

/**
 * Presence per channel, for channels whose policy turns it on: the users subscribed, a
 * snapshot for the `subscribed` reply, and `presence_diff` frames on user-level joins,
 * leaves and updates. The members live in the adapter's shared sets, so a user is counted
 * once however many connections, on however many nodes, they have in the channel: a second
 * tab changes nothing on the wire, and a user stays present while any of their connections is.
 */
export class ChannelPresence implements ChannelPresenceTracker {
  constructor (private readonly deps: ChannelPresenceDeps) {}

  async joined (conn: Connection, channel: string): Promise<void> {
    if (!this.deps.enabled(channel)) return
    const membership = { connectionId: conn.id, userId: conn.userId, meta: NO_META, since: Date.now() }
    if (await this.deps.members.add(PRESENCE_SETS, channel, membership) !== 1) return
    // The joiner sees itself in its `subscribed` snapshot, not again as a diff.
    await this.publish(channel, { joins: { [conn.userId]: await this.summary(conn.userId, 1) } }, conn.id)
  }

  async left (conn: Connection, channel: string): Promise<void> {
    if (!this.deps.enabled(channel)) return
    if (await this.deps.members.remove(PRESENCE_SETS, channel, conn.userId, conn.id) !== 0) return
    await this.publish(channel, { leaves: { [conn.userId]: await this.summary(conn.userId, 1) } })
  }

  /** A user's status or meta changed: every presence channel they are in, on any node, hears an update. */
  async updated (presence: UserPresence): Promise<void> {
    const { userId, status, meta } = presence
    for (const [channel, connections] of await this.deps.members.setsOf(PRESENCE_SETS, userId)) {
      await this.publish(channel, { updates: { [userId]: { status, meta, connections } } })
    }
  }

  /** Users a crashed node took out of presence channels: announced once, by the node that purged it. */
  async vacated (vacancies: Vacancy[]): Promise<void> {
    for (const [channel, diff] of await this.byChannel(vacancies)) await this.publish(channel, { leaves: diff })
  }

  /** Users back in presence channels with a node that was purged as dead: announced once, by that node. */
  async refilled (vacancies: Vacancy[]): Promise<void> {
    for (const [channel, diff] of await this.byChannel(vacancies)) await this.publish(channel, { joins: diff })
  }

  /** The users of presence channels among `vacancies`, with their summaries, by channel. */
  private async byChannel (vacancies: Vacancy[]): Promise<Map<string, Diff>> {
    const out = new Map<string, Diff>()
    for (const { kind, name, userId } of vacancies) {
      if (kind !== PRESENCE_SETS) continue
      let diff = out.get(name)
      if (diff === undefined) out.set(name, diff = {})
      diff[userId] = await this.summary(userId, 1)
    }
    return out
  }

  async snapshot (channel: string): Promise<Diff | undefined> {
    if (!this.deps.enabled(channel)) return undefined
    const users = [...await this.deps.members.users(PRESENCE_SETS, channel)]
    const summaries = await Promise.all(users.map(([userId, connections]) => this.summary(userId, connections)))
    // Own keys for every user id: `out[userId] = …` on a plain object would drop `__proto__`.
    return Object.fromEntries(users.map(([userId], i) => [userId, summaries[i]]))
  }

  /** The user's status and meta now; the defaults for a user with no presence left (a leave). */
  private async summary (userId: string, connections: number): Promise<PresenceSummary> {
    const presence = await this.deps.presence.get(userId)
    return presence === null
      ? { status: this.deps.defaultStatus, meta: {}, connections }
      : { status: presence.status, meta: presence.meta, connections }
  }

  private async publish (channel: string, diff: { joins?: Diff, leaves?: Diff, updates?: Diff }, skip?: string): Promise<void> {
    const frame = frames.presenceDiff(channel, diff.joins ?? {}, diff.leaves ?? {}, diff.updates)
    // A diff that reached this node's subscribers but not the other nodes (the adapter's
    // HAUYNA_UNAVAILABLE) must not fail the subscribe or unsubscribe that caused it.
    await this.deps.publisher.publish(channelTopic(channel), frame, undefined, skip).catch(deliveredLocally)
  }
}
