import type { Member } from './adapter'

/**
 * One shared set's members, by connection, with each user's number of them. Most sets of
 * users' connections hold a single member: it is kept without a map until a second one comes.
 */
export class MemberSet {
  private one: Member | undefined
  private many: Map<string, Member> | undefined
  private counts: Map<string, number> | undefined

  get size (): number {
    return this.many?.size ?? (this.one === undefined ? 0 : 1)
  }

  has (connectionId: string): boolean {
    return this.many?.has(connectionId) ?? this.one?.connectionId === connectionId
  }

  /** Adds or replaces a member; the user's members afterwards. */
  put (member: Member): number {
    if (this.many === undefined || this.counts === undefined) {
      if (this.one === undefined || this.one.connectionId === member.connectionId) {
        this.one = member
        return 1
      }
      this.many = new Map([[this.one.connectionId, this.one]])
      this.counts = new Map([[this.one.userId, 1]])
      this.one = undefined
    }
    const known = this.many.has(member.connectionId)
    this.many.set(member.connectionId, member)
    const count = (this.counts.get(member.userId) ?? 0) + (known ? 0 : 1)
    this.counts.set(member.userId, count)
    return count
  }

  /** Removes the user's member; the user's members left, or -1 if it was absent. */
  drop (userId: string, connectionId: string): number {
    if (this.many === undefined || this.counts === undefined) {
      if (this.one?.connectionId !== connectionId || this.one.userId !== userId) return -1
      this.one = undefined
      return 0
    }
    if (this.many.get(connectionId)?.userId !== userId) return -1
    this.many.delete(connectionId)
    const left = Number(this.counts.get(userId)) - 1
    if (left > 0) this.counts.set(userId, left)
    else this.counts.delete(userId)
    if (this.many.size === 1) this.shrink(this.many.values().next().value as Member)
    return left
  }

  values (): Member[] {
    if (this.many !== undefined) return [...this.many.values()]
    return this.one === undefined ? [] : [this.one]
  }

  /** Each user with their number of members. */
  users (): Map<string, number> {
    if (this.counts !== undefined) return new Map(this.counts)
    return new Map(this.one === undefined ? [] : [[this.one.userId, 1]])
  }

  countOf (userId: string): number {
    if (this.counts !== undefined) return this.counts.get(userId) ?? 0
    return this.one?.userId === userId ? 1 : 0
  }

  private shrink (last: Member): void {
    this.one = last
    this.many = undefined
    this.counts = undefined
  }
}
