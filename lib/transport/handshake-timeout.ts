import { Server as HttpServer, type IncomingMessage } from 'node:http'
import { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'

/** Sockets still owing their request head, by when they were accepted: accept order is age order. */
type Waiting = Map<Socket, number>

/** Drops the sockets accepted before `cutoff` that have sent no request head; forgets closed ones. */
function dropLate (waiting: Waiting, cutoff: number): void {
  for (const [socket, acceptedAt] of waiting) {
    if (socket.destroyed) {
      waiting.delete(socket)
    } else if (acceptedAt <= cutoff) {
      waiting.delete(socket)
      socket.destroy()
    } else {
      // Every later socket is younger still.
      return
    }
  }
}

/**
 * Drops a TCP connection that has not sent a complete request head within `ms` (at most a
 * quarter more: sockets are checked every `ms / 4`). Node's own bound (`headersTimeout`,
 * checked every `connectionsCheckingInterval`) lets a half-open upgrade hold a descriptor for
 * up to 90 s, which a few hundred idle sockets turn into an exhausted descriptor table. One
 * sweep for every waiting socket, not a timer each: in a reconnect storm a timer per socket
 * is created and cancelled thousands of times a second. Only plain HTTP servers: under TLS
 * the request's socket is not the accepted one. Returns what stops it again.
 */
export function limitHandshakeTime (server: unknown, ms: number): () => void {
  if (!(server instanceof HttpServer) || server instanceof HttpsServer) return () => {}
  const waiting: Waiting = new Map()
  const accepted = (socket: Socket) => { waiting.set(socket, Date.now()) }
  // `app.injectWS()` emits an upgrade whose request has no socket.
  const arrived = (request: IncomingMessage) => { if (request.socket !== undefined) waiting.delete(request.socket as Socket) }
  const sweep = setInterval(() => { dropLate(waiting, Date.now() - ms) }, Math.max(1, Math.ceil(ms / 4))).unref()
  server.on('connection', accepted)
  server.on('request', arrived)
  server.on('upgrade', arrived)
  return () => {
    clearInterval(sweep)
    waiting.clear()
    server.off('connection', accepted)
    server.off('request', arrived)
    server.off('upgrade', arrived)
  }
}
