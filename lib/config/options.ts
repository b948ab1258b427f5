import type { onRequestHookHandler, preHandlerHookHandler } from 'fastify'
import type { WebsocketPluginOptions } from '@fastify/websocket'
import type { Adapter } from '../adapters/adapter'
import { memoryAdapter } from '../adapters/memory'
import type { Authenticate } from '../connection/connection'
import type { InboxLimits, RateLimitOptions } from '../connection/limits'
import type { CleanupOptions } from '../util/cleanup-types'
import type { ChannelPolicy, PermissionRule } from '../services/policies'
import { resolveHistory } from '../services/history-policy'
import { boolean, fail, integer, object, routeHooks, routePath, text } from '../util/option-checks'
import type { Codec } from '../protocol/codec'
import { isValidStatus } from '../protocol/names'

export interface HeartbeatOptions {
  /** Milliseconds between protocol pings. */
  interval: number
  /** Milliseconds without a pong or any frame after which the connection is terminated (4000). */
  timeout: number
}

/** Route hooks that guard an endpoint, as in Fastify's route options (an auth check, say). */
export interface EndpointHooks {
  onRequest?: onRequestHookHandler | onRequestHookHandler[]
  preHandler?: preHandlerHookHandler | preHandlerHookHandler[]
}


export interface HauynaOptions {
  /** The default endpoint's path; `false` for none (endpoints declared with `fastify.realtime()` only). */
  path?: string | false
  adapter?: Adapter
  authenticate?: Authenticate
  allowAnonymous?: boolean
  /** Without `authenticate`, `?userId=` is taken on trust: `true` says so on purpose and silences the startup warning. */
  allowUnverifiedIdentity?: boolean
  heartbeat?: Partial<HeartbeatOptions>
  idleTimeout?: number
  maxPayload?: number
  maxMetaBytes?: number
  rateLimit?: Partial<RateLimitOptions> | false
  maxConnectionsPerUser?: number
  maxSubscriptionsPerConnection?: number
  maxBufferedBytes?: number
  maxQueuedMessages?: number
  maxQueuedBytes?: number
  maxQueuedBytesTotal?: number
  closeTimeout?: number
  /** Milliseconds a new TCP connection has to send its first request head; `0` leaves Node's defaults. */
  handshakeTimeout?: number
  /** Upgrades handled at once (from request to the end of setup); more get 503 with Retry-After. `0`: no cap. */
  maxPendingUpgrades?: number
  /** Seconds a client refused by `maxPendingUpgrades` or by a draining node is told to wait (`Retry-After`). */
  upgradeRetryAfter?: number
  /** How `fastify.close()` and `fastify.hauyna.drain()` hand the clients off to other nodes. */
  drain?: DrainOptions
  channels?: { default?: 'allow' | 'deny', policies?: Record<string, ChannelPolicy> }
  permissions?: { group?: PermissionRule, broadcast?: PermissionRule, direct?: PermissionRule }
  presence?: { autoTrack?: boolean, autoUntrack?: boolean, defaultStatus?: string, leaveGrace?: number }
  /**
   * Session resume: a dropped connection's subscriptions and presence wait `window` ms (default
   * 30000) for a new connection of the same user, on any node, to take them over (`true`: the default window).
   */
  resume?: boolean | { window?: number }
  stats?: ({ path?: string, detail?: boolean } & EndpointHooks) | false
  /** The AsyncAPI 3.0 document of the WebSocket API, at `/ws/asyncapi.json` by default. */
  asyncapi?: ({ path?: string, info?: Partial<AsyncApiInfo> } & EndpointHooks) | false
  health?: { path?: string } | false
  /** Prometheus endpoint through fastify-metrics (reused when the app registered it first). */
  metrics?: { path?: string } | false
  /**
   * The live dashboard: a page and its WebSocket at one path (`/ws/dashboard`), sampling the
   * stats every `interval` ms (2000) while a page is open; `onRequest` guards both. Off by default.
   */
  dashboard?: ({ path?: string, interval?: number } & Pick<EndpointHooks, 'onRequest'>) | boolean
  cleanup?: Partial<CleanupOptions>
  websocket?: WebsocketPluginOptions['options']
  nodeId?: string
  codec?: Codec
}

/** A rolling deploy's drain. */
export interface DrainOptions {
  /**
   * Ms over which the clients are told to reconnect elsewhere and closed, each at its own
   * random time. `0` (the default for `fastify.close()`): all at once, as a plain shutdown.
   */
  timeout?: number
}

/** The stats route; `detail` adds channel names and meta keys (default: when a hook guards it). */
export type StatsOptions = { path: string, detail: boolean } & EndpointHooks

/** The AsyncAPI document's `info`: what the app calls its real-time API. */
export interface AsyncApiInfo {
  title: string
  version: string
  description: string
}

export type AsyncApiOptions = { path: string, info: AsyncApiInfo } & EndpointHooks

/** The live dashboard; `detail` (channel names) follows `stats.detail`. */
export interface DashboardOptions {
  path: string
  interval: number
  detail: boolean
  onRequest: EndpointHooks['onRequest']
}

export interface ResolvedOptions {
  path: string | false
  adapter: Adapter
  authenticate: Authenticate | undefined
  allowAnonymous: boolean
  allowUnverifiedIdentity: boolean
  heartbeat: HeartbeatOptions
  idleTimeout: number
  maxPayload: number
  maxMetaBytes: number
  rateLimit: RateLimitOptions | false
  maxConnectionsPerUser: number
  maxSubscriptionsPerConnection: number
  maxBufferedBytes: number
  /** One connection's inbox: `maxQueuedMessages` and `maxQueuedBytes`. */
  inbox: InboxLimits
  maxQueuedBytesTotal: number
  closeTimeout: number
  handshakeTimeout: number
  maxPendingUpgrades: number
  upgradeRetryAfter: number
  drain: Required<DrainOptions>
  channels: { default: 'allow' | 'deny', policies: Record<string, ChannelPolicy> }
  permissions: { group: PermissionRule, broadcast: PermissionRule, direct: PermissionRule }
  presence: { autoTrack: boolean, autoUntrack: boolean, defaultStatus: string, leaveGrace: number }
  resume: { window: number } | false
  stats: StatsOptions | false
  asyncapi: AsyncApiOptions | false
  health: { path: string } | false
  metrics: { path: string } | false
  dashboard: DashboardOptions | false
  cleanup: CleanupOptions
  websocket: WebsocketPluginOptions['options']
  nodeId: string | undefined
  codec: Codec | undefined
}

const known = new Set([
  'path', 'adapter', 'authenticate', 'allowAnonymous', 'allowUnverifiedIdentity', 'heartbeat', 'idleTimeout', 'maxPayload',
  'maxMetaBytes', 'rateLimit', 'maxConnectionsPerUser', 'maxSubscriptionsPerConnection',
  'maxBufferedBytes', 'maxQueuedMessages', 'maxQueuedBytes', 'maxQueuedBytesTotal', 'closeTimeout', 'handshakeTimeout', 'maxPendingUpgrades', 'upgradeRetryAfter', 'drain', 'channels', 'permissions', 'presence',
  'resume', 'stats', 'asyncapi', 'health', 'websocket', 'nodeId', 'codec', 'metrics', 'dashboard', 'cleanup'
])

function rule (name: string, value: unknown, fallback: PermissionRule, words: readonly string[]): PermissionRule {
  if (value === undefined) return fallback
  if (typeof value === 'boolean' || typeof value === 'function' || words.includes(value as string)) {
    return value as PermissionRule
  }
  return fail(name, `must be a boolean, a function${words.map((w) => ` or "${w}"`).join('')}`)
}

function resolveRateLimit (value: HauynaOptions['rateLimit']): RateLimitOptions | false {
  if (value === false) return false
  const rate = object<RateLimitOptions>('rateLimit', value)
  return {
    burst: integer('rateLimit.burst', rate.burst, 100, 1),
    perSecond: integer('rateLimit.perSecond', rate.perSecond, 50, 1),
    maxViolations: integer('rateLimit.maxViolations', rate.maxViolations, 50, 0)
  }
}

function resolveChannels (value: HauynaOptions['channels']): ResolvedOptions['channels'] {
  const channels = object<NonNullable<HauynaOptions['channels']>>('channels', value)
  const fallback = channels.default ?? 'allow'
  if (fallback !== 'allow' && fallback !== 'deny') fail('channels.default', 'must be "allow" or "deny"')
  const policies = object<Record<string, ChannelPolicy>>('channels.policies', channels.policies)
  for (const [pattern, policy] of Object.entries(policies)) {
    const where = `channels.policies["${pattern}"]`
    const p = object<ChannelPolicy>(where, policy)
    rule(`${where}.subscribe`, p.subscribe, true, [])
    rule(`${where}.publish`, p.publish, true, ['subscribers'])
    boolean(`${where}.presence`, p.presence, false)
    resolveHistory(`${where}.history`, p.history)
  }
  return { default: fallback, policies: policies as Record<string, ChannelPolicy> }
}

function resolveResume (value: HauynaOptions['resume']): ResolvedOptions['resume'] {
  if (value === undefined || value === false) return false
  const resume = value === true ? {} : object<{ window: number }>('resume', value)
  return { window: integer('resume.window', resume.window, 30_000, 1) }
}

/** The `drain` option, and the argument of `fastify.hauyna.drain()`, whose default is the option's. */
export function resolveDrain (value: unknown, fallback: number): Required<DrainOptions> {
  const drain = object<DrainOptions>('drain', value)
  onlyKeys('drain', drain, ['timeout'], 'the drain')
  return { timeout: integer('drain.timeout', drain.timeout, fallback, 0) }
}

function resolveHeartbeat (value: HauynaOptions['heartbeat']): HeartbeatOptions {
  const heartbeat = object<HeartbeatOptions>('heartbeat', value)
  const interval = integer('heartbeat.interval', heartbeat.interval, 30_000, 10)
  const timeout = integer('heartbeat.timeout', heartbeat.timeout, Math.max(60_000, interval * 2), 10)
  if (timeout < interval) fail('heartbeat.timeout', 'must not be shorter than heartbeat.interval')
  return { interval, timeout }
}

/** A status every client may receive: the wire's rule (1-64 characters, nothing invisible). */
function status (name: string, value: unknown): string {
  const resolved = text(name, value, 'online')
  if (!isValidStatus(resolved)) fail(name, 'must be 1-64 characters without control or invisible characters')
  return resolved
}

function optionalRoute (name: string, value: { path?: string } | false | undefined, fallback: string) {
  if (value === false) return false
  return { path: routePath(`${name}.path`, object<{ path: string }>(name, value).path, fallback) }
}

// Unknown keys are refused: a misspelt `onRequest` would otherwise leave a route open.
function onlyKeys (name: string, value: object, keys: readonly string[], what: string): void {
  for (const key of Object.keys(value)) {
    if (!keys.includes(key)) fail(`${name}.${key}`, `is not an option of ${what} (${keys.join(', ')})`)
  }
}

/** An option of a route the plugin adds: an object of known keys, its hooks functions. */
function routeOption<T extends { onRequest?: unknown, preHandler?: unknown }> (name: string, value: unknown, keys: string[], what: string): Partial<T> {
  const option = object<T>(name, value)
  onlyKeys(name, option, keys, what)
  routeHooks(`${name}.onRequest`, option.onRequest)
  routeHooks(`${name}.preHandler`, option.preHandler)
  return option
}

function resolveStats (value: HauynaOptions['stats']): ResolvedOptions['stats'] {
  if (value === false) return false
  const stats = routeOption<StatsOptions>('stats', value, ['path', 'detail', 'onRequest', 'preHandler'], 'the stats endpoint')
  // Channel names and meta keys identify people: shown on an open route only when asked for.
  const guarded = [stats.onRequest ?? [], stats.preHandler ?? []].flat().length > 0
  return {
    path: routePath('stats.path', stats.path, '/ws/stats'),
    detail: boolean('stats.detail', stats.detail, guarded),
    onRequest: stats.onRequest,
    preHandler: stats.preHandler
  }
}

function resolveAsyncApi (value: HauynaOptions['asyncapi']): ResolvedOptions['asyncapi'] {
  if (value === false) return false
  const asyncapi = routeOption<AsyncApiOptions>('asyncapi', value, ['path', 'info', 'onRequest', 'preHandler'], 'the AsyncAPI document')
  const info = object<AsyncApiInfo>('asyncapi.info', asyncapi.info)
  onlyKeys('asyncapi.info', info, ['title', 'version', 'description'], 'the AsyncAPI info')
  return {
    path: routePath('asyncapi.path', asyncapi.path, '/ws/asyncapi.json'),
    info: {
      title: text('asyncapi.info.title', info.title, 'Real-time API'),
      version: text('asyncapi.info.version', info.version, '1.0.0'),
      description: text('asyncapi.info.description', info.description,
        'The WebSocket API of this server (fastify-hauyna, wire protocol version 1).')
    },
    onRequest: asyncapi.onRequest,
    preHandler: asyncapi.preHandler
  }
}

// Off unless asked for: the page shows how busy the node is, which is no one else's business.
function resolveDashboard (value: HauynaOptions['dashboard'], stats: ResolvedOptions['stats']): ResolvedOptions['dashboard'] {
  if (value === undefined || value === false) return false
  const dashboard = routeOption<DashboardOptions>('dashboard', value === true ? {} : value, ['path', 'interval', 'onRequest'], 'the dashboard')
  return {
    path: routePath('dashboard.path', dashboard.path, '/ws/dashboard'),
    interval: integer('dashboard.interval', dashboard.interval, 2000, 100),
    detail: stats !== false && stats.detail,
    onRequest: dashboard.onRequest
  }
}

function resolveCleanup (value: HauynaOptions['cleanup']): CleanupOptions {
  const cleanup = object<CleanupOptions>('cleanup', value)
  return {
    batchSize: integer('cleanup.batchSize', cleanup.batchSize, 50, 1),
    queueSize: integer('cleanup.queueSize', cleanup.queueSize, 10_000, 0),
    interval: integer('cleanup.interval', cleanup.interval, 0, 0),
    maxRetries: integer('cleanup.maxRetries', cleanup.maxRetries, 3, 0)
  }
}

function resolveCodec (value: unknown): Codec | undefined {
  if (value === undefined) return undefined
  const codec = object<Codec>('codec', value)
  for (const key of ['decode', 'encode'] as const) {
    if (codec[key] !== undefined && typeof codec[key] !== 'function') fail(`codec.${key}`, 'must be a function')
  }
  return codec as Codec
}

const MiB = 1024 * 1024

// A connection's inbox must hold at least one frame of the largest size allowed.
function resolveInbox (options: HauynaOptions, maxPayload: number): Pick<ResolvedOptions, 'inbox' | 'maxQueuedBytesTotal'> {
  const maxBytes = integer('maxQueuedBytes', options.maxQueuedBytes, Math.max(MiB, maxPayload), maxPayload)
  return {
    inbox: { maxMessages: integer('maxQueuedMessages', options.maxQueuedMessages, 256, 1), maxBytes },
    maxQueuedBytesTotal: integer('maxQueuedBytesTotal', options.maxQueuedBytesTotal, 64 * MiB, maxBytes)
  }
}

/** Validates the registration options and fills in every default. */
export function resolveOptions (options: HauynaOptions): ResolvedOptions {
  for (const key of Object.keys(options)) {
    if (!known.has(key)) fail(key, 'is not an option of fastify-hauyna')
  }
  if (options.authenticate !== undefined && typeof options.authenticate !== 'function') {
    fail('authenticate', 'must be a function')
  }
  const adapter = options.adapter ?? memoryAdapter()
  if (typeof adapter?.publish !== 'function' || typeof adapter.init !== 'function') {
    fail('adapter', 'must implement the Adapter interface')
  }
  const permissions = object<ResolvedOptions['permissions']>('permissions', options.permissions)
  const presence = object<ResolvedOptions['presence']>('presence', options.presence)
  const maxPayload = integer('maxPayload', options.maxPayload, 64 * 1024, 64)
  const stats = resolveStats(options.stats)
  return {
    path: options.path === false ? false : routePath('path', options.path, '/ws'),
    adapter,
    authenticate: options.authenticate,
    allowAnonymous: boolean('allowAnonymous', options.allowAnonymous, false),
    allowUnverifiedIdentity: boolean('allowUnverifiedIdentity', options.allowUnverifiedIdentity, false),
    heartbeat: resolveHeartbeat(options.heartbeat),
    idleTimeout: integer('idleTimeout', options.idleTimeout, 300_000, 0),
    maxPayload,
    maxMetaBytes: integer('maxMetaBytes', options.maxMetaBytes, 4 * 1024, 2),
    rateLimit: resolveRateLimit(options.rateLimit),
    maxConnectionsPerUser: integer('maxConnectionsPerUser', options.maxConnectionsPerUser, 20, 1),
    maxSubscriptionsPerConnection: integer('maxSubscriptionsPerConnection', options.maxSubscriptionsPerConnection, 100, 1),
    maxBufferedBytes: integer('maxBufferedBytes', options.maxBufferedBytes, 1024 * 1024, 1024),
    ...resolveInbox(options, maxPayload),
    closeTimeout: integer('closeTimeout', options.closeTimeout, 1000, 1),
    handshakeTimeout: integer('handshakeTimeout', options.handshakeTimeout, 10_000, 0),
    maxPendingUpgrades: integer('maxPendingUpgrades', options.maxPendingUpgrades, 0, 0),
    upgradeRetryAfter: integer('upgradeRetryAfter', options.upgradeRetryAfter, 1, 1),
    drain: resolveDrain(options.drain, 0),
    channels: resolveChannels(options.channels),
    resume: resolveResume(options.resume),
    permissions: {
      group: rule('permissions.group', permissions.group, 'members', ['members']),
      broadcast: rule('permissions.broadcast', permissions.broadcast, false, []),
      direct: rule('permissions.direct', permissions.direct, true, [])
    },
    presence: {
      autoTrack: boolean('presence.autoTrack', presence.autoTrack, true),
      autoUntrack: boolean('presence.autoUntrack', presence.autoUntrack, true),
      leaveGrace: integer('presence.leaveGrace', presence.leaveGrace, 0, 0),
      defaultStatus: status('presence.defaultStatus', presence.defaultStatus)
    },
    stats,
    asyncapi: resolveAsyncApi(options.asyncapi),
    health: optionalRoute('health', options.health, '/health'),
    metrics: optionalRoute('metrics', options.metrics, '/metrics'),
    dashboard: resolveDashboard(options.dashboard, stats),
    cleanup: resolveCleanup(options.cleanup),
    websocket: object<NonNullable<HauynaOptions['websocket']>>('websocket', options.websocket),
    nodeId: options.nodeId === undefined ? undefined : text('nodeId', options.nodeId, ''),
    codec: resolveCodec(options.codec)
  }
}
