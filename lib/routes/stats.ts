import type { FastifyInstance } from 'fastify'
import type { RealtimeNode } from '../composition/node'
import { collectStats } from '../stats/collect'
import { StatsSchema } from '../stats/stats'
import type { StatsOptions } from '../config/options'

/**
 * `GET /ws/stats`: the node's connections, channels, groups, presence and counters. Counts
 * only unless `detail` (on by default once the option's `onRequest`/`preHandler` guard it):
 * channel names such as `private:bob` name users.
 */
export function registerStatsRoute (fastify: FastifyInstance, node: RealtimeNode, options: StatsOptions): void {
  const { path, detail, onRequest, preHandler } = options
  fastify.get(path, { schema: { response: { 200: StatsSchema } }, onRequest, preHandler }, () => collectStats(node, detail))
}
