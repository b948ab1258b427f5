'use strict'
// fastify-hauyna on the Redis adapter: run.js starts two of these, one node for the
// publisher and one for the subscribers, so every delivery crosses Redis. The key prefix is
// the run's own (argv[2]), so the two nodes of a run share it and no run sees another's.
const Fastify = require('fastify')
const hauyna = require('../../dist/lib/index.js')
const { serve, historyPolicies } = require('./serve')

serve(async () => {
  const app = Fastify({ logger: false })
  await app.register(hauyna, {
    adapter: hauyna.redisAdapter({ url: process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: `bench:${process.argv[2]}:` }),
    rateLimit: { burst: 10_000, perSecond: 100_000 },
    maxConnectionsPerUser: 100_000,
    channels: { policies: historyPolicies() }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
})
