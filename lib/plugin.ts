import websocket from '@fastify/websocket'
import type { FastifyInstance } from 'fastify'
import fp from 'fastify-plugin'
import type { WebSocket } from 'ws'
import { warnUnverifiedIdentity } from './connection/identity'
import { builtinTypes } from './session/builtin-handlers'
import { checkEndpointMessages, type EndpointOptions, resolveRealtimeEndpoint } from './config/endpoint-options'
import { type NodeProbe, probe } from './composition/probe'
import { RealtimeNode } from './composition/node'
import { collectStats } from './stats/collect'
import type { StatsFeed } from './stats/feed'
import type { Stats } from './stats/stats'
import { type DrainOptions, type HauynaOptions, resolveDrain, resolveOptions } from './config/options'
import { registerAsyncApiRoute } from './routes/asyncapi'
import { registerDashboardRoute } from './routes/dashboard'
import { registerHealthRoute } from './routes/health'
import { registerMetrics } from './routes/metrics'
import { registerStatsRoute } from './routes/stats'
import { UpgradeGate } from './routes/upgrade-gate'
import { registerEndpointRoute } from './routes/websocket'
import { endUpgradesWithPeer } from './transport/closing-upgrades'
import { limitHandshakeTime } from './transport/handshake-timeout'

/** What `fastify.hauyna` exposes besides the service decorators. */
export interface HauynaInfo {
  readonly nodeId: string
  /** The node's stats with every detail (channel names, meta keys): server-side, whatever `stats.detail` says. */
  stats (): Promise<Stats>
  /**
   * Drains the node for a rolling deploy: new upgrades are answered 503, every client is told
   * to reconnect elsewhere and closed with 1001 at a random time within `timeout` ms (default:
   * the `drain.timeout` option). Resolves when every connection is gone.
   */
  drain (options?: DrainOptions): Promise<void>
}

// Keyed by the `fastify.hauyna` object: one per registration, seen from every child context.
const nodes = new WeakMap<HauynaInfo, RealtimeNode>()
const feeds = new WeakMap<HauynaInfo, StatsFeed>()

/** What `internalsOf` shows: the node's maps, and whether the dashboard's sampling timer runs. @internal */
export interface Internals extends NodeProbe {
  readonly dashboardSampling: boolean
}

/**
 * The sizes of the node's internal maps behind `app`: for this package's tests only, which
 * would otherwise reach into private fields. Not exported by the package. @internal
 */
export function internalsOf (app: FastifyInstance): Internals {
  const node = nodes.get(app.hauyna)
  if (node === undefined) throw new Error('fastify-hauyna is not registered on this instance')
  return { ...probe(node), dashboardSampling: feeds.get(app.hauyna)?.running ?? false }
}

// The socket's own 'error' listener (lifecycle) reports; this only makes sure it is gone.
function terminateOnError (_error: Error, socket: WebSocket): void {
  socket.terminate()
}

async function registerWebsocket (fastify: FastifyInstance, node: RealtimeNode): Promise<void> {
  if (fastify.hasDecorator('websocketServer')) return
  await fastify.register(websocket, {
    errorHandler: terminateOnError,
    // autoPong off: lifecycle answers pings itself, once they pass the connection's rate limit.
    options: { maxPayload: node.options.maxPayload, clientTracking: false, autoPong: false, ...node.options.websocket }
  })
}

/**
 * With `drain.timeout`, `close()` hands the clients off before the shutdown. Called before
 * @fastify/websocket is registered, so that this preClose runs before its own, which stops
 * taking upgrades: a late upgrade during the hand-off is answered (Fastify's 503 while
 * closing) instead of left hanging.
 */
function handOffOnClose (fastify: FastifyInstance, node: RealtimeNode): void {
  const { timeout } = node.options.drain
  if (timeout === 0) return
  fastify.addHook('preClose', async () => {
    const stopEnding = endUpgradesWithPeer(fastify.server)
    try {
      await node.session.handOff(timeout)
    } finally {
      stopEnding()
    }
  })
}

async function hauyna (fastify: FastifyInstance, opts: HauynaOptions): Promise<void> {
  const options = resolveOptions(opts)
  const node = new RealtimeNode(options, fastify.log)
  await node.start()
  handOffOnClose(fastify, node)
  await registerWebsocket(fastify, node)
  const unlimitHandshakes = options.handshakeTimeout > 0 ? limitHandshakeTime(fastify.server, options.handshakeTimeout) : undefined
  // Before the routes, so fastify-metrics times /ws/stats, /health and the app's later routes.
  if (options.metrics !== false) await registerMetrics(fastify, node, options.metrics.path)

  fastify.decorate('channels', node.channels)
  fastify.decorate('presence', node.presence)
  fastify.decorate('groups', node.groups)
  fastify.decorate('events', node.events)
  fastify.decorate('connections', node.connections)
  const info: HauynaInfo = {
    nodeId: node.nodeId,
    stats: () => collectStats(node, true),
    // async: an invalid argument rejects the promise rather than throwing.
    drain: async (drainOptions) => { await node.session.handOff(resolveDrain(drainOptions, options.drain.timeout).timeout) }
  }
  nodes.set(info, node)
  fastify.decorate('hauyna', info)
  fastify.decorateRequest('hauynaIdentity', null)
  fastify.decorateRequest('hauynaUpgrade', null)
  const gate = new UpgradeGate(options.maxPendingUpgrades, options.upgradeRetryAfter, {
    draining: () => node.session.draining,
    refused: (code) => node.meter.refused(code)
  })

  fastify.decorate('realtime', function realtime (this: FastifyInstance, path: string, endpointOptions: EndpointOptions = {}) {
    const { schema, onRequest, preValidation, preHandler } = endpointOptions
    registerEndpointRoute(this, node, resolveRealtimeEndpoint(path, endpointOptions, options), gate, { schema, onRequest, preValidation, preHandler })
  })
  if (options.path !== false) registerEndpointRoute(fastify, node, resolveRealtimeEndpoint(options.path, {}, options), gate)
  fastify.addHook('onReady', async () => {
    checkEndpointMessages(node.endpoints, (type) => Object.hasOwn(builtinTypes, type) || node.events.messageTypes.has(type))
    warnUnverifiedIdentity(fastify.log, node.endpoints, options.allowUnverifiedIdentity)
  })
  if (options.stats !== false) registerStatsRoute(fastify, node, options.stats)
  if (options.asyncapi !== false) registerAsyncApiRoute(fastify, node, options.asyncapi)
  if (options.health !== false) registerHealthRoute(fastify, node, options.health.path)
  if (options.dashboard !== false) feeds.set(info, await registerDashboardRoute(fastify, node, options.dashboard))

  node.session.heartbeat.start()
  fastify.addHook('preClose', async () => {
    node.session.heartbeat.stop()
    await node.session.drain()
  })
  fastify.addHook('onClose', async () => {
    unlimitHandshakes?.()
    await node.adapter.close()
  })
}

export default fp(hauyna, { fastify: '5.x', name: 'fastify-hauyna' })
