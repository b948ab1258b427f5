/*
 * The adapter's public option types. They name no ioredis type, so that the plugin's types
 * compile in an app that does not install ioredis (an optional peer dependency); an ioredis
 * `Redis`, `Cluster`, `RedisOptions` and `ClusterOptions` fit them.
 */

/** What the outgoing queue holds now and has dropped so far. */
export interface OutgoingStats {
  messages: number
  bytes: number
  /** Cross-node publishes that never reached Redis: refused while it was down or the queue full, or lost in flight. */
  dropped: number
}

export interface RedisAdapterOptions {
  /** A `redis://` URL, or ioredis options, for the connections the adapter opens itself. */
  url?: string | RedisConnectionOptions
  /** The app's own ioredis connection (`Redis`, or `Cluster` for a Redis Cluster): used for commands and duplicated for subscribing; never closed by the adapter. */
  client?: RedisClient
  /** A Redis Cluster (Redis 7) for the connections the adapter opens itself: topics on sharded pub/sub, spread over the shards. */
  cluster?: RedisClusterConfig
  /** Prefix of every key and pub/sub channel the adapter uses (`'hauyna:'`). */
  keyPrefix?: string
  /** Milliseconds a node counts as alive without a heartbeat; after that, a live node purges its presence entries and announces its users' leaves (6000: within 8 s of a crash). */
  nodeTtl?: number
  /** Cross-node publishes sent to Redis and not yet answered; more are dropped (10000). */
  maxOutgoingMessages?: number
  /** Their bytes; more are dropped (8 MiB). */
  maxOutgoingBytes?: number
}

/** ioredis connection options (`RedisOptions`); the common ones are named here. */
export interface RedisConnectionOptions {
  host?: string
  port?: number
  path?: string
  username?: string
  password?: string
  db?: number
  tls?: object
  // `any`, not `unknown`: only an `any` index signature accepts ioredis's RedisOptions interfaces.
  [option: string]: any
}

/** A node to reach a Redis Cluster by: `'127.0.0.1:7000'`, or `{ host, port }`. */
export type RedisClusterNode = string | { host?: string, port: number }

export interface RedisClusterConfig {
  /** Nodes of the cluster to start from; ioredis discovers the others from any one of them. */
  nodes: RedisClusterNode[]
  /** ioredis `ClusterOptions`, such as `redisOptions` for every node's connection (password, TLS). */
  options?: RedisClusterOptions
}

/** ioredis cluster options (`ClusterOptions`); the one most set is named here. */
export interface RedisClusterOptions {
  redisOptions?: RedisConnectionOptions
  // `any`, as in RedisConnectionOptions.
  [option: string]: any
}

/** An ioredis `Redis` or `Cluster` instance, described by what the adapter checks on registration. */
export interface RedisClient {
  duplicate: (...args: any[]) => unknown
  evalsha: (...args: any[]) => unknown
  publish: (...args: any[]) => unknown
  readonly options: { keyPrefix?: string }
}
