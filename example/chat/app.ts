import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import hauyna, { type HauynaOptions, schemas } from '../../lib/index'

const NotifyBody = Type.Object({
  channel: schemas.Name,
  data: Type.Unknown()
})

/** The bundle's text, or `undefined` when it has not been built. */
async function clientBundle (): Promise<string | undefined> {
  try {
    return await readFile(require.resolve('fastify-hauyna/client/browser'), 'utf8')
  } catch {
    return undefined
  }
}

/**
 * The chat example: the plugin at /ws (identity from ?userId=), a browser page at /,
 * a typing indicator declared as an app message type, and an HTTP route that publishes
 * to a channel with a body validated by a TypeBox route schema.
 */
export async function buildChatApp (options: { logger?: boolean, adapter?: HauynaOptions['adapter'] } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  // A demo: anyone may be anyone (?userId=), and /ws/stats names the rooms. A real app sets
  // `authenticate` and guards the stats route instead (docs/AUTH.md).
  await app.register(hauyna, { path: '/ws', adapter: options.adapter, allowUnverifiedIdentity: true, stats: { detail: true } })

  app.events.on('typing', { schema: Type.Object({ room: schemas.Name }) },
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

  // The client SDK's browser bundle (`npm start` builds it first), found through the package's own
  // exports as an app depending on fastify-hauyna would find it.
  app.get('/hauyna-client.js', async (_request, reply) => {
    const bundle = await clientBundle()
    if (bundle === undefined) return reply.code(503).send({ error: 'the client bundle is not built: run npm run build' })
    return reply.type('text/javascript; charset=utf-8').send(bundle)
  })
  return app
}
