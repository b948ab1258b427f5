/**
 * The keys and channel names that TypeScript reads. `state` prefixes every key and the control
 * channel; Lua scripts take it as ARGV[1] and build the rest from it (`node:<nodeId>`,
 * `presence:node:<nodeId>`, `members:node:<nodeId>`). `topics` prefixes the topics' channels.
 *
 * On a Redis Cluster (`sharded`) the state prefix is a hash tag, `{hauyna:}`: a script touches
 * many keys, which must all be in one slot, and so on one shard. The topics' channels keep the
 * bare prefix, so that each topic's channel hashes to a slot of its own and topics spread over
 * the shards.
 */
export function keysOf (prefix: string, sharded: boolean) {
  const state = sharded ? `{${prefix}}` : prefix
  return {
    state,
    topics: prefix + 'topic:',
    topic: (topic: string) => prefix + 'topic:' + topic,
    users: state + 'presence:users',
    owners: state + 'presence:owners',
    user: (userId: string) => state + 'presence:user:' + userId,
    /** The set of nodes that may own entries: the key that scripts about nodes declare. */
    nodes: state + 'nodes',
    nodesInfo: state + 'nodes:info',
    /** The channel on which the node that purged a dead one tells the others who left with it. */
    control: state + 'control',
    /** Shared sets: see `redis-members.ts`. */
    set: (kind: string, name: string) => `${state}set:${kind}:${name}`,
    setUsers: (kind: string, name: string) => `${state}setusers:${kind}:${name}`,
    sets: (kind: string) => `${state}sets:${kind}`,
    kinds: state + 'kinds',
    userSets: (kind: string, userId: string) => `${state}usersets:${kind}:${userId}`,
    /** Added group memberships: see `redis-groups.ts`. */
    group: (group: string) => `${state}group:${group}`,
    userGroups: (userId: string) => `${state}usergroups:${userId}`,
    groups: state + 'groups',
    /** Suspended sessions: see `redis-sessions.ts`. */
    session: (key: string) => `${state}session:${key}`
  }
}
export type RedisKeys = ReturnType<typeof keysOf>
