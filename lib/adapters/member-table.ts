import type { Member } from './adapter'

/** One set: its members by connection, and how many of them each user has. */
interface MemberSet {
  members: Map<string, Member>
  users: Map<string, number>
}

/** The sets of one kind, the sets each user is in, and their members together. */
interface Kind {
  sets: Map<string, MemberSet>
  byUser: Map<string, Set<string>>
  members: number
}

/**
 * Shared sets held in this process, synchronously: the memory adapter's store, and the Redis
 * adapter's mirror of the members its own node added.
 */
export class MemberTable {
  private readonly kinds = new Map<string, Kind>()

  /** Adds or replaces a connection's membership; the user's members of the set afterwards. */
  put (kind: string, name: string, member: Member): number {
    const k = this.kindOf(kind)
    let set = k.sets.get(name)
    if (set === undefined) k.sets.set(name, set = { members: new Map(), users: new Map() })
    const known = set.members.has(member.connectionId)
    set.members.set(member.connectionId, member)
    if (!known) k.members++
    const count = (set.users.get(member.userId) ?? 0) + (known ? 0 : 1)
    set.users.set(member.userId, count)
    let sets = k.byUser.get(member.userId)
    if (sets === undefined) k.byUser.set(member.userId, sets = new Set())
    sets.add(name)
    return count
  }

  /** Removes a membership; the user's members of the set left, or -1 if it was absent. */
  drop (kind: string, name: string, userId: string, connectionId: string): number {
    const k = this.kinds.get(kind)
    const set = k?.sets.get(name)
    if (k === undefined || set === undefined || set.members.get(connectionId)?.userId !== userId) return -1
    set.members.delete(connectionId)
    k.members--
    if (set.members.size === 0) k.sets.delete(name)
    const left = Number(set.users.get(userId)) - 1
    if (left > 0) {
      set.users.set(userId, left)
      return left
    }
    set.users.delete(userId)
    const sets = k.byUser.get(userId)
    sets?.delete(name)
    if (sets?.size === 0) k.byUser.delete(userId)
    return 0
  }

  list (kind: string, name: string): Member[] {
    return [...this.kinds.get(kind)?.sets.get(name)?.members.values() ?? []]
  }

  userCounts (kind: string, name: string): Map<string, number> {
    return new Map(this.kinds.get(kind)?.sets.get(name)?.users)
  }

  sizes (kind: string): Map<string, number> {
    return new Map(Array.from(this.kinds.get(kind)?.sets ?? [], ([name, set]) => [name, set.members.size]))
  }

  setsOfUser (kind: string, userId: string): Map<string, number> {
    const k = this.kinds.get(kind)
    const names = k?.byUser.get(userId)
    if (k === undefined || names === undefined) return new Map()
    // A user's set names are those of sets where the user counts.
    return new Map(Array.from(names, (name) => [name, Number(k.sets.get(name)?.users.get(userId))]))
  }

  totalOf (kind: string): { sets: number, members: number } {
    const k = this.kinds.get(kind)
    return { sets: k?.sets.size ?? 0, members: k?.members ?? 0 }
  }

  sizeOf (kind: string, name: string): number {
    return this.kinds.get(kind)?.sets.get(name)?.members.size ?? 0
  }

  /** Per kind with any set: the sets held, and the users in one of them (what a leak would grow). */
  get counts (): Record<string, { sets: number, users: number }> {
    const out: Record<string, { sets: number, users: number }> = {}
    for (const [kind, k] of this.kinds) if (k.sets.size > 0) out[kind] = { sets: k.sets.size, users: k.byUser.size }
    return out
  }

  /** Every membership held, as kind, name and member. */
  * entries (): Generator<[string, string, Member]> {
    for (const [kind, k] of this.kinds) {
      for (const [name, set] of k.sets) for (const member of set.members.values()) yield [kind, name, member]
    }
  }

  private kindOf (kind: string): Kind {
    let k = this.kinds.get(kind)
    if (k === undefined) this.kinds.set(kind, k = { sets: new Map(), byUser: new Map(), members: 0 })
    return k
  }
}
