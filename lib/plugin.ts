import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { WebSocket } from 'ws'
import { warnUnverifiedIdentity } from './connection/identity'
import { builtinTypes } from './core/builtin-handlers'
import { checkEndpointMessages, type EndpointOptions, resolveEndpoint } from './core/endpoint'
import { HeartbeatMonitor } from './core/heartbeat'
import { type NodeProbe, probe } from './composition/probe'
import { Runtime } from './core/runtime'
import { drain } from './core/shutdown'
import { collectStats, type Stats } from './core/stats'
import { type HauynaOptions, resolveOptions } from './options'
import { registerHealthRoute } from './routes/health'
import { registerMetrics } from './routes/metrics'
import { registerStatsRoute } from './routes/stats'
import { registerEndpointRoute } from './routes/websocket'
import { limitHandshakeTime } from './transport/handshake-timeout'

/** What `fastify.hauyna` exposes besides the service decorators. */
export interface HauynaInfo {
  readonly nodeId: string
  /** The node's stats with every detail (channel names, meta keys): server-side, whatever `stats.detail` says. */
  stats (): Promise<Stats>
}

// Keyed by the `fastify.hauyna` object: one per registration, seen from every child context.
const runtimes = new WeakMap<HauynaInfo, Runtime>()

/**
 * The sizes of the node's internal maps behind `app`: for this package's tests only, which
 * would otherwise reach into private fields. Not exported by the package. @internal
 */
export function internalsOf (app: FastifyInstance): NodeProbe {
  const runtime = runtimes.get(app.hauyna)
  if (runtime === undefined) throw new Error('fastify-hauyna is not registered on this instance')
  return probe(runtime)
}

// The socket's own 'error' listener (lifecycle) reports; this only makes sure it is gone.
function terminateOnError (_error: Error, socket: WebSocket): void {
  socket.terminate()
}

async function registerWebsocket (fastify: FastifyInstance, runtime: Runtime): Promise<void> {
  if (fastify.hasDecorator('websocketServer')) return
  await fastify.register(websocket, {
    errorHandler: terminateOnError,
    // autoPong off: lifecycle answers pings itself, once they pass the connection's rate limit.
    options: { maxPayload: runtime.options.maxPayload, clientTracking: false, autoPong: false, ...runtime.options.websocket }
  })
}

async function hauyna (fastify: FastifyInstance, opts: HauynaOptions): Promise<void> {
  const options = resolveOptions(opts)
  const runtime = new Runtime(options, fastify.log)
  await runtime.start()
  await registerWebsocket(fastify, runtime)
  const unlimitHandshakes = options.handshakeTimeout > 0 ? limitHandshakeTime(fastify.server, options.handshakeTimeout) : undefined
  // Before the routes, so fastify-metrics times /ws/stats, /health and the app's later routes.
  if (options.metrics !== false) await registerMetrics(fastify, runtime, options.metrics.path)

  fastify.decorate('channels', runtime.channels)
  fastify.decorate('presence', runtime.presence)
  fastify.decorate('groups', runtime.groups)
  fastify.decorate('events', runtime.events)
  fastify.decorate('connections', runtime.connections)
  const info: HauynaInfo = { nodeId: runtime.nodeId, stats: () => collectStats(runtime, true) }
  runtimes.set(info, runtime)
  fastify.decorate('hauyna', info)
  fastify.decorateRequest('hauynaIdentity', null)

  fastify.decorate('realtime', function realtime (this: FastifyInstance, path: string, endpointOptions: EndpointOptions = {}) {
    const { schema, onRequest, preValidation, preHandler } = endpointOptions
    registerEndpointRoute(this, runtime, resolveEndpoint(path, endpointOptions, options), { schema, onRequest, preValidation, preHandler })
  })
  if (options.path !== false) registerEndpointRoute(fastify, runtime, resolveEndpoint(options.path, {}, options))
  fastify.addHook('onReady', async () => {
    checkEndpointMessages(runtime.endpoints, (type) => Object.hasOwn(builtinTypes, type) || runtime.events.messageTypes.has(type))
    warnUnverifiedIdentity(fastify.log, runtime.endpoints, options.allowUnverifiedIdentity)
  })
  if (options.stats !== false) registerStatsRoute(fastify, runtime, options.stats)
  if (options.health !== false) registerHealthRoute(fastify, runtime, options.health.path)

  const heartbeat = new HeartbeatMonitor(runtime)
  heartbeat.start()
  fastify.addHook('preClose', async () => {
    heartbeat.stop()
    await drain(runtime)
  })
  fastify.addHook('onClose', async () => {
    unlimitHandshakes?.()
    await runtime.adapter.close()
  })
}

export default fp(hauyna, { fastify: '5.x', name: 'fastify-hauyna' })
