import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis'
import { expectError, expectType } from 'tsd'
import { type AdapterHealth, type RedisAdapter, redisAdapter } from '../..'

// An ioredis client and ioredis options fit the adapter's own option types, which name no
// ioredis type so that an app without ioredis still compiles.
const client = new Redis({ lazyConnect: true })
expectType<RedisAdapter>(redisAdapter({ client }))

const options: RedisOptions = { host: '127.0.0.1', port: 6379, retryStrategy: () => 100 }
redisAdapter({ url: options })
redisAdapter({ url: { host: '127.0.0.1', port: 6379, tls: {}, connectTimeout: 1000 }, keyPrefix: 'app:' })
redisAdapter({ url: 'redis://127.0.0.1:6379', nodeTtl: 5000 })

// A Redis Cluster: an app's ioredis Cluster as client, or nodes and ioredis ClusterOptions.
expectType<RedisAdapter>(redisAdapter({ client: new Cluster(['127.0.0.1:7000'], { lazyConnect: true }) }))
const clusterOptions: ClusterOptions = { redisOptions: { password: 'secret', tls: {} }, scaleReads: 'master', slotsRefreshTimeout: 2000 }
redisAdapter({ cluster: { nodes: ['127.0.0.1:7000', { host: '127.0.0.1', port: 7001 }, { port: 7002 }], options: clusterOptions } })
expectError(redisAdapter({ cluster: {} }))
expectError(redisAdapter({ cluster: { nodes: [{ host: '127.0.0.1' }] } }))

expectError(redisAdapter({ client: {} }))
expectError(redisAdapter({ url: { host: 6379 } }))
expectType<number>(redisAdapter({ url: 'redis://127.0.0.1' }).outgoing.dropped)

// A custom adapter names its health type from the package.
declare const health: AdapterHealth
if (!health.ok) expectType<string>(health.reason)
