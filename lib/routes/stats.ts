import type { FastifyInstance } from 'fastify'
import type { Runtime } from '../core/runtime'
import { collectStats, StatsSchema } from '../core/stats'

/** `GET /ws/stats`: the node's connections, channels, groups, presence and counters. */
export function registerStatsRoute (fastify: FastifyInstance, runtime: Runtime, path: string): void {
  fastify.get(path, { schema: { response: { 200: StatsSchema } } }, () => collectStats(runtime))
}
