import { createHash } from 'node:crypto'
import type { RedisConnection } from './redis-connections'

/**
 * A script run by its SHA1, sent in full only when Redis lacks it (after a restart or SCRIPT
 * FLUSH). Not ioredis's `defineCommand`, which would add methods to the app's own client.
 */
export class LuaScript {
  private readonly sha: string

  constructor (private readonly source: string) {
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  // Keys and arguments go as one array, never spread into a call: a registration carries
  // three arguments per connection, past the engine's limit on a call's arguments. Arguments
  // given as a function are taken at each send, so the full script sent after NOSCRIPT
  // carries the state of that moment, not of the first attempt.
  async run (redis: RedisConnection, keys: string[], args: string[] | (() => string[])): Promise<unknown> {
    const values = (): string[] => [...keys, ...typeof args === 'function' ? args() : args]
    try {
      return await redis.evalsha(this.sha, keys.length, values())
    } catch (error) {
      if (!(error as Error).message.startsWith('NOSCRIPT')) throw error
      return redis.eval(this.source, keys.length, values())
    }
  }
}

// A hash as Redis sends it, field, value, field, value…: ioredis's hgetall would make it an
// object, where a field named `__proto__` is lost.
const HGETALL = new LuaScript("return redis.call('HGETALL', KEYS[1])")

/** Every field of a hash with its value. */
export async function hashEntries (redis: RedisConnection, key: string): Promise<Array<[string, string]>> {
  const flat = await HGETALL.run(redis, [key], []) as string[]
  const out: Array<[string, string]> = []
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i], flat[i + 1]])
  return out
}
