import type * as IORedis from 'ioredis'
import type { Cluster, Redis } from 'ioredis'
import { errors } from '../errors'
import type { RedisConfig } from './redis-config'
import type { RedisClusterNode } from './redis-options'

/** A connection to one Redis server, or to a Redis Cluster (ioredis routes each command to its shard). */
export type RedisConnection = Redis | Cluster

export function isCluster (redis: RedisConnection): redis is Cluster {
  return redis.isCluster === true
}

/** The adapter's connections: one for commands, one for subscribing, and those of them it opened (and so closes). */
export interface Connections {
  commands: RedisConnection
  subscriber: RedisConnection
  owned: RedisConnection[]
  /** Where Redis is, for an error or a health reason: `host:port`, or `cluster host:port,…`. */
  address: () => string
}

/**
 * Loaded on first use: ioredis is an optional peer dependency, and takes about 18 MiB and a
 * tenth of a second to load, which an app on the memory adapter should not pay for.
 */
function loadIORedis (): typeof IORedis {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('ioredis') as typeof IORedis
  } catch (error) {
    throw Object.assign(new errors.RedisNotInstalled((error as Error).message), { cause: error })
  }
}

/** `host:port` (or the socket path) of one server's connection. */
export function addressOf (redis: Redis): string {
  const { host, port, path } = redis.options
  return path ?? `${host ?? '127.0.0.1'}:${port ?? 6379}`
}

/** A server behind a connection, and ioredis's connection to it (none when it dropped it). */
export interface Server {
  address: string
  connection: Redis | undefined
}

/**
 * The servers a connection needs: the one Redis, or every master that the cluster's slot map
 * names, since each holds some of the topics. ioredis drops its connection to a cluster node
 * that it lost, and opens one again only when it refreshes the slot map: a master without one
 * is asked for here, so that it is found again once it is back.
 */
export function serversOf (redis: RedisConnection): Server[] {
  if (!isCluster(redis)) return [{ address: addressOf(redis), connection: redis }]
  const connected = new Map(redis.nodes('master').map((node) => [addressOf(node), node]))
  const masters = [...new Set(redis.slots.flatMap((owners) => owners.slice(0, 1)))]
  if (masters.some((address) => !connected.has(address))) redis.refreshSlotsCache()
  return masters.map((address) => ({ address, connection: connected.get(address) }))
}

/** The masters ioredis knows, or, before it reached any, the nodes it was given. */
function clusterAddress (cluster: Cluster, given: string[]): string {
  const masters = cluster.nodes('master').map(addressOf)
  return `cluster ${(masters.length > 0 ? masters : given).join(',')}`
}

/**
 * The subscriber: on one Redis, a connection that does not resubscribe by itself (see
 * `TopicSubscriptions`); on a cluster, one with a sharded subscriber connection per shard,
 * which ioredis opens as channels of that shard's slots are subscribed.
 */
function subscriberOf (redis: RedisConnection): RedisConnection {
  return isCluster(redis)
    ? redis.duplicate([], { shardedSubscribers: true, lazyConnect: true })
    : redis.duplicate({ autoResubscribe: false, lazyConnect: true })
}

function given (nodes: RedisClusterNode[]): string[] {
  return nodes.map((node) => typeof node === 'string' ? node : `${node.host ?? '127.0.0.1'}:${node.port}`)
}

/** The command connection the adapter opens itself, from `url` or `cluster`. */
function commandsOf ({ url, cluster }: RedisConfig): RedisConnection {
  const ioredis = loadIORedis()
  if (cluster !== undefined) return new ioredis.Cluster(cluster.nodes, { ...cluster.options, lazyConnect: true })
  return typeof url === 'string' ? new ioredis.Redis(url, { lazyConnect: true }) : new ioredis.Redis({ ...url, lazyConnect: true })
}

/** The connections `config` asks for, none of them connected yet (`init` connects them). */
export function openConnections (config: RedisConfig): Connections {
  const commands = config.client ?? commandsOf(config)
  const subscriber = subscriberOf(commands)
  return {
    commands,
    subscriber,
    owned: config.client === undefined ? [commands, subscriber] : [subscriber],
    address: isCluster(commands) ? () => clusterAddress(commands, given(config.cluster?.nodes ?? [])) : () => addressOf(commands)
  }
}
