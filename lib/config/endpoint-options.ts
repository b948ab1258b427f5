import type {
  FastifySchema, onRequestHookHandler, preHandlerHookHandler, preValidationHookHandler
} from 'fastify'
import type { Authenticate, AutoSubscribe, Endpoint } from '../connection/connection'
import type { ResolvedOptions } from './options'
import { boolean, fail, object, routeHooks, routePath } from '../util/option-checks'

type OneOrMany<T> = T | readonly T[]

/** A WebSocket endpoint declared with `fastify.realtime(path, options)`. */
export interface EndpointOptions {
  /** This endpoint's own identity check; the plugin's `authenticate` when left out, none with `false`. */
  authenticate?: Authenticate | false
  allowAnonymous?: boolean
  /** Validated by Fastify before the upgrade: an invalid request gets HTTP 400 and no socket. */
  schema?: Pick<FastifySchema, 'params' | 'querystring' | 'headers'>
  onRequest?: OneOrMany<onRequestHookHandler>
  /** Runs after `authenticate` (itself the first preValidation hook). */
  preValidation?: OneOrMany<preValidationHookHandler>
  preHandler?: OneOrMany<preHandlerHookHandler>
  /** The message types accepted here (built-in or declared); all when left out. `heartbeat` always is. */
  messages?: readonly string[]
  /** Subscribed on connect, with the channel policies applied as if the client had asked. */
  subscribe?: AutoSubscribe
  /** Runs before the `connect` handlers, and may return `STOP` to skip them for this connection. */
  onConnect?: Endpoint['onConnect']
  /** Runs before the `disconnect` handlers, and may return `STOP` to skip them. */
  onDisconnect?: Endpoint['onDisconnect']
}

/** The Fastify route options an endpoint passes through untouched. */
export type EndpointRouteOptions = Pick<EndpointOptions, 'schema' | 'onRequest' | 'preValidation' | 'preHandler'>

const known = new Set([
  'authenticate', 'allowAnonymous', 'schema', 'onRequest', 'preValidation', 'preHandler',
  'messages', 'subscribe', 'onConnect', 'onDisconnect'
])

function optionalFunction (name: string, value: unknown): void {
  if (value !== undefined && typeof value !== 'function') fail(name, 'must be a function')
}

function messageList (name: string, value: unknown): ReadonlySet<string> | undefined {
  if (value === undefined) return undefined
  if (!Array.isArray(value) || !value.every((type) => typeof type === 'string' && type.length > 0)) {
    fail(name, 'must be an array of message type names')
  }
  return new Set([...value as string[], 'heartbeat'])
}

function autoSubscribe (name: string, value: unknown): AutoSubscribe | undefined {
  if (value === undefined || typeof value === 'function' || typeof value === 'string') return value as AutoSubscribe
  if (Array.isArray(value) && value.every((channel) => typeof channel === 'string')) return value
  return fail(name, 'must be a channel name, an array of them, or a function of the connection')
}

/** Validates an endpoint's options (errors name `realtime("<path>").<option>`) against the plugin's defaults. */
export function resolveRealtimeEndpoint (path: unknown, value: unknown, defaults: ResolvedOptions): Endpoint {
  const url = routePath('realtime(path)', path, '')
  const where = `realtime("${url}")`
  const options = object<EndpointOptions>(where, value)
  for (const key of Object.keys(options)) {
    if (!known.has(key)) fail(`${where}.${key}`, 'is not an endpoint option')
  }
  for (const hook of ['onRequest', 'preValidation', 'preHandler'] as const) routeHooks(`${where}.${hook}`, options[hook])
  for (const handler of ['onConnect', 'onDisconnect'] as const) optionalFunction(`${where}.${handler}`, options[handler])
  if (options.authenticate !== false) optionalFunction(`${where}.authenticate`, options.authenticate)
  object(`${where}.schema`, options.schema)
  return {
    path: url,
    authenticate: options.authenticate === false ? undefined : options.authenticate ?? defaults.authenticate,
    allowAnonymous: boolean(`${where}.allowAnonymous`, options.allowAnonymous, defaults.allowAnonymous),
    messages: messageList(`${where}.messages`, options.messages),
    subscribe: autoSubscribe(`${where}.subscribe`, options.subscribe),
    onConnect: options.onConnect,
    onDisconnect: options.onDisconnect,
    connections: 0
  }
}

/**
 * Run when the app is ready, once every message type is declared: a misspelt name in
 * `messages` would otherwise refuse that type on the endpoint without a word.
 */
export function checkEndpointMessages (endpoints: readonly Endpoint[], isKnownType: (type: string) => boolean): void {
  for (const { path, messages } of endpoints) {
    for (const type of messages ?? []) {
      if (!isKnownType(type)) fail(`realtime("${path}").messages`, `"${type}" is neither a built-in nor a declared message type`)
    }
  }
}
