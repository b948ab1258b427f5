import type { PresenceEntry } from './adapter'

/** A user's entries: most users have one connection, kept without a map of its own. */
type Entries = PresenceEntry | Map<string, PresenceEntry>

function listOf (entries: Entries): PresenceEntry[] {
  return entries instanceof Map ? [...entries.values()] : [entries]
}

/**
 * Presence entries held in this process, synchronously: the memory adapter's store, and the
 * Redis adapter's mirror of the entries its own node tracked.
 */
export class PresenceTable {
  protected readonly users = new Map<string, Entries>()

  /** Adds or replaces an entry; the user's entry count afterwards. */
  put (userId: string, entry: PresenceEntry): number {
    const held = this.users.get(userId)
    if (held instanceof Map) return held.set(entry.connectionId, entry).size
    if (held === undefined || held.connectionId === entry.connectionId) {
      this.users.set(userId, entry)
      return 1
    }
    this.users.set(userId, new Map([[held.connectionId, held], [entry.connectionId, entry]]))
    return 2
  }

  /** Removes an entry; the user's remaining entry count, or -1 if it was absent. */
  drop (userId: string, connectionId: string): number {
    const held = this.users.get(userId)
    if (held === undefined) return -1
    if (!(held instanceof Map)) {
      if (held.connectionId !== connectionId) return -1
      this.users.delete(userId)
      return 0
    }
    if (!held.delete(connectionId)) return -1
    if (held.size === 1) this.users.set(userId, held.values().next().value as PresenceEntry)
    return held.size
  }

  entriesOf (userId: string): PresenceEntry[] {
    const held = this.users.get(userId)
    return held === undefined ? [] : listOf(held)
  }

  snapshot (): Map<string, PresenceEntry[]> {
    const out = new Map<string, PresenceEntry[]>()
    for (const [userId, held] of this.users) out.set(userId, listOf(held))
    return out
  }

  get userCount (): number {
    return this.users.size
  }
}
