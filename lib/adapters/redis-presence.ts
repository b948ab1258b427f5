import type { Departure, NodeInfo, PresenceEntry, PresenceStore, Vacancy } from './adapter'
import { PresenceTable } from './presence-table'
import type { RedisConnection } from './redis-connections'
import type { RedisKeys } from './redis-keys'
import { LuaScript } from './redis-lua'
import { MEMBER_FUNCTIONS, vacanciesOf } from './redis-members'
import { MirroredStore } from './redis-mirrored'

/*
 * Every script takes the state prefix as ARGV[1] and declares at least one key (KEYS[1]),
 * whether it reads it or not: a Redis Cluster runs a script on the node that holds its declared
 * keys, and every key under the state prefix is in that one hash slot (see `keysOf`).
 *
 * Presence layout under the prefix: `presence:user:<id>` hashes connectionId → entry JSON,
 * `presence:users` is the set of users with at least one entry, `presence:owners` maps each
 * connectionId to the node that tracked it and `presence:node:<nodeId>` indexes a node's
 * entries (connectionId → userId) so they can be purged together. `node:<nodeId>` is the
 * node's liveness key (expires after nodeTtl) and `nodes` the set of nodes that may own entries.
 * Scripts keep all of them consistent in one step, so counts are exact under concurrency.
 */

// purge(prefix, node, gone): removes every entry the node owns, then the node itself; adds to
// `gone` (when given) each user left with no entry, and the last entry they had.
const PURGE = `
local function purge (prefix, node, gone)
  local index = prefix .. 'presence:node:' .. node
  local conns = redis.call('HGETALL', index)
  for i = 1, #conns, 2 do
    local user = prefix .. 'presence:user:' .. conns[i + 1]
    local entry = redis.call('HGET', user, conns[i])
    redis.call('HDEL', user, conns[i])
    redis.call('HDEL', prefix .. 'presence:owners', conns[i])
    if redis.call('HLEN', user) == 0 then
      redis.call('SREM', prefix .. 'presence:users', conns[i + 1])
      if gone and entry then
        gone[#gone + 1] = conns[i + 1]
        gone[#gone + 1] = entry
      end
    end
  end
  redis.call('DEL', index, prefix .. 'node:' .. node)
  redis.call('HDEL', prefix .. 'nodes:info', node)
  redis.call('SREM', prefix .. 'nodes', node)
end
`

// put(prefix, user, conn, entry, node): adds or replaces an entry; the user's entry count.
// An entry that exists keeps its owner: another node may be updating a status it does not own.
const PUT = `
local function put (prefix, user, conn, entry, node)
  local hash = prefix .. 'presence:user:' .. user
  redis.call('HSET', hash, conn, entry)
  redis.call('SADD', prefix .. 'presence:users', user)
  if redis.call('HSETNX', prefix .. 'presence:owners', conn, node) == 1 then
    redis.call('HSET', prefix .. 'presence:node:' .. node, conn, user)
    redis.call('SADD', prefix .. 'nodes', node)
  end
  return redis.call('HLEN', hash)
end
`

// KEYS: user hash. ARGV: prefix, userId, connectionId, entry, nodeId. Returns the user's entry
// count and the entry's owner.
const SET = new LuaScript(PUT + `
return { put(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]), redis.call('HGET', ARGV[1] .. 'presence:owners', ARGV[3]) }
`)

// KEYS: user hash, users, owners. ARGV: prefix, connectionId, userId. Returns whether the entry
// was there (1/0) and the user's entries left.
const REMOVE = new LuaScript(`
if redis.call('HDEL', KEYS[1], ARGV[2]) == 0 then return { 0, redis.call('HLEN', KEYS[1]) } end
local owner = redis.call('HGET', KEYS[3], ARGV[2])
redis.call('HDEL', ARGV[1] .. 'presence:node:' .. owner, ARGV[2])
redis.call('HDEL', KEYS[3], ARGV[2])
local left = redis.call('HLEN', KEYS[1])
if left == 0 then redis.call('SREM', KEYS[2], ARGV[3]) end
return { 1, left }
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

/** How long the cluster remembers that it purged a node, so that the node can tell on its return. */
const PURGED_MEMORY_MS = 3_600_000

// KEYS: nodes. ARGV: prefix, nodeId, nodeTtl, the node's figures (NodeInfo JSON). Refreshes this
// node and its figures, then purges every node whose key expired, its presence entries and its shared
// set memberships. Returns whether this node's key still existed (0 when Redis lost its data or
// purged this node), the users the purged nodes took with them (user, last entry, user, last
// entry…), and the users they took out of sets (kind, name, user…). One script, so of several
// nodes beating at once exactly one purges a dead node and reports it.
const BEAT = `
local existed = redis.call('EXISTS', ARGV[1] .. 'node:' .. ARGV[2])
redis.call('SET', ARGV[1] .. 'node:' .. ARGV[2], '1', 'PX', ARGV[3])
redis.call('SADD', ARGV[1] .. 'nodes', ARGV[2])
redis.call('HSET', ARGV[1] .. 'nodes:info', ARGV[2], ARGV[4])
local gone = {}
local vacated = {}
for _, node in ipairs(redis.call('SMEMBERS', ARGV[1] .. 'nodes')) do
  if redis.call('EXISTS', ARGV[1] .. 'node:' .. node) == 0 then
    purgeMembers(ARGV[1], node, vacated)
    purge(ARGV[1], node, gone)
    -- Should the node come back (it was cut off, not dead), it announces its users again.
    redis.call('SET', ARGV[1] .. 'purged:' .. node, '1', 'PX', ${PURGED_MEMORY_MS})
  end
end
return { existed, gone, vacated, returned }
`
const HEARTBEAT = new LuaScript(MEMBER_FUNCTIONS + PURGE + 'local returned = {}\n' + BEAT)

// KEYS: nodes. ARGV: prefix, nodeId, nodeTtl, figures, then connectionId, userId, entry for each
// entry the node holds.
// Replaces whatever Redis has for this node by those entries, and beats, in one atomic step.
// An entry of this node that another node changed later (a status set from elsewhere) keeps
// that change: the mirror does not see it, and must not write it back over it.
const REGISTER = new LuaScript(MEMBER_FUNCTIONS + PURGE + PUT + `
local newer = {}
for i = 5, #ARGV, 3 do
  local held = redis.call('HGET', ARGV[1] .. 'presence:user:' .. ARGV[i + 1], ARGV[i])
  if held and redis.call('HGET', ARGV[1] .. 'presence:owners', ARGV[i]) == ARGV[2]
    and cjson.decode(held).updatedAt > cjson.decode(ARGV[i + 2]).updatedAt then newer[i] = held end
end
purge(ARGV[1], ARGV[2])
-- This node was purged as dead (cut off from Redis) and is back: its users who have no entry
-- elsewhere were announced as gone, and come back now (user, entry…), once each.
local returned = {}
if redis.call('DEL', ARGV[1] .. 'purged:' .. ARGV[2]) == 1 then
  returned[1] = 'purged'
  for i = 5, #ARGV, 3 do
    if redis.call('HLEN', ARGV[1] .. 'presence:user:' .. ARGV[i + 1]) == 0 then
      returned[#returned + 1] = ARGV[i + 1]
      returned[#returned + 1] = newer[i] or ARGV[i + 2]
    end
    put(ARGV[1], ARGV[i + 1], ARGV[i], newer[i] or ARGV[i + 2], ARGV[2])
  end
else
  for i = 5, #ARGV, 3 do put(ARGV[1], ARGV[i + 1], ARGV[i], newer[i] or ARGV[i + 2], ARGV[2]) end
end
` + BEAT)

// KEYS: nodes. ARGV: prefix, nodeId. A clean stop: this node's entries and memberships go now
// rather than after nodeTtl.
const LEAVE = new LuaScript(MEMBER_FUNCTIONS + PURGE + 'purgeMembers(ARGV[1], ARGV[2]) purge(ARGV[1], ARGV[2])')

function parseEntries (values: string[]): PresenceEntry[] {
  return values.map((value) => JSON.parse(value) as PresenceEntry)
}

/** What a beat or a registration answers: whether this node was still known, and who left with dead nodes. */
type BeatReply = [number, string[], string[], string[]]

/** Who left with the nodes a beat purged: users with no entry left, and users out of sets. */
export interface Purged {
  departures: Departure[]
  vacancies: Vacancy[]
}

/** A registration: who left with dead nodes, and whether this node itself had been purged, with the users it brought back. */
export interface Registration extends Purged {
  /** This node had been purged as dead (it was cut off from Redis longer than nodeTtl). */
  wasPurged: boolean
  /** Its users who had no entry left anywhere, with their entry now. */
  returned: Departure[]
}

function purgedOf (reply: BeatReply): Purged {
  return { departures: departuresOf(reply[1]), vacancies: vacanciesOf(reply[2]) }
}

function departuresOf (flat: string[]): Departure[] {
  const out: Departure[] = []
  for (let i = 0; i < flat.length; i += 2) out.push({ userId: flat[i], entry: JSON.parse(flat[i + 1]) as PresenceEntry })
  return out
}

/** The shared entries, plus this node's own that Redis lacks while they are not written back. */
function withOwn (shared: PresenceEntry[], own: PresenceEntry[]): PresenceEntry[] {
  const known = new Set(shared.map((entry) => entry.connectionId))
  return [...shared, ...own.filter((entry) => !known.has(entry.connectionId))]
}

/**
 * Presence shared by every node through Redis; entries are tagged with the node that owns them.
 * Each node also keeps a mirror of the entries it owns: it answers from the mirror while Redis
 * is down (counts are then this node's only) and writes the mirror back when Redis returns.
 */
export class RedisPresenceStore extends MirroredStore implements PresenceStore {
  private readonly mirror = new PresenceTable()

  constructor (
    redis: RedisConnection,
    private readonly keys: RedisKeys,
    private readonly owner: () => string,
    private readonly nodeTtl: number,
    /** This node's figures, written with every beat. */
    private readonly self: () => NodeInfo | undefined
  ) {
    super(redis)
  }

  async set (userId: string, entry: PresenceEntry): Promise<number> {
    const { keys } = this
    const owner = this.owner()
    const own = this.mirror.put(userId, entry)
    const reply = await this.write(() => SET.run(this.redis, [keys.user(userId)],
      [keys.state, userId, entry.connectionId, JSON.stringify(entry), owner])) as [number, string] | undefined
    if (reply === undefined) return own
    // Another node's entry, changed from here: that node mirrors it, not this one.
    if (reply[1] !== owner) this.mirror.drop(userId, entry.connectionId)
    return reply[0]
  }

  async remove (userId: string, connectionId: string): Promise<number> {
    const { keys } = this
    const own = this.mirror.drop(userId, connectionId)
    const reply = await this.write(() => REMOVE.run(this.redis, [keys.user(userId), keys.users, keys.owners],
      [keys.state, connectionId, userId])) as [number, number] | undefined
    if (reply === undefined) return own
    if (reply[0] === 1) return reply[1]
    if (own < 0) return -1
    // This node's entry that Redis lost: it was present all the same, and the rest needs writing
    // back. The user has at least the entries left in Redis, and at least this node's own.
    this.stale = true
    return Math.max(reply[1], own)
  }

  get (userId: string): Promise<PresenceEntry[]> {
    const own = this.mirror.entriesOf(userId)
    return this.read(async () => {
      const shared = parseEntries(await this.redis.hvals(this.keys.user(userId)))
      return this.stale ? withOwn(shared, own) : shared
    }, () => own)
  }

  all (): Promise<Map<string, PresenceEntry[]>> {
    return this.read(async () => {
      const flat = await ALL.run(this.redis, [this.keys.users], [this.keys.state]) as Array<string | string[]>
      const out = new Map<string, PresenceEntry[]>()
      for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, parseEntries(flat[i + 1] as string[]))
      return out
    }, () => this.mirror.snapshot())
  }

  count (): Promise<number> {
    return this.read(() => this.redis.scard(this.keys.users), () => this.mirror.userCount)
  }

  /** Every live node's figures as of its last beat; this node's own, now, when Redis is down. */
  nodes (): Promise<NodeInfo[]> {
    const own = (): NodeInfo[] => [this.self()].filter((info) => info !== undefined)
    return this.read(async () => (await this.redis.hvals(this.keys.nodesInfo)).map((json) => JSON.parse(json) as NodeInfo), own)
  }

  /**
   * Writes every mirrored entry back under this node, drops whatever else Redis holds for it,
   * and beats, in one step. The first registration, with nothing mirrored yet, clears the
   * entries of a previous run under the same nodeId. Resolves to the users that dead nodes,
   * purged by the beat, took with them; rejects when Redis does not answer.
   */
  async register (): Promise<Registration> {
    this.stale = false
    // The mirror as it is when the script is sent: every write sent before it is in the mirror,
    // every write sent after it runs after it in Redis.
    const reply = await REGISTER.run(this.redis, [this.keys.nodes], () => this.registration()).catch((error: unknown) => {
      this.stale = true
      throw error
    }) as BeatReply
    const [mark, ...returned] = reply[3]
    return { ...purgedOf(reply), wasPurged: mark === 'purged', returned: departuresOf(returned) }
  }

  /**
   * Refreshes this node's liveness key and purges dead nodes: whether this node's key was still
   * there, and who the purged nodes took with them.
   */
  async beat (): Promise<{ known: boolean, purged: Purged }> {
    const reply = await HEARTBEAT.run(this.redis, [this.keys.nodes], this.beatArgs()) as BeatReply
    return { known: reply[0] === 1, purged: purgedOf(reply) }
  }

  /** A clean stop: this node's entries go now. */
  async leave (): Promise<void> {
    await LEAVE.run(this.redis, [this.keys.nodes], [this.keys.state, this.owner()])
  }

  private registration (): string[] {
    const args = this.beatArgs()
    for (const [userId, entries] of this.mirror.snapshot()) {
      for (const entry of entries) args.push(entry.connectionId, userId, JSON.stringify(entry))
    }
    return args
  }

  private beatArgs (): string[] {
    return [this.keys.state, this.owner(), String(this.nodeTtl), JSON.stringify(this.self() ?? {})]
  }
}
