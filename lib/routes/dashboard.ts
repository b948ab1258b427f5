import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { RealtimeNode } from '../composition/node'
import type { DashboardOptions } from '../config/options'
import { StatsFeed } from '../stats/feed'

/**
 * The live dashboard at one path: a plain GET gets the page (shipped beside this file), an
 * upgrade gets the stats feed, so that one `onRequest` guards both. The feed closes on
 * `fastify.close()`; it is returned for `internalsOf`.
 */
export async function registerDashboardRoute (fastify: FastifyInstance, node: RealtimeNode, options: DashboardOptions): Promise<StatsFeed> {
  const page = await readFile(join(__dirname, 'dashboard.html'), 'utf8')
  const feed = new StatsFeed(node, options, fastify.log)
  fastify.route({
    method: 'GET',
    url: options.path,
    onRequest: options.onRequest,
    handler: async (_request, reply: FastifyReply) => reply.type('text/html; charset=utf-8').header('cache-control', 'no-store').send(page),
    // The page only listens: anything it sends is ignored.
    wsHandler: (socket) => feed.add(socket)
  })
  fastify.addHook('preClose', async () => feed.close())
  return feed
}
