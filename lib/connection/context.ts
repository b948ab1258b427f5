import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { ConnectionContext, Endpoint } from './connection'

/**
 * Headers a connection does not keep. Credentials and handshake secrets, so that handlers,
 * logs and `connections.get()` dumps never expose a token that outlives its request; and the
 * upgrade's own mechanics, the same on every connection, which would only cost memory.
 */
export const hiddenHeaders: ReadonlySet<string> = new Set([
  'authorization', 'proxy-authorization', 'proxy-authenticate', 'cookie',
  'sec-websocket-key', 'sec-websocket-protocol',
  'connection', 'upgrade', 'sec-websocket-version', 'sec-websocket-extensions'
])

// Most connections have no params or query: they share one frozen object instead of one each.
const EMPTY = Object.freeze({})

function safeHeaders (headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const out: IncomingHttpHeaders = {}
  for (const name of Object.keys(headers)) if (!hiddenHeaders.has(name)) out[name] = headers[name]
  return out
}

function plain<T extends object> (value: unknown): Readonly<T> {
  if (value === null || typeof value !== 'object') return EMPTY as T
  return Object.keys(value).length === 0 ? EMPTY as T : { ...value } as T
}

/** Copies what handlers need out of the upgrade request, so the request can be released. */
export function contextOf (request: FastifyRequest, endpoint: Endpoint): ConnectionContext {
  return {
    endpoint,
    params: plain(request.params),
    query: plain(request.query),
    headers: safeHeaders(request.headers),
    ip: request.ip
  }
}
