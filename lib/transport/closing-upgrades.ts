import type { Duplex } from 'node:stream'

interface UpgradeSource {
  on (event: 'upgrade', listener: (request: unknown, socket: Duplex) => void): unknown
  off (event: 'upgrade', listener: (request: unknown, socket: Duplex) => void): unknown
}

function endWithPeer (_request: unknown, socket: Duplex): void {
  socket.once('end', () => socket.destroy())
}

/**
 * While Fastify closes, it answers an upgrade 503 itself, before any hook, so
 * `@fastify/websocket`'s `onResponse` (which destroys a refused upgrade's socket) never runs:
 * the socket, half-open once the client hangs up, would hold `server.close()` for ever. This
 * closes such a socket when its peer does; an upgrade that goes on is unaffected (`ws` ends its
 * socket with the peer's too). Returns what removes the listener again.
 */
export function endUpgradesWithPeer (server: UpgradeSource): () => void {
  server.on('upgrade', endWithPeer)
  return () => { server.off('upgrade', endWithPeer) }
}
