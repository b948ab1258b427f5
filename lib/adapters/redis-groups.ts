import type { GroupStore } from './adapter'
import type { RedisConnection } from './redis-connections'
import type { RedisKeys } from './redis-keys'
import { hashEntries, LuaScript } from './redis-lua'
import { fromRedis } from './redis-reply'

/*
 * Added group memberships under the state prefix: `group:<group>` hashes userId → role,
 * `usergroups:<userId>` groupName → role, and `groups` counts each group's members. A role is
 * stored as JSON (`null` for none). They are the app's data: no node owns them and nothing
 * expires them; `groups.remove()` deletes them, and a hash whose last field goes is gone.
 */

// KEYS: the group's hash. ARGV: prefix, group, userId, role JSON.
const ADD = new LuaScript(`
local p, group, user, role = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if redis.call('HSET', KEYS[1], user, role) == 1 then redis.call('HINCRBY', p .. 'groups', group, 1) end
redis.call('HSET', p .. 'usergroups:' .. user, group, role)
`)

// KEYS: the group's hash. ARGV: prefix, group, userId. 1 when the user was in the group, else 0.
const REMOVE = new LuaScript(`
local p, group, user = ARGV[1], ARGV[2], ARGV[3]
if redis.call('HDEL', KEYS[1], user) == 0 then return 0 end
if redis.call('HINCRBY', p .. 'groups', group, -1) <= 0 then redis.call('HDEL', p .. 'groups', group) end
redis.call('HDEL', p .. 'usergroups:' .. user, group)
return 1
`)

function roles (entries: Array<[string, string]>): Map<string, string | undefined> {
  return new Map(entries.map(([name, role]) => [name, JSON.parse(role) as string | null ?? undefined]))
}

/**
 * Added group memberships in Redis, read and written there only: unlike presence and shared
 * sets, they are nobody's to mirror, so while Redis is unreachable every call rejects with
 * HAUYNA_STATE_UNAVAILABLE rather than answer with a part.
 */
export class RedisGroupStore implements GroupStore {
  constructor (private readonly redis: RedisConnection, private readonly keys: RedisKeys) {}

  async add (group: string, userId: string, role: string | undefined): Promise<void> {
    await this.call(() => ADD.run(this.redis, [this.keys.group(group)], [this.keys.state, group, userId, JSON.stringify(role ?? null)]))
  }

  async remove (group: string, userId: string): Promise<boolean> {
    return await this.call(() => REMOVE.run(this.redis, [this.keys.group(group)], [this.keys.state, group, userId])) === 1
  }

  async members (group: string): Promise<Map<string, string | undefined>> {
    return roles(await this.call(() => hashEntries(this.redis, this.keys.group(group))))
  }

  async of (userId: string): Promise<Map<string, string | undefined>> {
    return roles(await this.call(() => hashEntries(this.redis, this.keys.userGroups(userId))))
  }

  async list (): Promise<Map<string, number>> {
    const entries = await this.call(() => hashEntries(this.redis, this.keys.groups))
    return new Map(entries.map(([group, count]) => [group, Number(count)]))
  }

  private call<T> (command: () => Promise<T>): Promise<T> {
    return fromRedis(this.redis, command)
  }
}
