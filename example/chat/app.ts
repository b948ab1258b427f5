import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { join } from 'node:path'
import hauyna, { type HauynaOptions, schemas } from '../../lib/index'
import { servePage } from '../page'

const NotifyBody = Type.Object({
  channel: schemas.Name,
  data: Type.Unknown()
})

const HistoryQuery = Type.Object({
  channel: schemas.Name,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 }))
})

/**
 * Every room keeps its last 100 messages for 5 minutes; typing hints (`typing:<room>`) are not
 * worth keeping; `online` is the presence channel every page joins for its list of users.
 */
const channelPolicies = {
  online: { presence: true },
  'typing:*': {},
  '*': { history: { size: 100, ttl: 300_000 } }
}

/**
 * The chat example: the plugin at /ws (identity from ?userId=), a browser page at /, with
 * a live list of who is online and their status (a presence channel), direct messages and
 * unread counts, a typing indicator declared as an app message type, rooms that keep history
 * (a tab that was offline shows what it missed), session resume, an HTTP route that publishes
 * to a channel with a body validated by a TypeBox route schema, one that reads a room's
 * history, and the live dashboard at /ws/dashboard.
 */
export async function buildChatApp (options: { logger?: boolean, adapter?: HauynaOptions['adapter'] } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  // A demo: anyone may be anyone (?userId=), and /ws/stats and the dashboard name the rooms. A
  // real app sets `authenticate` and guards those routes instead (docs/AUTH.md).
  await app.register(hauyna, {
    path: '/ws',
    adapter: options.adapter,
    allowUnverifiedIdentity: true,
    stats: { detail: true },
    dashboard: true,
    channels: { policies: channelPolicies },
    resume: { window: 30_000 }
  })

  app.events.on('typing', { schema: Type.Object({ room: schemas.Name }) },
    async (conn, msg) => {
      await app.channels.broadcastTo(`typing:${msg.room}`, { typing: true }, { from: conn.userId })
    })

  app.post('/notify', { schema: { body: NotifyBody } }, async (request) => {
    const { channel, data } = request.body as { channel: string, data: unknown }
    return { delivered: await app.channels.broadcastTo(channel, data) }
  })

  // A room's first load: its last messages and where its stream stands, from which the page's
  // subscription continues (`since`), so nothing is missed or shown twice in between.
  app.get('/history', { schema: { querystring: HistoryQuery } }, async (request) => {
    const { channel, limit } = request.query as { channel: string, limit?: number }
    return app.channels.history(channel, { limit })
  })

  app.get('/users', async () => (await app.presence.list()).map((p) => ({ userId: p.userId, status: p.status })))

  await servePage(app, join(__dirname, 'public', 'index.html'))
  return app
}
