import type { FastifyInstance } from 'fastify'
import type { Runtime } from '../core/runtime'
import { collectStats, StatsSchema } from '../core/stats'
import type { EndpointHooks } from '../options'

/**
 * `GET /ws/stats`: the node's connections, channels, groups, presence and counters. It names
 * users and channels, so the `onRequest`/`preHandler` hooks of the option guard it.
 */
export function registerStatsRoute (fastify: FastifyInstance, runtime: Runtime, options: { path: string } & EndpointHooks): void {
  const { path, onRequest, preHandler } = options
  fastify.get(path, { schema: { response: { 200: StatsSchema } }, onRequest, preHandler }, () => collectStats(runtime))
}
