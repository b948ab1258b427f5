import type { FastifyInstance } from 'fastify'
import type { Runtime } from '../core/runtime'
import { collectStats, StatsSchema } from '../core/stats'
import type { StatsOptions } from '../options'

/**
 * `GET /ws/stats`: the node's connections, channels, groups, presence and counters. Counts
 * only unless `detail` (on by default once the option's `onRequest`/`preHandler` guard it):
 * channel names such as `private:bob` name users.
 */
export function registerStatsRoute (fastify: FastifyInstance, runtime: Runtime, options: StatsOptions): void {
  const { path, detail, onRequest, preHandler } = options
  fastify.get(path, { schema: { response: { 200: StatsSchema } }, onRequest, preHandler }, () => collectStats(runtime, detail))
}
