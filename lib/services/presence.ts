import type { Departure, PresenceEntry, PresenceStore } from '../adapters/adapter'
import type { Connection } from '../connection/connection'
import { checkMeta, checkStatus, NO_META, userKey } from '../protocol/names'
import type { EventSink } from './ports'
import type { PresenceChange, UserPresence } from './types'

export interface PresenceState {
  status?: string
  meta?: Record<string, unknown>
}

export interface PresenceFilter {
  /** Only users with a connection subscribed to this channel. */
  channel?: string
  /** Only members of this group. */
  group?: string
  status?: string
  /** Only users whose meta has every one of these values. */
  where?: Record<string, unknown>
}

export interface PresenceDeps {
  store: PresenceStore
  events: EventSink
  maxMetaBytes: number
  defaultStatus: string
  /** A present user's status or meta changed (channel presence diffs listen here). */
  onUpdate (presence: UserPresence): Promise<void>
  channelUsers (channel: string): Promise<Set<string>>
  groupUsers (group: string): Promise<Set<string>>
}

function summarize (userId: string, entries: PresenceEntry[]): UserPresence {
  let latest = entries[0]
  for (const entry of entries) if (entry.updatedAt > latest.updatedAt) latest = entry
  return { userId, status: latest.status, meta: latest.meta, connections: entries }
}

/** Whether two states differ; metas are small (`maxMetaBytes`), and most are the shared empty one. */
function differ (a: { status: string, meta: Record<string, unknown> }, b: { status: string, meta: Record<string, unknown> }): boolean {
  if (a.status !== b.status) return true
  return a.meta !== b.meta && JSON.stringify(a.meta) !== JSON.stringify(b.meta)
}

function matches (presence: UserPresence, where: Record<string, unknown>): boolean {
  for (const key of Object.keys(where)) {
    if (presence.meta[key] !== where[key]) return false
  }
  return true
}

/** Who is online: keyed by user, one entry per connection, join/leave/update events. */
export class PresenceService {
  constructor (private readonly deps: PresenceDeps) {}

  async track (connection: Connection, state: PresenceState = {}): Promise<void> {
    const now = Date.now()
    const entry: PresenceEntry = {
      connectionId: connection.id,
      status: state.status === undefined ? this.deps.defaultStatus : checkStatus(state.status),
      meta: checkMeta('presence meta', state.meta, this.deps.maxMetaBytes),
      since: now,
      updatedAt: now
    }
    const { userId } = connection
    const count = await this.deps.store.set(userId, entry)
    if (count !== 1) return this.trackedAgain(connection, entry)
    await this.changed('join', userId, connection.id, [entry])
    // A status or meta of its own: channels showing the default one hear of it.
    if (differ(this.absent, entry)) await this.deps.onUpdate(summarize(userId, [entry]))
  }

  /** How a user with no entry shows: the default status, no meta. */
  private get absent (): { status: string, meta: Record<string, unknown> } {
    return { status: this.deps.defaultStatus, meta: NO_META }
  }

  /** Another connection of a present user: the newest entry sets the user's status, and a channel that showed another one hears of it. */
  private async trackedAgain (connection: Connection, entry: PresenceEntry): Promise<void> {
    const { userId } = connection
    const others = (await this.deps.store.get(userId)).filter((e) => e.connectionId !== connection.id)
    const before = others.length === 0 ? this.absent : summarize(userId, others)
    if (differ(before, entry)) await this.deps.onUpdate(summarize(userId, [...others, entry]))
  }

  async untrack (connection: Connection): Promise<boolean> {
    const entries = await this.deps.store.get(connection.userId)
    const entry = entries.find((e) => e.connectionId === connection.id)
    const left = await this.deps.store.remove(connection.userId, connection.id)
    if (left === 0 && entry !== undefined) await this.changed('leave', connection.userId, connection.id, [entry])
    return left >= 0
  }

  /**
   * Changes status and/or meta of one connection's entry, or of every entry of a user.
   * `merge` (default) adds the given meta keys; `replace` swaps the whole meta object.
   */
  async update (target: Connection | string, state: PresenceState, options: { mode?: 'merge' | 'replace' } = {}): Promise<boolean> {
    const userId = typeof target === 'string' ? userKey(target) : target.userId
    const status = state.status === undefined ? undefined : checkStatus(state.status)
    const meta = state.meta === undefined ? undefined : checkMeta('presence meta', state.meta, this.deps.maxMetaBytes)
    const entries = await this.deps.store.get(userId)
    const chosen = typeof target === 'string' ? entries : entries.filter((e) => e.connectionId === target.id)
    if (chosen.length === 0) return false
    const before = summarize(userId, entries)
    const now = Date.now()
    for (const entry of chosen) {
      const next: PresenceEntry = {
        ...entry,
        status: status ?? entry.status,
        meta: meta === undefined ? entry.meta : options.mode === 'replace' ? meta : { ...entry.meta, ...meta },
        updatedAt: now
      }
      checkMeta('presence meta', next.meta, this.deps.maxMetaBytes)
      await this.deps.store.set(userId, next)
    }
    const after = await this.deps.store.get(userId)
    await this.changed('update', userId, chosen[0].connectionId, after)
    const presence = summarize(userId, after)
    if (differ(before, presence)) await this.deps.onUpdate(presence)
    return true
  }

  async get (id: string): Promise<UserPresence | null> {
    const userId = userKey(id)
    const entries = await this.deps.store.get(userId)
    return entries.length === 0 ? null : summarize(userId, entries)
  }

  async list (filter: PresenceFilter = {}): Promise<UserPresence[]> {
    const channelUsers = filter.channel === undefined ? undefined : await this.deps.channelUsers(filter.channel)
    const groupUsers = filter.group === undefined ? undefined : await this.deps.groupUsers(filter.group)
    const out: UserPresence[] = []
    for (const [userId, entries] of await this.deps.store.all()) {
      if (channelUsers !== undefined && !channelUsers.has(userId)) continue
      if (groupUsers !== undefined && !groupUsers.has(userId)) continue
      const presence = summarize(userId, entries)
      if (filter.status !== undefined && presence.status !== filter.status) continue
      if (filter.where !== undefined && !matches(presence, filter.where)) continue
      out.push(presence)
    }
    return out
  }

  /**
   * Announces the users a crashed node took with it (the adapter found them with no entry
   * left): a `leave` each, as if their last connection had closed here.
   */
  async departed (departures: Departure[]): Promise<void> {
    for (const { userId, entry } of departures) await this.changed('leave', userId, entry.connectionId, [entry])
  }

  /** Announces the users of a node that was purged as dead and is back: a `join` each. */
  async returned (arrivals: Departure[]): Promise<void> {
    for (const { userId, entry } of arrivals) await this.changed('join', userId, entry.connectionId, [entry])
  }

  async isPresent (userId: string): Promise<boolean> {
    return (await this.deps.store.get(userKey(userId))).length > 0
  }

  count (): Promise<number> {
    return this.deps.store.count()
  }

  private changed (event: PresenceChange['event'], userId: string, connectionId: string, entries: PresenceEntry[]): Promise<void> | undefined {
    // Every connect and disconnect passes here: no summary to build when nobody listens.
    if (this.deps.events.listenerCount('presence_change') === 0) return undefined
    return this.deps.events.emit('presence_change', { event, userId, connectionId, presence: summarize(userId, entries) })
  }
}
