import type { FastifyInstance, FastifyRequest, HookHandlerDoneFunction, preValidationHookHandler } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import { contextOf } from '../connection/context'
import { authenticateRequest, identityFromQuery } from '../connection/identity'
import type { Endpoint } from '../connection/connection'
import type { EndpointRouteOptions } from '../config/endpoint-options'
import type { RealtimeNode } from '../composition/node'
import { CloseCode } from '../protocol/codes'
import { holdWrites, releaseWrites } from '../transport/socket-writer'
import type { UpgradeGate } from './upgrade-gate'

/**
 * @fastify/websocket hands the upgraded TCP socket a ServerResponse it never detaches; that
 * response and its request would otherwise live as long as the connection.
 */
function releaseUpgradeResponse (request: FastifyRequest): void {
  // No TCP socket at all under `app.injectWS()`.
  const socket = request.raw.socket as (Socket & { _httpMessage?: ServerResponse | null }) | undefined
  if (socket !== undefined) socket._httpMessage?.detachSocket(socket)
}

/**
 * The last preHandler: every check has passed, so the upgrade response is next; it waits for
 * the `connected` frame (see `holdWrites`). A plain GET is no upgrade: its reply must flow.
 */
function holdUpgradeWrites (request: FastifyRequest, _reply: unknown, done: HookHandlerDoneFunction): void {
  if (request.ws) holdWrites(request.raw.socket)
  done()
}

/**
 * Opening the connection threw (e.g. copying an identity's `meta` with a throwing getter).
 * Left to @fastify/websocket's errorHandler, the socket would be dropped unreported; this
 * fails it like a setup failure: reported, then closed with 1011.
 */
function failUpgrade (node: RealtimeNode, socket: WebSocket, error: unknown): void {
  node.session.errors.report(error, undefined, 'connection setup failed')
  releaseWrites(socket)
  socket.close(CloseCode.InternalError, 'internal error')
}

function authenticationHook (node: RealtimeNode, endpoint: Endpoint): preValidationHookHandler | undefined {
  const { authenticate } = endpoint
  if (authenticate === undefined) return undefined
  return async function authenticateUpgrade (request: FastifyRequest) {
    try {
      request.hauynaIdentity = await authenticateRequest(request, authenticate)
    } catch (error) {
      node.meter.refused('unauthorized')
      throw error
    }
  }
}

/**
 * One WebSocket endpoint, registered on `fastify` (the caller's context, so its hooks and
 * decorators apply). `authenticate` is the first preValidation hook; Fastify's own schema
 * validation follows the hooks, so every check is done before the upgrade.
 */
export function registerEndpointRoute (
  fastify: FastifyInstance, node: RealtimeNode, endpoint: Endpoint, gate: UpgradeGate, route: EndpointRouteOptions = {}
): void {
  const authenticate = authenticationHook(node, endpoint)
  const preValidation = [authenticate ?? [], route.preValidation ?? []].flat()
  node.endpoints.push(endpoint)
  fastify.route({
    method: 'GET',
    url: endpoint.path,
    websocket: true,
    schema: route.schema,
    onRequest: [gate.admit, route.onRequest ?? []].flat(),
    onResponse: gate.answered,
    preValidation: preValidation.length === 0 ? undefined : preValidation,
    preHandler: [route.preHandler ?? [], holdUpgradeWrites].flat(),
    // Upgrades never send an HTTP response: timing them would only hold a timer per socket.
    config: { disableMetrics: true },
    handler: (socket: WebSocket, request: FastifyRequest) => {
      releaseUpgradeResponse(request)
      const identity = request.hauynaIdentity ?? identityFromQuery(request.query, endpoint.allowAnonymous)
      let conn
      try {
        // Copied values only: the connection must not keep the request (and its reply) alive.
        conn = node.session.open(socket, identity, contextOf(request, endpoint))
      } catch (error) {
        failUpgrade(node, socket, error)
        request.hauynaUpgrade?.()
        return
      }
      if (conn === undefined) {
        releaseWrites(socket)
        request.hauynaUpgrade?.()
      } else if (request.hauynaUpgrade !== null) {
        const release = request.hauynaUpgrade
        void conn.setup.finally(release)
      }
    }
  } as never)
}
