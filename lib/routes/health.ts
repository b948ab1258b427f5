import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AdapterHealth } from '../adapters/adapter'
import type { RealtimeNode } from '../composition/node'

const HealthFields = {
  timestamp: Type.String(),
  uptime: Type.Number({ description: 'seconds since the plugin started' })
}

export const HealthyResponse = Type.Object({ status: Type.Literal('OK'), ...HealthFields })

export const DegradedResponse = Type.Object({
  status: Type.Literal('DEGRADED'),
  ...HealthFields,
  reason: Type.String({ description: '`draining`, the adapter\'s reason, or `health check failed: <error>`' })
})

/** This node's health: draining first (the adapter may be closing with it), then the adapter's. */
async function healthOf (node: RealtimeNode): Promise<AdapterHealth> {
  if (node.session.draining) return { ok: false, reason: 'draining' }
  // A health check that throws is a failed one, not a failed request: the load balancer must see 503.
  return await node.adapter.health().catch((error: unknown) => ({ ok: false, reason: `health check failed: ${(error as Error).message}` }))
}

/** `GET /health`: 200 OK, or 503 DEGRADED with the reason when the server drains or the adapter is unhealthy. */
export function registerHealthRoute (fastify: FastifyInstance, node: RealtimeNode, path: string): void {
  fastify.get(path, { schema: { response: { 200: HealthyResponse, 503: DegradedResponse } } }, async (_request, reply) => {
    const health = await healthOf(node)
    const times = { timestamp: new Date().toISOString(), uptime: (Date.now() - node.startedAt) / 1000 }
    if (health.ok) return { status: 'OK', ...times }
    reply.code(503)
    return { status: 'DEGRADED', ...times, reason: health.reason }
  })
}
