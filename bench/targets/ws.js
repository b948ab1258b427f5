'use strict'
// The usual raw `ws` baseline (see hand-written.js for what it does with each message).
const { WebSocketServer } = require('ws')
const { handWritten } = require('./hand-written')
const { serve, listenPort } = require('./serve')

serve(async () => {
  const attach = handWritten()
  const wss = new WebSocketServer({ port: listenPort(), host: '127.0.0.1', clientTracking: false })
  wss.on('connection', (socket, request) => {
    attach(socket, new URL(request.url, 'http://x').searchParams.get('userId'))
  })
  await new Promise((resolve) => wss.once('listening', resolve))
  return { port: wss.address().port, close: () => new Promise((resolve) => wss.close(resolve)) }
})
