import type { Cluster, ClusterOptions, Redis, RedisOptions } from 'ioredis'
import { fail, integer, object, text } from '../util/option-checks'
import type { RedisAdapterOptions, RedisClusterNode } from './redis-options'

/** `redisAdapter()`'s options once validated, in ioredis's own types. */
export interface RedisConfig {
  url: string | RedisOptions | undefined
  cluster: { nodes: RedisClusterNode[], options: ClusterOptions } | undefined
  client: Redis | Cluster | undefined
  /** A Redis Cluster (given as `cluster`, or the app's client is one): sharded pub/sub, state keys in one hash slot. */
  sharded: boolean
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
const KNOWN_OPTIONS = new Set(['url', 'client', 'cluster', 'keyPrefix', 'nodeTtl', 'maxOutgoingMessages', 'maxOutgoingBytes'])
const ONE_OF = 'give exactly one of url, client or cluster'

const optionName = (option: string): string => `redisAdapter.${option}`

// ioredis would prefix declared keys but not pub/sub channels or the keys scripts build.
const NO_KEY_PREFIX = 'is not supported; use the adapter\'s keyPrefix option'

// Duck-typed rather than `instanceof`, so a client from another copy of ioredis is accepted.
function checkClient (client: unknown): Redis | Cluster {
  const c = client as Partial<Redis> | null
  if (typeof c?.duplicate !== 'function' || typeof c.evalsha !== 'function' || typeof c.publish !== 'function') {
    fail(optionName('client'), 'must be an ioredis Redis or Cluster instance')
  }
  if (c.options?.keyPrefix) fail(optionName('client'), 'must not have an ioredis keyPrefix; use the adapter\'s keyPrefix option')
  return c as Redis | Cluster
}

function checkUrl (url: unknown): string | RedisOptions {
  if (typeof url === 'string') return text(optionName('url'), url, '')
  const options = object<RedisOptions>(optionName('url'), url)
  if (options.keyPrefix !== undefined) fail(optionName('url.keyPrefix'), NO_KEY_PREFIX)
  return options
}

function isNode (node: unknown): node is RedisClusterNode {
  if (typeof node === 'string') return node.length > 0
  const { host, port } = (node ?? {}) as { host?: unknown, port?: unknown }
  return typeof node === 'object' && (host === undefined || typeof host === 'string') &&
    typeof port === 'number' && Number.isInteger(port) && port > 0 && port < 65536
}

function checkCluster (cluster: unknown): RedisConfig['cluster'] {
  const { nodes, options, ...rest } = object<{ nodes: unknown, options: unknown }>(optionName('cluster'), cluster)
  for (const key of Object.keys(rest)) fail(optionName(`cluster.${key}`), 'is not an option of redisAdapter.cluster (nodes, options)')
  if (!Array.isArray(nodes) || nodes.length === 0 || !nodes.every(isNode)) {
    fail(optionName('cluster.nodes'), 'must be a non-empty array of \'host:port\' strings or { host, port } objects')
  }
  const clusterOptions = object<ClusterOptions>(optionName('cluster.options'), options)
  if (clusterOptions.keyPrefix !== undefined) fail(optionName('cluster.options.keyPrefix'), NO_KEY_PREFIX)
  const redisOptions = object<RedisOptions>(optionName('cluster.options.redisOptions'), clusterOptions.redisOptions)
  if (redisOptions.keyPrefix !== undefined) fail(optionName('cluster.options.redisOptions.keyPrefix'), NO_KEY_PREFIX)
  return { nodes, options: clusterOptions }
}

/**
 * On a cluster the adapter wraps the prefix in a hash tag for its state keys, and leaves it bare
 * on topic channels so that they spread over the shards: a brace of its own would do either wrong.
 */
function checkPrefix (prefix: string, sharded: boolean): string {
  if (sharded && /[{}]/.test(prefix)) fail(optionName('keyPrefix'), 'must not contain { or } on a Redis Cluster (the adapter sets the hash tags)')
  return prefix
}

/** Validates `redisAdapter()`'s options; errors name them as `redisAdapter.<option>`. */
export function resolveConfig (options: unknown): RedisConfig {
  if (options === undefined) fail('redisAdapter', 'options must be an object with url, client or cluster')
  const given = object<RedisAdapterOptions>('redisAdapter', options)
  for (const key of Object.keys(given)) {
    if (!KNOWN_OPTIONS.has(key)) fail(optionName(key), 'is not an option of redisAdapter')
  }
  const { url, client, cluster } = given
  if ([url, client, cluster].filter((option) => option !== undefined).length !== 1) fail(optionName('url'), ONE_OF)
  const app = client === undefined ? undefined : checkClient(client)
  const sharded = cluster !== undefined || app?.isCluster === true
  return {
    url: url === undefined ? undefined : checkUrl(url),
    cluster: cluster === undefined ? undefined : checkCluster(cluster),
    client: app,
    sharded,
    keyPrefix: checkPrefix(text(optionName('keyPrefix'), given.keyPrefix, DEFAULT_PREFIX), sharded),
    nodeTtl: integer(optionName('nodeTtl'), given.nodeTtl, DEFAULT_NODE_TTL, MIN_NODE_TTL),
    maxOutgoingMessages: integer(optionName('maxOutgoingMessages'), given.maxOutgoingMessages, DEFAULT_OUTGOING_MESSAGES, 1),
    maxOutgoingBytes: integer(optionName('maxOutgoingBytes'), given.maxOutgoingBytes, DEFAULT_OUTGOING_BYTES, 1)
  }
}
