/**
 * The keys and channel names that TypeScript reads; the Lua scripts of the presence and member
 * stores build the rest (`nodes`, `presence:node:<nodeId>`, `members:node:<nodeId>`…) from the prefix.
 */
export function keysOf (prefix: string) {
  return {
    prefix,
    users: prefix + 'presence:users',
    owners: prefix + 'presence:owners',
    user: (userId: string) => prefix + 'presence:user:' + userId,
    topics: prefix + 'topic:',
    topic: (topic: string) => prefix + 'topic:' + topic,
    /** The channel on which the node that purged a dead one tells the others who left with it. */
    control: prefix + 'control',
    nodesInfo: prefix + 'nodes:info',
    /** Shared sets: see `redis-members.ts`. */
    set: (kind: string, name: string) => `${prefix}set:${kind}:${name}`,
    setUsers: (kind: string, name: string) => `${prefix}setusers:${kind}:${name}`,
    sets: (kind: string) => `${prefix}sets:${kind}`,
    kinds: prefix + 'kinds',
    userSets: (kind: string, userId: string) => `${prefix}usersets:${kind}:${userId}`
  }
}
export type RedisKeys = ReturnType<typeof keysOf>
