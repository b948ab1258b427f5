import type { Member, Membership, MemberStore, Vacancy } from './adapter'
import { hashEntries, LuaScript } from './redis-lua'
import { MemberTable } from './member-table'
import { MirroredStore } from './redis-mirrored'
import type { RedisConnection } from './redis-connections'
import type { RedisKeys } from './redis-keys'

/*
 * Shared sets under the prefix, for a set of kind K and name N: `set:K:N` hashes connectionId →
 * member JSON, `setusers:K:N` counts each user's members in it, `sets:K` counts each set's
 * members, `kinds` counts the members of each kind, `usersets:K:<userId>` counts a user's
 * members in each set of the kind, and
 * `members:node:<nodeId>` indexes a node's memberships (`K\nN\nconnectionId` → userId) so that
 * they go together when the node stops or dies. Names hold no control character (the
 * protocol's name rule), so the newline separates the fields. Hashes with no field left do
 * not exist in Redis: a set that empties leaves no key behind.
 */
export const MEMBER_FUNCTIONS = `
local function decr (hash, field)
  local left = redis.call('HINCRBY', hash, field, -1)
  if left <= 0 then redis.call('HDEL', hash, field) return 0 end
  return left
end

local function addMember (p, kind, name, conn, user, member, node)
  if redis.call('HSET', p .. 'set:' .. kind .. ':' .. name, conn, member) == 0 then
    return tonumber(redis.call('HGET', p .. 'setusers:' .. kind .. ':' .. name, user))
  end
  redis.call('HSET', p .. 'members:node:' .. node, kind .. '\\n' .. name .. '\\n' .. conn, user)
  redis.call('SADD', p .. 'nodes', node)
  redis.call('HINCRBY', p .. 'sets:' .. kind, name, 1)
  redis.call('HINCRBY', p .. 'kinds', kind, 1)
  redis.call('HINCRBY', p .. 'usersets:' .. kind .. ':' .. user, name, 1)
  return redis.call('HINCRBY', p .. 'setusers:' .. kind .. ':' .. name, user, 1)
end

-- A membership is removed by its own node, whose index names the user it is of.
local function dropMember (p, kind, name, conn, user, node)
  local index, field = p .. 'members:node:' .. node, kind .. '\\n' .. name .. '\\n' .. conn
  if redis.call('HGET', index, field) ~= user then return -1 end
  redis.call('HDEL', index, field)
  redis.call('HDEL', p .. 'set:' .. kind .. ':' .. name, conn)
  decr(p .. 'sets:' .. kind, name)
  decr(p .. 'kinds', kind)
  decr(p .. 'usersets:' .. kind .. ':' .. user, name)
  return decr(p .. 'setusers:' .. kind .. ':' .. name, user)
end

-- Drops every membership of the node; adds to vacated (when given) kind, name and user for
-- each user left with no member in a set.
local function purgeMembers (p, node, vacated)
  local index = p .. 'members:node:' .. node
  local held = redis.call('HGETALL', index)
  for i = 1, #held, 2 do
    local kind, name, conn = string.match(held[i], '^([^\\n]*)\\n([^\\n]*)\\n(.*)$')
    if dropMember(p, kind, name, conn, held[i + 1], node) == 0 and vacated then
      vacated[#vacated + 1] = kind
      vacated[#vacated + 1] = name
      vacated[#vacated + 1] = held[i + 1]
    end
  end
  redis.call('DEL', index)
end
`

// KEYS: a key of the prefix, for routing. ARGV: prefix, kind, name, connectionId, userId,
// member JSON, nodeId. Returns the user's members of the set afterwards.
const ADD = new LuaScript(MEMBER_FUNCTIONS + 'return addMember(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6], ARGV[7])')

// ARGV: prefix, kind, name, connectionId, userId, nodeId. The user's members left, or -1.
const REMOVE = new LuaScript(MEMBER_FUNCTIONS + 'return dropMember(ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])')

// ARGV: prefix, nodeId, then kind, name, connectionId, userId, member JSON for each membership
// the node holds. Replaces whatever Redis has for this node by those, in one step. Returns the
// users who came back into a set (kind, name, user…): none of theirs was left in it.
const REGISTER = new LuaScript(MEMBER_FUNCTIONS + `
purgeMembers(ARGV[1], ARGV[2])
local back = {}
for i = 3, #ARGV, 5 do
  if addMember(ARGV[1], ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4], ARGV[2]) == 1 then
    back[#back + 1] = ARGV[i]
    back[#back + 1] = ARGV[i + 1]
    back[#back + 1] = ARGV[i + 3]
  end
end
return back
`)

// KEYS: sets of the kind, kinds. ARGV: kind. Sets and members of the kind, read together.
const TOTAL = new LuaScript("return { redis.call('HLEN', KEYS[1]), tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0') }")

/** `[kind, name, user, kind, name, user…]`, as a purge reports them. */
export function vacanciesOf (flat: string[]): Vacancy[] {
  const out: Vacancy[] = []
  for (let i = 0; i < flat.length; i += 3) out.push({ kind: flat[i], name: flat[i + 1], userId: flat[i + 2] })
  return out
}

async function countsIn (redis: RedisConnection, hash: string): Promise<Map<string, number>> {
  return new Map((await hashEntries(redis, hash)).map(([field, count]) => [field, Number(count)]))
}

/**
 * Shared sets through Redis, one script per change. Each node mirrors the memberships it
 * added, answers from the mirror while Redis is down, and writes the mirror back when Redis
 * returns (a restart lost them, or other nodes purged this one as dead meanwhile).
 */
export class RedisMemberStore extends MirroredStore implements MemberStore {
  private readonly mirror = new MemberTable()

  constructor (redis: RedisConnection, private readonly keys: RedisKeys, private readonly owner: () => string) {
    super(redis)
  }

  async add (kind: string, name: string, membership: Membership): Promise<number> {
    const member: Member = { ...membership, nodeId: this.owner() }
    const own = this.mirror.put(kind, name, member)
    const reply = await this.write(() => ADD.run(this.redis, [this.keys.users],
      [this.keys.state, kind, name, member.connectionId, member.userId, JSON.stringify(member), member.nodeId]))
    return reply === undefined ? own : Number(reply)
  }

  async remove (kind: string, name: string, userId: string, connectionId: string): Promise<number> {
    const own = this.mirror.drop(kind, name, userId, connectionId)
    const reply = await this.write(() => REMOVE.run(this.redis, [this.keys.users],
      [this.keys.state, kind, name, connectionId, userId, this.owner()]))
    if (reply === undefined) return own
    // A membership of this node that Redis lost: the rest needs writing back.
    if (Number(reply) < 0 && own >= 0) this.stale = true
    return Math.max(Number(reply), own)
  }

  members (kind: string, name: string): Promise<Member[]> {
    return this.read(async () => (await this.redis.hvals(this.keys.set(kind, name))).map((json) => JSON.parse(json) as Member),
      () => this.mirror.list(kind, name))
  }

  users (kind: string, name: string): Promise<Map<string, number>> {
    return this.read(() => countsIn(this.redis, this.keys.setUsers(kind, name)), () => this.mirror.userCounts(kind, name))
  }

  sets (kind: string): Promise<Map<string, number>> {
    return this.read(() => countsIn(this.redis, this.keys.sets(kind)), () => this.mirror.sizes(kind))
  }

  setsOf (kind: string, userId: string): Promise<Map<string, number>> {
    return this.read(() => countsIn(this.redis, this.keys.userSets(kind, userId)), () => this.mirror.setsOfUser(kind, userId))
  }

  size (kind: string, name: string): Promise<number> {
    return this.read(() => this.redis.hlen(this.keys.set(kind, name)), () => this.mirror.sizeOf(kind, name))
  }

  total (kind: string): Promise<{ sets: number, members: number }> {
    return this.read(async () => {
      const [sets, members] = await TOTAL.run(this.redis, [this.keys.sets(kind), this.keys.kinds], [kind]) as [number, number]
      return { sets, members }
    }, () => this.mirror.totalOf(kind))
  }

  /**
   * Writes every mirrored membership back under this node and drops the rest of its own;
   * resolves to the users who came back into a set, none of theirs being left in it; rejects
   * when Redis does not answer.
   */
  async register (): Promise<Vacancy[]> {
    this.stale = false
    const back = await REGISTER.run(this.redis, [this.keys.users], () => this.registration()).catch((error: unknown) => {
      this.stale = true
      throw error
    }) as string[]
    return vacanciesOf(back)
  }

  private registration (): string[] {
    const args = [this.keys.state, this.owner()]
    for (const [kind, name, member] of this.mirror.entries()) {
      args.push(kind, name, member.connectionId, member.userId, JSON.stringify(member))
    }
    return args
  }
}
