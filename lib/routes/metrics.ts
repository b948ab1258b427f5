import type { FastifyInstance } from 'fastify'
import fastifyMetrics from 'fastify-metrics'
import promClient, { type Registry } from 'prom-client'
import type { RealtimeNode } from '../composition/node'
import { errors } from '../errors'
import { createWsMetrics } from '../metrics/ws-metrics'

type PromClient = typeof promClient

/**
 * Registers fastify-metrics (HTTP route metrics, Node.js process metrics, the endpoint) on
 * a registry of this instance's own: prom-client's global registry would make a second
 * Fastify instance in the process fail on duplicate metric names.
 */
async function registerFastifyMetrics (fastify: FastifyInstance, path: string): Promise<void> {
  const registry = new promClient.Registry()
  const registers = [registry]
  await fastify.register(fastifyMetrics, {
    endpoint: path,
    promClient: { ...promClient, register: registry },
    defaultMetrics: { enabled: true, register: registry },
    routeMetrics: {
      enabled: true,
      overrides: { histogram: { registers }, summary: { registers } }
    }
  })
}

/** The app's own fastify-metrics, if it registered one before this plugin. */
function existingClient (fastify: FastifyInstance): PromClient | undefined {
  if (!fastify.hasDecorator('metrics')) return undefined
  const client = (fastify.metrics as { client?: PromClient } | undefined)?.client
  if (typeof client?.register?.registerMetric !== 'function') {
    throw new errors.InvalidOption('metrics', 'the instance has a "metrics" decorator that is not fastify-metrics; pass metrics: false')
  }
  return client
}

/**
 * `GET /metrics` (Prometheus text format) with the `ws_*` metrics. An app that registered
 * fastify-metrics itself keeps its endpoint and registry; the metrics are added to it, and
 * taken out again when the instance closes.
 */
export async function registerMetrics (fastify: FastifyInstance, node: RealtimeNode, path: string): Promise<void> {
  let client = existingClient(fastify)
  if (client === undefined) {
    await registerFastifyMetrics(fastify, path)
    client = fastify.metrics.client
  }
  const registry: Registry = client.register
  const metrics = createWsMetrics(client, registry, node)
  node.meter.attach(metrics.telemetry)
  fastify.addHook('onClose', async () => metrics.remove())
}
