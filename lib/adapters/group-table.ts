/** The memory adapter's added group memberships: group → user → role, and the reverse. */
export class GroupTable {
  private readonly byGroup = new Map<string, Map<string, string | undefined>>()
  private readonly byUser = new Map<string, Map<string, string | undefined>>()

  async add (group: string, userId: string, role: string | undefined): Promise<void> {
    entry(this.byGroup, group).set(userId, role)
    entry(this.byUser, userId).set(group, role)
  }

  async remove (group: string, userId: string): Promise<boolean> {
    if (!drop(this.byGroup, group, userId)) return false
    drop(this.byUser, userId, group)
    return true
  }

  async members (group: string): Promise<Map<string, string | undefined>> {
    return new Map(this.byGroup.get(group))
  }

  async of (userId: string): Promise<Map<string, string | undefined>> {
    return new Map(this.byUser.get(userId))
  }

  async list (): Promise<Map<string, number>> {
    return new Map(Array.from(this.byGroup, ([group, members]) => [group, members.size]))
  }

  /** Groups with a member, and users in a group: what a leak would grow. */
  get counts (): { groups: number, users: number } {
    return { groups: this.byGroup.size, users: this.byUser.size }
  }
}

function entry (map: Map<string, Map<string, string | undefined>>, key: string): Map<string, string | undefined> {
  let inner = map.get(key)
  if (inner === undefined) map.set(key, inner = new Map())
  return inner
}

function drop (map: Map<string, Map<string, string | undefined>>, key: string, inner: string): boolean {
  const held = map.get(key)
  if (held === undefined || !held.delete(inner)) return false
  if (held.size === 0) map.delete(key)
  return true
}
