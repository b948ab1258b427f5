'use strict'
// The hand-written handling shared by the raw `ws` baseline and the @fastify/websocket loop:
// each publish serialized once and the same buffer sent to every subscriber; a direct
// message goes to the one socket of its user (the load generator opens one per user).
function handWritten () {
  const channels = new Map()
  const users = new Map()
  return function attach (socket, userId) {
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
        const frame = Buffer.from(JSON.stringify({ type: 'message', channel: msg.channel, from: userId, data: msg.data, ts: new Date().toISOString() }))
        for (const s of set) s.send(frame, { binary: false })
      } else if (msg.type === 'direct') {
        users.get(msg.to)?.send(JSON.stringify({ type: 'direct', from: userId, data: msg.data, ts: new Date().toISOString() }))
      }
    })
    socket.on('close', () => {
      for (const c of joined) channels.get(c)?.delete(socket)
      if (users.get(userId) === socket) users.delete(userId)
    })
  }
}
module.exports = { handWritten }
