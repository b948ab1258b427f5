/**
 * The adapter contract: how messages and shared state travel between the nodes of a
 * cluster. Services depend on this interface only; `memoryAdapter()` is the single-node
 * default, a Redis adapter shares topics and presence across processes.
 */

/** A message bound for every local subscriber of a topic, already encoded once. */
export interface Envelope {
  /** The serialized server frame (JSON text). */
  payload: string
  /** Connection id of the publisher, for `echo: false` subscriptions. */
  origin?: string
  /** Connection id that must not receive this message at all. */
  skip?: string
  /** On a channel that keeps history: the message's place in the channel's stream. */
  offset?: number
  epoch?: string
}

/**
 * How much of a channel's past is kept: the last `size` messages, each for `ttl` ms. The
 * channel's position (offset and epoch) is kept `positionTtl` ms after its last publish or
 * subscribe, so that a subscriber of a quiet channel can still recover (nothing) after a reconnect.
 */
export interface HistoryPolicy {
  size: number
  ttl: number
  positionTtl: number
}

/**
 * Where a channel's stream stands: `offset` counts its publishes (the last one's offset, 0
 * before the first), `epoch` names this run of offsets; it changes whenever the history was
 * lost (a restarted memory node, a flushed or expired Redis key), so that an old offset is
 * never taken for a new one.
 */
export interface StreamPosition {
  offset: number
  epoch: string
}

/** A kept message: its offset and its server frame as published, without offset and epoch. */
export interface HistoryEntry {
  offset: number
  payload: string
}

/** What a history read found: the stream's position now and the kept messages asked for, oldest first. */
export interface HistoryRead extends StreamPosition {
  entries: HistoryEntry[]
  /**
   * With `after`: the epoch matched and the first message after `after.offset` was still kept
   * (or none was published since), so `entries` continue `after` without a gap.
   */
  complete: boolean
}

/**
 * Sessions that may be resumed: a dropped connection's subscriptions and presence, kept for
 * the resume window so that a reconnect to any node can take them over.
 */
export interface SessionStore {
  /** Keeps `record` under `key` for `ttl` ms. */
  save (key: string, record: string, ttl: number): Promise<void>
  /** Takes the record once: `undefined` when absent, expired or taken already. */
  take (key: string): Promise<string | undefined>
}

/** A publish to a channel that keeps history: this node's deliveries and the place it got. */
export interface Appended extends StreamPosition {
  delivered: number
}

/** Channel history, shared by every node of a cluster. */
export interface HistoryStore {
  /** The stream's position, started (a new epoch at offset 0) when it has none; kept `positionTtl` from now. */
  position (topic: string, policy: HistoryPolicy): Promise<StreamPosition>
  /**
   * The kept messages after `after` (every kept message without it, none when the epoch differs
   * or `after` is ahead of the stream), at most `limit`, oldest first: with `after`, the first
   * `limit`; without, the last. A message is kept while it is among the last `size` and younger than `ttl`.
   */
  read (topic: string, policy: HistoryPolicy, after: StreamPosition | undefined, limit: number): Promise<HistoryRead>
}

/** A user who left with a node that died: no entry of theirs is left anywhere. */
export interface Departure {
  userId: string
  /** The last entry they had, so a leave can say who left. */
  entry: PresenceEntry
}

/** A node's own figures, which the adapter shares with the other nodes. */
export interface NodeFigures {
  connections: number
  users: number
  /** Epoch milliseconds when the node started. */
  startedAt: number
}

/** A live node of the cluster as the adapter last heard of it. */
export interface NodeInfo extends NodeFigures {
  nodeId: string
  /** Epoch milliseconds of the figures: the node's last heartbeat. */
  lastSeen: number
}

/** A connection's membership of a shared set, as its node adds it. */
export interface Membership {
  connectionId: string
  userId: string
  /** The membership's own meta (a subscription's, for a channel). */
  meta: Record<string, unknown>
  /** Epoch milliseconds when it began. */
  since: number
}

/** A membership as every node reads it: with the node its connection is on. */
export interface Member extends Membership {
  nodeId: string
}

/** A user who is no longer in a set: the node that held their last membership of it died. */
export interface Vacancy {
  kind: string
  name: string
  userId: string
}

/**
 * Sets of connections shared by every node of a cluster: a channel's subscribers, for one. A
 * set is named by a kind (`channel`) and a name. A membership belongs to its connection's
 * node, which alone adds and removes it; it goes with that node when the node stops or dies.
 */
export interface MemberStore {
  /** Adds or replaces a membership; resolves to the user's memberships of the set afterwards. */
  add (kind: string, name: string, membership: Membership): Promise<number>
  /** Removes one; resolves to the user's memberships of the set left, or -1 if it was absent. */
  remove (kind: string, name: string, userId: string, connectionId: string): Promise<number>
  members (kind: string, name: string): Promise<Member[]>
  /** The users in a set, each with their number of memberships of it. */
  users (kind: string, name: string): Promise<Map<string, number>>
  /** The sets of a kind with at least one member, each with its number of members. */
  sets (kind: string): Promise<Map<string, number>>
  /** The sets of a kind the user is in, each with the user's number of memberships of it. */
  setsOf (kind: string, userId: string): Promise<Map<string, number>>
  /** The number of members of a set. */
  size (kind: string, name: string): Promise<number>
  /** The sets of a kind with at least one member, and their members together. */
  total (kind: string): Promise<{ sets: number, members: number }>
}

/**
 * Group memberships that the app adds (`groups.add`): they belong to no connection and no
 * node, and last until the app removes them. A role is a string, or `undefined` for none.
 */
export interface GroupStore {
  /** Adds the user to the group, or replaces their role. */
  add (group: string, userId: string, role: string | undefined): Promise<void>
  /** Removes the user from the group; `false` when they were not in it. */
  remove (group: string, userId: string): Promise<boolean>
  /** The group's members, each with their role. */
  members (group: string): Promise<Map<string, string | undefined>>
  /** The user's groups, each with their role. */
  of (userId: string): Promise<Map<string, string | undefined>>
  /** Every group with at least one member, with their number. */
  list (): Promise<Map<string, number>>
}

/** What the adapter calls on this node. */
export interface AdapterNode extends ClusterListener {
  readonly nodeId: string
  /** Delivers to this node's subscribers of `topic`; returns how many connections got it. */
  deliver (topic: string, envelope: Envelope): number
}

/** What the adapter tells this node about the cluster, besides deliveries; the services act on it. */
export interface ClusterListener {
  /** This node's figures now, for `Adapter.nodes()`. */
  figures (): NodeFigures
  /**
   * Users whose last presence entries belonged to a node that stopped without leaving (a
   * crash): called once on every live node for each such node, so that each announces them.
   */
  departed (departures: Departure[]): void
  /**
   * Users a crashed node took out of shared sets: called once in the whole cluster, on the
   * node that purged the dead one, so that what it announces is announced once.
   */
  vacated (vacancies: Vacancy[]): void
  /**
   * A node purged as dead came back (it had been cut off): its users that were announced as
   * gone are back. `returned` on every node, once each; `refilled`, the sets they are back in,
   * on the returning node only.
   */
  returned (arrivals: Departure[]): void
  refilled (vacancies: Vacancy[]): void
  /** A user's added group memberships changed (on any node): this node's connections of the user follow. */
  regrouped (userId: string): Promise<void>
  /**
   * The adapter was cut off from the other nodes and is back: announcements made meanwhile may
   * be lost, so this node reads again what they would have told it.
   */
  reconnected (): void
}

/** One connection's presence entry; a user is present while they have at least one. */
export interface PresenceEntry {
  connectionId: string
  status: string
  meta: Record<string, unknown>
  /** Epoch milliseconds when the entry was tracked. */
  since: number
  /** Epoch milliseconds of the last status or meta change. */
  updatedAt: number
}

/** Presence state shared by every node of a cluster. */
export interface PresenceStore {
  /** Adds or replaces an entry; resolves to the user's entry count afterwards. */
  set (userId: string, entry: PresenceEntry): Promise<number>
  /** Removes an entry; resolves to the user's remaining entry count, or -1 if it was absent. */
  remove (userId: string, connectionId: string): Promise<number>
  get (userId: string): Promise<PresenceEntry[]>
  /** Every present user with their entries. */
  all (): Promise<Map<string, PresenceEntry[]>>
  count (): Promise<number>
}

/**
 * Whether the adapter can reach the other nodes now. `reason` says what is wrong in a short,
 * stable string an operator can act on (`/health` shows it in its 503 body).
 */
export type AdapterHealth = { ok: true } | { ok: false, reason: string }

export interface Adapter {
  readonly name: string
  /**
   * `true` when this process is the whole cluster (the memory adapter): what the node holds of
   * its own connections is then every node's, so it is read from the node instead of being
   * written to the stores as well. Leave it unset for an adapter that shares state between processes.
   */
  readonly local?: boolean
  readonly presence: PresenceStore
  readonly members: MemberStore
  readonly groups: GroupStore
  readonly history: HistoryStore
  readonly sessions: SessionStore
  init (node: AdapterNode): Promise<void>
  /** Delivers to every node's subscribers; resolves to the count delivered where known. */
  publish (topic: string, envelope: Envelope): Promise<number>
  /**
   * Publishes to a channel that keeps history: in one step, the message gets the stream's next
   * offset, is kept (trimmed to `size`), and is delivered to every node's subscribers in offset
   * order, each delivery's envelope carrying `offset` and `epoch`.
   */
  append (topic: string, envelope: Envelope, policy: HistoryPolicy): Promise<Appended>
  /** This node has its first local subscriber of `topic`. */
  subscribe (topic: string): Promise<void>
  /** This node's last local subscriber of `topic` left. */
  unsubscribe (topic: string): Promise<void>
  /**
   * Tells every node, this one included, that the user's added group memberships changed;
   * resolves once this node's connections followed (the others follow as the news reaches them).
   */
  regroup (userId: string): Promise<void>
  health (): Promise<AdapterHealth>
  /** Every live node with its figures (this one's own when it is alone or cut off). */
  nodes (): Promise<NodeInfo[]>
  close (): Promise<void>
}
