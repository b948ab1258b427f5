import { createHash } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { PresenceEntry, PresenceStore } from './adapter'

/** Every key and channel name; the Lua scripts below build the same names from the prefix. */
export function keysOf (prefix: string) {
  return {
    prefix,
    nodes: prefix + 'nodes',
    users: prefix + 'presence:users',
    owners: prefix + 'presence:owners',
    user: (userId: string) => prefix + 'presence:user:' + userId,
    nodeIndex: (nodeId: string) => prefix + 'presence:node:' + nodeId,
    topics: prefix + 'topic:',
    topic: (topic: string) => prefix + 'topic:' + topic
  }
}
export type RedisKeys = ReturnType<typeof keysOf>

/**
 * A script run by its SHA1, sent in full only when Redis lacks it (after a restart or SCRIPT
 * FLUSH). Not ioredis's `defineCommand`, which would add methods to the app's own client.
 */
class LuaScript {
  private readonly sha: string

  constructor (private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run (redis: Redis, keys: string[], args: Array<string | number>): Promise<unknown> {
    try {
      return await redis.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (!(error as Error).message.startsWith('NOSCRIPT')) throw error
      return redis.eval(this.source, keys.length, ...keys, ...args)
    }
  }
}

/*
 * Presence layout under the prefix: `presence:user:<id>` hashes connectionId → entry JSON,
 * `presence:users` is the set of users with at least one entry, `presence:owners` maps each
 * connectionId to the node that tracked it and `presence:node:<nodeId>` indexes a node's
 * entries (connectionId → userId) so they can be purged together. `node:<nodeId>` is the
 * node's liveness key (expires after nodeTtl) and `nodes` the set of nodes that may own entries.
 * Scripts keep all of them consistent in one step, so counts are exact under concurrency.
 */

// purge(prefix, node): removes every entry the node owns, then the node itself.
const PURGE = `
local function purge (prefix, node)
  local index = prefix .. 'presence:node:' .. node
  local conns = redis.call('HGETALL', index)
  for i = 1, #conns, 2 do
    local user = prefix .. 'presence:user:' .. conns[i + 1]
    redis.call('HDEL', user, conns[i])
    redis.call('HDEL', prefix .. 'presence:owners', conns[i])
    if redis.call('HLEN', user) == 0 then redis.call('SREM', prefix .. 'presence:users', conns[i + 1]) end
  end
  redis.call('DEL', index, prefix .. 'node:' .. node)
  redis.call('SREM', prefix .. 'nodes', node)
end
`

// KEYS: user hash, users, owners, this node's index, nodes. ARGV: connectionId, entry, userId, nodeId.
// An entry that exists keeps its owner: another node may be updating a status it does not own.
const SET = new LuaScript(`
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
if redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[4]) == 1 then
  redis.call('HSET', KEYS[4], ARGV[1], ARGV[3])
  redis.call('SADD', KEYS[5], ARGV[4])
end
return redis.call('HLEN', KEYS[1])
`)

// KEYS: user hash, users, owners. ARGV: connectionId, userId, prefix.
const REMOVE = new LuaScript(`
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return -1 end
local owner = redis.call('HGET', KEYS[3], ARGV[1])
redis.call('HDEL', ARGV[3] .. 'presence:node:' .. owner, ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
local left = redis.call('HLEN', KEYS[1])
if left == 0 then redis.call('SREM', KEYS[2], ARGV[2]) end
return left
`)

// KEYS: users. ARGV: prefix. One consistent snapshot: user, entries, user, entries…
const ALL = new LuaScript(`
local out = {}
for _, user in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  out[#out + 1] = user
  out[#out + 1] = redis.call('HVALS', ARGV[1] .. 'presence:user:' .. user)
end
return out
`)

// ARGV: prefix, nodeId, nodeTtl. Refreshes this node, then purges every node whose key expired.
const BEAT = `
redis.call('SET', ARGV[1] .. 'node:' .. ARGV[2], '1', 'PX', ARGV[3])
redis.call('SADD', ARGV[1] .. 'nodes', ARGV[2])
for _, node in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'nodes')) do
  if redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 0 then purge(ARGV[1], node) end
end
`
export const HEARTBEAT = new LuaScript(PURGE + BEAT)

// The first beat. Entries this node id already owns are a previous run's (a node restarted
// under a fixed nodeId before the others swept it): their connections are gone.
export const START = new LuaScript(PURGE + 'purge(ARGV[1], ARGV[2])' + BEAT)

// ARGV: prefix, nodeId. A clean stop: this node's entries go now rather than after nodeTtl.
export const LEAVE = new LuaScript(PURGE + 'purge(ARGV[1], ARGV[2])')

function parseEntries (values: string[]): PresenceEntry[] {
  return values.map((value) => JSON.parse(value) as PresenceEntry)
}

/** Presence shared by every node through Redis; entries are tagged with the node that owns them. */
export class RedisPresenceStore implements PresenceStore {
  constructor (private readonly redis: Redis, private readonly keys: RedisKeys, private readonly owner: () => string) {}

  async set (userId: string, entry: PresenceEntry): Promise<number> {
    const { keys } = this
    const owner = this.owner()
    return Number(await SET.run(this.redis,
      [keys.user(userId), keys.users, keys.owners, keys.nodeIndex(owner), keys.nodes],
      [entry.connectionId, JSON.stringify(entry), userId, owner]))
  }

  async remove (userId: string, connectionId: string): Promise<number> {
    const { keys } = this
    return Number(await REMOVE.run(this.redis, [keys.user(userId), keys.users, keys.owners],
      [connectionId, userId, keys.prefix]))
  }

  async get (userId: string): Promise<PresenceEntry[]> {
    return parseEntries(await this.redis.hvals(this.keys.user(userId)))
  }

  async all (): Promise<Map<string, PresenceEntry[]>> {
    const flat = await ALL.run(this.redis, [this.keys.users], [this.keys.prefix]) as Array<string | string[]>
    const out = new Map<string, PresenceEntry[]>()
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, parseEntries(flat[i + 1] as string[]))
    return out
  }

  count (): Promise<number> {
    return this.redis.scard(this.keys.users)
  }
}
