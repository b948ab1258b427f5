import { Server as HttpServer, type IncomingMessage } from 'node:http'
import { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'

/**
 * Drops a TCP connection that has not sent a complete request head within `ms`. Node's own
 * bound (`headersTimeout`, checked every `connectionsCheckingInterval`) lets a half-open
 * upgrade hold a descriptor for up to 90 s, which a few hundred idle sockets turn into an
 * exhausted descriptor table. Node destroys a socket whose timeout fires with no other
 * `timeout` listener; once a request arrives the server's own socket timeout is restored.
 * Only plain HTTP servers: under TLS the request's socket is not the accepted one.
 * Returns what removes the listeners again.
 */
export function limitHandshakeTime (server: unknown, ms: number): () => void {
  if (!(server instanceof HttpServer) || server instanceof HttpsServer) return () => {}
  const limit = (socket: Socket) => { socket.setTimeout(ms) }
  // `app.injectWS()` emits an upgrade whose request has no socket.
  const restore = (request: IncomingMessage) => { (request.socket as Socket | undefined)?.setTimeout(server.timeout) }
  server.on('connection', limit)
  server.on('request', restore)
  server.on('upgrade', restore)
  return () => {
    server.off('connection', limit)
    server.off('request', restore)
    server.off('upgrade', restore)
  }
}
