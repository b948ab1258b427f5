import type { Connection } from '../connection/connection'
import { groupTopic } from '../pubsub/topics'
import { frames } from '../protocol/frames'
import { checkName, checkUserId, userKey } from '../protocol/names'
import { type SendOptions, senderOf } from './send-options'
import type { ConnectionLookup, Publisher, TopicJoiner } from './ports'

export interface GroupsDeps {
  connections: Pick<ConnectionLookup, 'ofUser'>
  publisher: Publisher
  topics: TopicJoiner
}

export interface GroupMember {
  userId: string
  role: string | undefined
}

export interface UserGroup {
  group: string
  role: string | undefined
}

interface Membership {
  role: string | undefined
  /** Added through the API: kept while the user is offline, until `remove`. */
  sticky: boolean
}

/**
 * User-level groups with an optional role. Every connection of a member receives the
 * group's messages; memberships that came with the identity end with the user's last
 * connection, those added through `add()` stay until `remove()`.
 */
export class GroupsService {
  private readonly memberships = new Map<string, Map<string, Membership>>()
  private readonly userGroups = new Map<string, Set<string>>()

  private readonly connections: Pick<ConnectionLookup, 'ofUser'>
  private readonly publisher: Publisher
  private readonly topics: TopicJoiner

  /** @internal */
  constructor (deps: GroupsDeps) {
    this.connections = deps.connections
    this.publisher = deps.publisher
    this.topics = deps.topics
  }

  async add (userId: string, group: string, options: { role?: string } = {}): Promise<void> {
    await this.join(checkUserId(userId), checkName('group', group), options.role, true)
  }

  async remove (id: string, group: string): Promise<boolean> {
    const userId = userKey(id)
    const members = this.memberships.get(group)
    if (members === undefined || !members.delete(userId)) return false
    if (members.size === 0) this.memberships.delete(group)
    const groups = this.userGroups.get(userId)
    groups?.delete(group)
    if (groups?.size === 0) this.userGroups.delete(userId)
    await Promise.all(this.connections.ofUser(userId).map((conn) => this.leaveTopic(conn, group)))
    return true
  }

  async has (userId: string, group: string, role?: string): Promise<boolean> {
    return this.hasSync(userKey(userId), group, role)
  }

  /** Synchronous membership check for the dispatcher's permission rules. @internal */
  hasSync (userId: string, group: string, role?: string): boolean {
    const membership = this.memberships.get(group)?.get(userId)
    return membership !== undefined && (role === undefined || membership.role === role)
  }

  async members (group: string): Promise<GroupMember[]> {
    const members = this.memberships.get(group)
    if (members === undefined) return []
    return [...members].map(([userId, m]) => ({ userId, role: m.role }))
  }

  async of (id: string): Promise<UserGroup[]> {
    const userId = userKey(id)
    const groups = this.userGroups.get(userId)
    if (groups === undefined) return []
    return [...groups].map((group) => ({ group, role: this.memberships.get(group)?.get(userId)?.role }))
  }

  async list (): Promise<Array<{ group: string, members: number }>> {
    return [...this.memberships].map(([group, members]) => ({ group, members: members.size }))
  }

  /** Sends `data` to every connection of every member; resolves to the deliveries made. */
  async sendTo (group: string, data: unknown, options: SendOptions = {}): Promise<number> {
    checkName('group', group)
    return this.publisher.publish(groupTopic(group), frames.group(group, senderOf(options), data))
  }

  /** Identity groups of a connecting user, then topics for all of the user's memberships. @internal */
  async attach (conn: Connection,
    identityGroups: Array<string | { name: string, role?: string }>): Promise<void> {
    for (const g of identityGroups) {
      const name = typeof g === 'string' ? g : g.name
      const role = typeof g === 'string' ? undefined : g.role
      await this.join(conn.userId, checkName('group', name), role, false)
    }
    for (const group of this.userGroups.get(conn.userId) ?? []) await this.joinTopic(conn, group)
  }

  /** A connection closed: leave topics; the user's last connection drops identity memberships. @internal */
  async detach (conn: Connection, lastOfUser: boolean): Promise<void> {
    for (const group of conn.groups) await this.leaveTopic(conn, group)
    if (!lastOfUser) return
    for (const group of [...this.userGroups.get(conn.userId) ?? []]) {
      if (this.memberships.get(group)?.get(conn.userId)?.sticky === false) await this.remove(conn.userId, group)
    }
  }

  get size (): number {
    return this.memberships.size
  }

  /** Users who belong to at least one group. @internal */
  get userCount (): number {
    return this.userGroups.size
  }

  private async join (userId: string, group: string, role: string | undefined, sticky: boolean): Promise<void> {
    let members = this.memberships.get(group)
    if (members === undefined) this.memberships.set(group, members = new Map())
    const existing = members.get(userId)
    members.set(userId, { role: role ?? existing?.role, sticky: sticky || existing?.sticky === true })
    let groups = this.userGroups.get(userId)
    if (groups === undefined) this.userGroups.set(userId, groups = new Set())
    groups.add(group)
    await Promise.all(this.connections.ofUser(userId).map((conn) => this.joinTopic(conn, group)))
  }

  private async joinTopic (conn: Connection, group: string): Promise<void> {
    if (!conn.addGroup(group)) return
    await this.topics.join(conn, groupTopic(group), null)
  }

  private async leaveTopic (conn: Connection, group: string): Promise<void> {
    if (!conn.removeGroup(group)) return
    await this.topics.leave(conn, groupTopic(group))
  }
}
