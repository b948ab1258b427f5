import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import { authenticateRequest, identityFromQuery } from '../connection/identity'
import { openConnection } from '../core/lifecycle'
import type { Runtime } from '../core/runtime'

/**
 * @fastify/websocket hands the upgraded TCP socket a ServerResponse it never detaches; that
 * response and its request would otherwise live as long as the connection.
 */
function releaseUpgradeResponse (request: FastifyRequest): void {
  const socket = request.raw.socket as Socket & { _httpMessage?: ServerResponse | null }
  socket._httpMessage?.detachSocket(socket)
}

/** The WebSocket route: `authenticate` runs as a preValidation hook, before the upgrade. */
export function registerWebSocketRoute (fastify: FastifyInstance, runtime: Runtime): void {
  const { options } = runtime
  const preValidation = options.authenticate === undefined
    ? undefined
    : async (request: FastifyRequest) => {
      try {
        request.hauynaIdentity = await authenticateRequest(request, options)
      } catch (error) {
        runtime.telemetry.error('unauthorized')
        throw error
      }
    }
  fastify.route({
    method: 'GET',
    url: options.path,
    websocket: true,
    preValidation,
    handler: (socket: WebSocket, request: FastifyRequest) => {
      releaseUpgradeResponse(request)
      const identity = request.hauynaIdentity ?? identityFromQuery(request.query, options.allowAnonymous)
      openConnection(runtime, socket, identity)
    }
  } as never)
}
