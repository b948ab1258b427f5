'use strict'
// The loop users write by hand on @fastify/websocket (opt-in with BENCH_TARGETS): the same
// channel and direct-message handling as the raw `ws` baseline, behind Fastify's routing of
// the upgrade. Its distance from raw `ws` is the share of the cost that Fastify itself adds.
const Fastify = require('fastify')
const { serve } = require('./serve')

serve(async () => {
  const app = Fastify({ logger: false })
  await app.register(require('@fastify/websocket'))
  const channels = new Map()
  const users = new Map()
  app.get('/ws', { websocket: true }, (socket, request) => {
    const userId = request.query.userId
    const joined = new Set()
    users.set(userId, socket)
    socket.on('message', (data) => {
      const msg = JSON.parse(data)
      if (msg.type === 'subscribe') {
        let set = channels.get(msg.channel)
        if (!set) channels.set(msg.channel, set = new Set())
        set.add(socket)
        joined.add(msg.channel)
        socket.send(JSON.stringify({ type: 'subscribed', channel: msg.channel, ref: msg.ref }))
      } else if (msg.type === 'publish') {
        const set = channels.get(msg.channel)
        if (!set) return
        const text = JSON.stringify({ type: 'message', channel: msg.channel, from: userId, data: msg.data, ts: new Date().toISOString() })
        for (const s of set) s.send(text)
      } else if (msg.type === 'direct') {
        users.get(msg.to)?.send(JSON.stringify({ type: 'direct', from: userId, data: msg.data, ts: new Date().toISOString() }))
      }
    })
    socket.on('close', () => {
      for (const c of joined) channels.get(c)?.delete(socket)
      if (users.get(userId) === socket) users.delete(userId)
    })
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  return { port: app.server.address().port, close: () => app.close() }
})
