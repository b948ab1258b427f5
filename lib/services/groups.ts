import type { GroupStore, MemberStore } from '../adapters/adapter'
import type { Connection } from '../connection/connection'
import { groupTopic } from '../pubsub/topics'
import { frames } from '../protocol/frames'
import { checkName, checkUserId, NO_META, userKey } from '../protocol/names'
import { type SendOptions, senderOf } from './send-options'
import type { ConnectionLookup, Publisher, TopicJoiner } from './ports'

export interface GroupsDeps {
  connections: Pick<ConnectionLookup, 'ofUser' | 'values'>
  publisher: Publisher
  topics: TopicJoiner
  /** Memberships the app added, shared by every node. */
  store: GroupStore
  /** Memberships that came with connections' identities, shared by every node. */
  members: MemberStore
  /** Tells every node that the user's added memberships changed. */
  regroup (userId: string): Promise<void>
}

export interface GroupMember {
  userId: string
  role: string | undefined
}

export interface UserGroup {
  group: string
  role: string | undefined
}

/** The kind of shared set that holds, per group, the connections whose identity named it. */
const GROUP_SETS = 'group'

/** An identity group as `authenticate` gives it. */
type IdentityGroup = string | { name: string, role?: string }

/**
 * User-level groups with an optional role, shared by every node. A user is a member while a
 * connection of theirs, on any node, has the group in its identity (until that connection
 * closes), or since the app added them with `add()` (until `remove()`). Every connection of
 * the user receives the groups its own identity names and every group the app added them to.
 * Where a membership is both, the added role wins.
 */
export class GroupsService {
  private readonly deps: GroupsDeps
  /** The identity groups of this node's connections that have any. */
  private readonly identities = new WeakMap<Connection, readonly string[]>()

  /** @internal */
  constructor (deps: GroupsDeps) {
    this.deps = deps
  }

  async add (userId: string, group: string, options: { role?: string } = {}): Promise<void> {
    const user = checkUserId(userId)
    await this.deps.store.add(checkName('group', group), user, options.role)
    await this.deps.regroup(user)
  }

  /** Removes a membership the app added; `false` if there was none. Identity memberships stay with their connections. */
  async remove (id: string, group: string): Promise<boolean> {
    const userId = userKey(id)
    if (!await this.deps.store.remove(group, userId)) return false
    await this.deps.regroup(userId)
    return true
  }

  async has (userId: string, group: string, role?: string): Promise<boolean> {
    const membership = (await this.of(userId)).find((g) => g.group === group)
    return membership !== undefined && (role === undefined || membership.role === role)
  }

  async members (group: string): Promise<GroupMember[]> {
    const roles = new Map<string, string | undefined>()
    for (const member of await this.deps.members.members(GROUP_SETS, group)) keepRole(roles, member.userId, roleOf(member.meta))
    for (const [userId, role] of await this.deps.store.members(group)) overrideRole(roles, userId, role)
    return Array.from(roles, ([userId, role]) => ({ userId, role }))
  }

  async of (id: string): Promise<UserGroup[]> {
    const userId = userKey(id)
    const roles = new Map<string, string | undefined>()
    for (const group of (await this.deps.members.setsOf(GROUP_SETS, userId)).keys()) {
      const mine = (await this.deps.members.members(GROUP_SETS, group)).filter((m) => m.userId === userId)
      for (const member of mine) keepRole(roles, group, roleOf(member.meta))
    }
    for (const [group, role] of await this.deps.store.of(userId)) overrideRole(roles, group, role)
    return Array.from(roles, ([group, role]) => ({ group, role }))
  }

  /** Every group with a member on any node, with its number of members. */
  async list (): Promise<Array<{ group: string, members: number }>> {
    const names = new Set([...(await this.deps.members.sets(GROUP_SETS)).keys(), ...(await this.deps.store.list()).keys()])
    const out: Array<{ group: string, members: number }> = []
    for (const group of names) out.push({ group, members: (await this.members(group)).length })
    return out
  }

  /** Sends `data` to every connection of every member, on every node; resolves to this node's deliveries. */
  async sendTo (group: string, data: unknown, options: SendOptions = {}): Promise<number> {
    checkName('group', group)
    return this.deps.publisher.publish(groupTopic(group), frames.group(group, senderOf(options), data))
  }

  /** A connection opens: its identity groups are recorded, and it joins those and the user's added groups. @internal */
  async attach (conn: Connection, identityGroups: IdentityGroup[]): Promise<void> {
    const names: string[] = []
    for (const g of identityGroups) {
      const name = checkName('group', typeof g === 'string' ? g : g.name)
      const role = typeof g === 'string' ? undefined : g.role
      names.push(name)
      this.identities.set(conn, names)
      await this.deps.members.add(GROUP_SETS, name, { connectionId: conn.id, userId: conn.userId, meta: role === undefined ? NO_META : { role }, since: Date.now() })
    }
    // Unreachable (a Redis outage): the connection opens with its identity groups, and gets
    // the added ones when the adapter is back (`regroupAll`).
    const added = await this.deps.store.of(conn.userId).catch(unlessUnavailable)
    await this.follow(conn, added ?? new Map())
  }

  /** A connection closed: its identity memberships go, and it leaves its groups' topics. @internal */
  async detach (conn: Connection): Promise<void> {
    for (const name of this.identities.get(conn) ?? []) await this.deps.members.remove(GROUP_SETS, name, conn.userId, conn.id)
    for (const group of [...conn.groups]) await this.leaveTopic(conn, group)
  }

  /** The user's added groups changed somewhere: their connections on this node follow. @internal */
  async regrouped (userId: string): Promise<void> {
    const conns = this.deps.connections.ofUser(userId)
    if (conns.length === 0) return
    const added = await this.deps.store.of(userId)
    for (const conn of conns) await this.follow(conn, added)
  }

  /** Every user connected here reads their added groups again: changes announced during an outage may be lost. @internal */
  async regroupAll (): Promise<void> {
    for (const userId of new Set(Array.from(this.deps.connections.values(), (conn) => conn.userId))) await this.regrouped(userId)
  }

  /** Joins the topics of the connection's identity groups and of `added`, and leaves any other. */
  private async follow (conn: Connection, added: Map<string, string | undefined>): Promise<void> {
    const identity = this.identities.get(conn)
    // Most connections are in no group at all: nothing to join or leave.
    if (identity === undefined && added.size === 0 && conn.groups.size === 0) return
    const wanted = new Set([...identity ?? [], ...added.keys()])
    for (const group of wanted) await this.joinTopic(conn, group)
    for (const group of [...conn.groups]) if (!wanted.has(group)) await this.leaveTopic(conn, group)
  }

  private async joinTopic (conn: Connection, group: string): Promise<void> {
    if (!conn.addGroup(group)) return
    await this.deps.topics.join(conn, groupTopic(group), null)
  }

  /** Only for a group the connection has (its `groups`). */
  private async leaveTopic (conn: Connection, group: string): Promise<void> {
    conn.removeGroup(group)
    await this.deps.topics.leave(conn, groupTopic(group))
  }
}

function unlessUnavailable (error: unknown): undefined {
  if ((error as { code?: unknown } | null)?.code !== 'HAUYNA_STATE_UNAVAILABLE') throw error
  return undefined
}

function roleOf (meta: Record<string, unknown>): string | undefined {
  return typeof meta.role === 'string' ? meta.role : undefined
}

/** Records a member with an identity role; a role already known is kept when this one has none. */
function keepRole (roles: Map<string, string | undefined>, key: string, role: string | undefined): void {
  if (role !== undefined || !roles.has(key)) roles.set(key, role ?? roles.get(key))
}

/** An added membership: its role wins when it has one. */
function overrideRole (roles: Map<string, string | undefined>, key: string, role: string | undefined): void {
  roles.set(key, role ?? roles.get(key))
}
