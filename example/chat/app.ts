import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import hauyna from '../../lib/index'

const NotifyBody = Type.Object({
  channel: Type.String({ minLength: 1, maxLength: 200 }),
  data: Type.Unknown()
})

/**
 * The chat example: the plugin at /ws (identity from ?userId=), a browser page at /,
 * a typing indicator declared as an app message type, and an HTTP route that publishes
 * to a channel with a body validated by a TypeBox route schema.
 */
export async function buildChatApp (logger: boolean = true): Promise<FastifyInstance> {
  const app = Fastify({ logger })
  await app.register(hauyna, { path: '/ws' })

  app.events.on('typing', { schema: Type.Object({ room: Type.String({ minLength: 1, maxLength: 200 }) }) },
    async (conn, msg) => {
      await app.channels.broadcastTo(msg.room, { typing: true }, { from: conn.userId })
    })

  app.post('/notify', { schema: { body: NotifyBody } }, async (request) => {
    const { channel, data } = request.body as { channel: string, data: unknown }
    return { delivered: await app.channels.broadcastTo(channel, data) }
  })

  app.get('/users', async () => (await app.presence.list()).map((p) => ({ userId: p.userId, status: p.status })))

  const page = await readFile(join(__dirname, 'public', 'index.html'), 'utf8')
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page))
  return app
}
