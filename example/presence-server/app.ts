import Fastify, { type FastifyInstance } from 'fastify'
import hauyna, { type HauynaOptions } from '../../lib/index'
import { presenceCodec } from './codec'

export interface PresenceServerOptions {
  logger?: boolean
  heartbeat?: { interval: number, timeout: number }
  /** Several processes share presence through it (REDIS_URL, see server.ts). */
  adapter?: HauynaOptions['adapter']
}

/**
 * The presence system of the seed document, on the plugin's public API only: clients connect
 * to `ws://host:PORT?userId=…`, get `CONNECT`, send `PRESENCE_UPDATE`, `HEARTBEAT` (answered
 * `HEARTBEAT_ACK`) and `DISCONNECT`; `/health`, `/metrics` and `/presence` over HTTP.
 */
export async function buildPresenceServer (options: PresenceServerOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  await app.register(hauyna, {
    path: '/',
    adapter: options.adapter,
    codec: presenceCodec,
    heartbeat: options.heartbeat ?? { interval: 15_000, timeout: 45_000 },
    // The document's clients name themselves (?userId=): a demo, deliberately without authenticate.
    allowUnverifiedIdentity: true,
    stats: false
  })

  // The document's rule: a server error closes the connection with 1011.
  app.events.on('error', (_error, connection) => { connection?.close(1011, 'internal server error') })

  app.get('/presence', async () => (await app.presence.list()).map((p) => ({
    userId: p.userId, status: p.status, metadata: p.meta, connections: p.connections.length
  })))
  return app
}
