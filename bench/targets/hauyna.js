'use strict'
// fastify-hauyna with default options, as a user runs it. Only the publisher's rate limit is
// raised: the default (50/s per connection) would throttle the load generator's publisher.
// Channels named presence:* have presence on, for the presence scenarios. With --history, every
// other channel keeps history (100 messages, 5 minutes), for the cost of history. With --auth,
// `authenticate` waits 100 ms before it answers (a token or session store under load), so that
// handshakes overlap as they do in a real app; --cap is --auth with at most 256 upgrades handled
// at once (maxPendingUpgrades): the two show the cap in the reconnect storm. With
// --heartbeat=MS, the heartbeat pings every MS ms instead of 30 s, for scale's idle window.
// Its calls time presence.list(), one stats collection and, since the last such call, the
// heartbeat's rounds.
const Fastify = require('fastify')
const hauyna = require('../../dist/lib/index.js')
const { HeartbeatMonitor } = require('../../dist/lib/session/heartbeat.js')
const { timeSweepWork } = require('../sweep-timer')
const { serve, option, listenPort, historyPolicies } = require('./serve')

const AUTH_MS = 100
const slowAuth = process.argv.includes('--auth') || process.argv.includes('--cap')

/** An identity from `?userId=`, answered after AUTH_MS, as a store lookup would be. */
async function authenticate (request) {
  await new Promise((resolve) => setTimeout(resolve, AUTH_MS))
  return { id: request.query.userId }
}

serve(async () => {
  const sweeps = timeSweepWork(HeartbeatMonitor)
  const app = Fastify({ logger: false })
  await app.register(hauyna, {
    rateLimit: { burst: 10_000, perSecond: 100_000 },
    maxConnectionsPerUser: 100_000,
    maxPendingUpgrades: process.argv.includes('--cap') ? 256 : 0,
    ...(slowAuth && { authenticate }),
    ...(option('heartbeat') && { heartbeat: { interval: Number(option('heartbeat')) } }),
    channels: { policies: { 'presence:*': { presence: true }, ...historyPolicies() } }
  })
  await app.listen({ port: listenPort(), host: '127.0.0.1' })
  const presenceList = async () => {
    const started = performance.now()
    const users = (await app.presence.list()).length
    return { ms: performance.now() - started, users }
  }
  const stats = async () => {
    const started = performance.now()
    const { connections } = await app.hauyna.stats()
    return { ms: performance.now() - started, connections }
  }
  return { port: app.server.address().port, close: () => app.close(), calls: { presenceList, stats, sweep: () => rounds(sweeps) } }
})

/** The heartbeat rounds timed since the last call (wall-clock and CPU ms each; the longest slice), forgotten then. */
function rounds (sweeps) {
  const result = { rounds: [...sweeps.rounds], roundsCpu: [...sweeps.roundsCpu], sliceMaxMs: Math.max(0, ...sweeps.wall) }
  for (const list of Object.values(sweeps)) list.length = 0
  return result
}
