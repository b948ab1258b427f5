'use strict'
// Socket.IO 4 with its own rooms, as its users run it: default options except the WebSocket
// transport only (the load generator speaks Engine.IO over a bare WebSocket, never HTTP
// long-polling) and per-message deflate stated off, as it is in the other two targets.
// Events mirror the protocol the others speak: join → joined, publish → message to the room
// (the sender too, like a hauyna subscriber with echo), direct → to one socket.
const { createServer } = require('node:http')
const { Server } = require('socket.io')
const { serve, listenPort } = require('./serve')

serve(async () => {
  const httpServer = createServer()
  const io = new Server(httpServer, { transports: ['websocket'], perMessageDeflate: false })
  // The load generator opens one connection per user, so a user id names one socket.
  const sockets = new Map()
  io.on('connection', (socket) => {
    const userId = socket.handshake.query.userId
    sockets.set(userId, socket.id)
    socket.on('join', (room) => {
      socket.join(room)
      socket.emit('joined', { channel: room })
    })
    socket.on('publish', ({ room, data }) => {
      io.to(room).emit('message', { channel: room, from: userId, data, ts: new Date().toISOString() })
    })
    socket.on('direct', ({ to, data }) => {
      const id = sockets.get(to)
      if (id) io.to(id).emit('direct', { from: userId, data, ts: new Date().toISOString() })
    })
    socket.on('disconnect', () => { if (sockets.get(userId) === socket.id) sockets.delete(userId) })
  })
  await new Promise((resolve) => httpServer.listen(listenPort(), '127.0.0.1', resolve))
  return { port: httpServer.address().port, close: () => new Promise((resolve) => io.close(() => resolve())) }
})
