import type { Redis, RedisOptions } from 'ioredis'
import { errors } from '../errors'

export interface RedisAdapterOptions {
  /** A `redis://` URL, or ioredis options, for the connections the adapter opens itself. */
  url?: string | RedisOptions
  /** The app's own connection: used for commands and duplicated for subscribing; never closed by the adapter. */
  client?: Redis
  /** Prefix of every key and pub/sub channel the adapter uses (`'hauyna:'`). */
  keyPrefix?: string
  /** Milliseconds a node counts as alive without a heartbeat; its presence entries are purged after that (15000). */
  nodeTtl?: number
}

export interface RedisConfig {
  url: string | RedisOptions | undefined
  client: Redis | undefined
  keyPrefix: string
  nodeTtl: number
}

const DEFAULT_PREFIX = 'hauyna:'
const DEFAULT_NODE_TTL = 15_000
const MIN_NODE_TTL = 100
const KNOWN_OPTIONS = new Set(['url', 'client', 'keyPrefix', 'nodeTtl'])

function invalid (name: string, reason: string): never {
  throw new errors.InvalidOption(`redisAdapter.${name}`, reason)
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Duck-typed rather than `instanceof`, so a client from another copy of ioredis is accepted.
function checkClient (client: unknown): Redis {
  const c = client as Partial<Redis> | null
  if (typeof c?.duplicate !== 'function' || typeof c.evalsha !== 'function' || typeof c.publish !== 'function') {
    invalid('client', 'must be an ioredis Redis instance')
  }
  // ioredis would prefix declared keys but not pub/sub channels or the keys scripts build.
  if (c.options?.keyPrefix) invalid('client', 'must not have an ioredis keyPrefix; use the adapter\'s keyPrefix option')
  return c as Redis
}

function checkUrl (url: unknown): string | RedisOptions {
  if (typeof url === 'string' && url.length > 0) return url
  if (!isObject(url)) return invalid('url', 'must be a non-empty string or an ioredis options object')
  if (url.keyPrefix !== undefined) invalid('url.keyPrefix', 'is not supported; use the adapter\'s keyPrefix option')
  return url as RedisOptions
}

/** Validates `redisAdapter()`'s options; errors name them as `redisAdapter.<option>`. */
export function resolveConfig (options: unknown): RedisConfig {
  if (!isObject(options)) throw new errors.InvalidOption('redisAdapter', 'options must be an object with url or client')
  for (const key of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(key)) invalid(key, 'is not an option of redisAdapter')
  }
  const { url, client, keyPrefix = DEFAULT_PREFIX, nodeTtl = DEFAULT_NODE_TTL } = options
  if ((url === undefined) === (client === undefined)) invalid('url', 'give exactly one of url or client')
  if (typeof keyPrefix !== 'string' || keyPrefix.length === 0) invalid('keyPrefix', 'must be a non-empty string')
  if (typeof nodeTtl !== 'number' || !Number.isInteger(nodeTtl) || nodeTtl < MIN_NODE_TTL) {
    invalid('nodeTtl', `must be an integer >= ${MIN_NODE_TTL} (milliseconds), got ${JSON.stringify(nodeTtl)}`)
  }
  return {
    url: url === undefined ? undefined : checkUrl(url),
    client: client === undefined ? undefined : checkClient(client),
    keyPrefix,
    nodeTtl
  }
}
