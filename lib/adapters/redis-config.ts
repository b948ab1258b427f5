import type { Redis, RedisOptions } from 'ioredis'
import { fail, integer, object, text } from '../util/option-checks'
import type { RedisAdapterOptions } from './redis-options'

/** `redisAdapter()`'s options once validated, in ioredis's own types. */
export interface RedisConfig {
  url: string | RedisOptions | undefined
  client: Redis | undefined
  keyPrefix: string
  nodeTtl: number
  maxOutgoingMessages: number
  maxOutgoingBytes: number
}

const DEFAULT_PREFIX = 'hauyna:'
const DEFAULT_NODE_TTL = 6_000
const MIN_NODE_TTL = 100
const DEFAULT_OUTGOING_MESSAGES = 10_000
const DEFAULT_OUTGOING_BYTES = 8 * 1024 * 1024
const KNOWN_OPTIONS = new Set(['url', 'client', 'keyPrefix', 'nodeTtl', 'maxOutgoingMessages', 'maxOutgoingBytes'])

const optionName = (option: string): string => `redisAdapter.${option}`

// Duck-typed rather than `instanceof`, so a client from another copy of ioredis is accepted.
function checkClient (client: unknown): Redis {
  const c = client as Partial<Redis> | null
  if (typeof c?.duplicate !== 'function' || typeof c.evalsha !== 'function' || typeof c.publish !== 'function') {
    fail(optionName('client'), 'must be an ioredis Redis instance')
  }
  // ioredis would prefix declared keys but not pub/sub channels or the keys scripts build.
  if (c.options?.keyPrefix) fail(optionName('client'), 'must not have an ioredis keyPrefix; use the adapter\'s keyPrefix option')
  return c as Redis
}

function checkUrl (url: unknown): string | RedisOptions {
  if (typeof url === 'string') return text(optionName('url'), url, '')
  const options = object<RedisOptions>(optionName('url'), url)
  if (options.keyPrefix !== undefined) fail(optionName('url.keyPrefix'), 'is not supported; use the adapter\'s keyPrefix option')
  return options
}

/** Validates `redisAdapter()`'s options; errors name them as `redisAdapter.<option>`. */
export function resolveConfig (options: unknown): RedisConfig {
  if (options === undefined) fail('redisAdapter', 'options must be an object with url or client')
  const given = object<RedisAdapterOptions>('redisAdapter', options)
  for (const key of Object.keys(given)) {
    if (!KNOWN_OPTIONS.has(key)) fail(optionName(key), 'is not an option of redisAdapter')
  }
  const { url, client } = given
  if ((url === undefined) === (client === undefined)) fail(optionName('url'), 'give exactly one of url or client')
  return {
    url: url === undefined ? undefined : checkUrl(url),
    client: client === undefined ? undefined : checkClient(client),
    keyPrefix: text(optionName('keyPrefix'), given.keyPrefix, DEFAULT_PREFIX),
    nodeTtl: integer(optionName('nodeTtl'), given.nodeTtl, DEFAULT_NODE_TTL, MIN_NODE_TTL),
    maxOutgoingMessages: integer(optionName('maxOutgoingMessages'), given.maxOutgoingMessages, DEFAULT_OUTGOING_MESSAGES, 1),
    maxOutgoingBytes: integer(optionName('maxOutgoingBytes'), given.maxOutgoingBytes, DEFAULT_OUTGOING_BYTES, 1)
  }
}
