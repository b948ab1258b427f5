import Fastify, { type FastifyInstance } from 'fastify'
import hauyna, { type HauynaOptions, type PresenceChange } from '../../lib/index'
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
 * `HEARTBEAT_ACK`) and `DISCONNECT`; every other user hears of a connect, a status change and a
 * disconnect as a `PRESENCE_UPDATE`; `/health`, `/metrics` and `/presence` over HTTP.
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

  app.events.on('presence_change', (change) => tellOthers(app, change))

  app.get('/presence', async () => (await app.presence.list()).map((p) => ({
    userId: p.userId, status: p.status, metadata: p.meta, connections: p.connections.length
  })))
  return app
}

/**
 * The document's `PRESENCE_UPDATE`, with whose it is, to every present user but its own: a
 * direct message per user (the codec sends a server's direct data as it is), so it reaches
 * them on any node. A user who left is `offline`, a status the document's clients show as gone.
 */
async function tellOthers (app: FastifyInstance, { event, userId, presence }: PresenceChange): Promise<void> {
  const update = {
    type: 'PRESENCE_UPDATE',
    userId,
    payload: { status: event === 'leave' ? 'offline' : presence.status, metadata: presence.meta },
    timestamp: new Date().toISOString()
  }
  for (const other of await app.presence.list()) {
    if (other.userId !== userId) await app.connections.sendTo(other.userId, update)
  }
}
