import type { Member } from './adapter'
import { MemberSet } from './member-set'

/**
 * The sets of one kind, the sets each user is in (one name, the usual case, without a set of
 * its own), and their members together.
 */
interface Kind {
  sets: Map<string, MemberSet>
  byUser: Map<string, string | Set<string>>
  members: number
}

function namesOf (held: string | Set<string> | undefined): string[] {
  return held === undefined ? [] : typeof held === 'string' ? [held] : [...held]
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
    if (set === undefined) k.sets.set(name, set = new MemberSet())
    if (!set.has(member.connectionId)) k.members++
    const count = set.put(member)
    if (count === 1) addName(k.byUser, member.userId, name)
    return count
  }

  /** Removes a membership; the user's members of the set left, or -1 if it was absent. */
  drop (kind: string, name: string, userId: string, connectionId: string): number {
    const k = this.kinds.get(kind)
    const set = k?.sets.get(name)
    if (k === undefined || set === undefined) return -1
    const left = set.drop(userId, connectionId)
    if (left < 0) return -1
    k.members--
    if (set.size === 0) k.sets.delete(name)
    if (left === 0) dropName(k.byUser, userId, name)
    return left
  }

  list (kind: string, name: string): Member[] {
    return this.kinds.get(kind)?.sets.get(name)?.values() ?? []
  }

  userCounts (kind: string, name: string): Map<string, number> {
    return this.kinds.get(kind)?.sets.get(name)?.users() ?? new Map()
  }

  sizes (kind: string): Map<string, number> {
    return new Map(Array.from(this.kinds.get(kind)?.sets ?? [], ([name, set]) => [name, set.size]))
  }

  setsOfUser (kind: string, userId: string): Map<string, number> {
    const k = this.kinds.get(kind)
    if (k === undefined) return new Map()
    return new Map(namesOf(k.byUser.get(userId)).map((name) => [name, Number(k.sets.get(name)?.countOf(userId))]))
  }

  totalOf (kind: string): { sets: number, members: number } {
    const k = this.kinds.get(kind)
    return { sets: k?.sets.size ?? 0, members: k?.members ?? 0 }
  }

  sizeOf (kind: string, name: string): number {
    return this.kinds.get(kind)?.sets.get(name)?.size ?? 0
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
      for (const [name, set] of k.sets) for (const member of set.values()) yield [kind, name, member]
    }
  }

  private kindOf (kind: string): Kind {
    let k = this.kinds.get(kind)
    if (k === undefined) this.kinds.set(kind, k = { sets: new Map(), byUser: new Map(), members: 0 })
    return k
  }
}

function addName (byUser: Map<string, string | Set<string>>, userId: string, name: string): void {
  const held = byUser.get(userId)
  if (held === undefined) byUser.set(userId, name)
  else if (typeof held !== 'string') held.add(name)
  else if (held !== name) byUser.set(userId, new Set([held, name]))
}

function dropName (byUser: Map<string, string | Set<string>>, userId: string, name: string): void {
  const held = byUser.get(userId)
  if (held === name) {
    byUser.delete(userId)
    return
  }
  if (typeof held === 'string' || held === undefined) return
  held.delete(name)
  if (held.size === 1) byUser.set(userId, held.values().next().value as string)
}
