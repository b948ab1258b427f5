import type { SessionStore } from './adapter'
import type { RedisConnection } from './redis-connections'
import type { RedisKeys } from './redis-keys'
import { COMMAND_TIMEOUT_MS, isReady, within } from './redis-reply'

/**
 * Suspended sessions (session resume) in Redis, so that a client may resume on any node:
 * `session:<key>`, written with its expiry in one SET and taken with GETDEL, so that two
 * connections racing for one token cannot both have it. While Redis is unreachable nothing is
 * kept and nothing can be taken: the session ends as it would without resume.
 */
export class RedisSessionStore implements SessionStore {
  constructor (private readonly redis: RedisConnection, private readonly keys: RedisKeys) {}

  async save (key: string, record: string, ttl: number): Promise<void> {
    if (!isReady(this.redis)) return
    await within(this.redis.set(this.keys.session(key), record, 'PX', ttl), COMMAND_TIMEOUT_MS)
  }

  async take (key: string): Promise<string | undefined> {
    if (!isReady(this.redis)) return undefined
    return await within(this.redis.getdel(this.keys.session(key)), COMMAND_TIMEOUT_MS) ?? undefined
  }
}
