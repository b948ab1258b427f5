'use strict'
// The loop users write by hand on @fastify/websocket (opt-in with BENCH_TARGETS): the raw
// `ws` baseline's handling (hand-written.js) behind Fastify's routing of the upgrade. Its
// distance from raw `ws` is the share of the cost that Fastify itself adds.
const Fastify = require('fastify')
const { handWritten } = require('./hand-written')
const { serve, listenPort } = require('./serve')

serve(async () => {
  const app = Fastify({ logger: false })
  await app.register(require('@fastify/websocket'))
  const attach = handWritten()
  app.get('/ws', { websocket: true }, (socket, request) => attach(socket, request.query.userId))
  await app.listen({ port: listenPort(), host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
})
