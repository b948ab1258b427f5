import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { RealtimeNode } from '../composition/node'

export const HealthResponse = Type.Object({
  status: Type.Union([Type.Literal('OK'), Type.Literal('DEGRADED')]),
  timestamp: Type.String(),
  uptime: Type.Number({ description: 'seconds since the plugin started' })
})

/** `GET /health`: 200 OK, or 503 DEGRADED when the adapter is unhealthy or the server drains. */
export function registerHealthRoute (fastify: FastifyInstance, node: RealtimeNode, path: string): void {
  fastify.get(path, { schema: { response: { 200: HealthResponse, 503: HealthResponse } } }, async (_request, reply) => {
    const healthy = !node.session.draining && await node.adapter.healthy().catch(() => false)
    reply.code(healthy ? 200 : 503)
    return {
      status: healthy ? 'OK' : 'DEGRADED',
      timestamp: new Date().toISOString(),
      uptime: (Date.now() - node.startedAt) / 1000
    }
  })
}
