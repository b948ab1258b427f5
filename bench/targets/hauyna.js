'use strict'
// fastify-hauyna with default options, as a user runs it. Only the publisher's rate limit is
// raised: the default (50/s per connection) would throttle the load generator's publisher.
// Channels named presence:* have presence on, for the presence scenarios. With --history, every
// other channel keeps history (100 messages, 5 minutes), for the cost of history. With --cap, at
// most 256 upgrades are handled at once (maxPendingUpgrades), for the reconnect storm.
const Fastify = require('fastify')
const hauyna = require('../../dist/lib/index.js')
const { serve, listenPort, historyPolicies } = require('./serve')

serve(async () => {
  const app = Fastify({ logger: false })
  await app.register(hauyna, {
    rateLimit: { burst: 10_000, perSecond: 100_000 },
    maxConnectionsPerUser: 100_000,
    maxPendingUpgrades: process.argv.includes('--cap') ? 256 : 0,
    channels: { policies: { 'presence:*': { presence: true }, ...historyPolicies() } }
  })
  await app.listen({ port: listenPort(), host: '127.0.0.1' })
  const presenceList = async () => {
    const started = performance.now()
    const users = (await app.presence.list()).length
    return { ms: performance.now() - started, users }
  }
  return { port: app.server.address().port, close: () => app.close(), calls: { presenceList } }
})
