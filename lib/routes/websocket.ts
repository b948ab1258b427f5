import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { WebSocket } from 'ws'
import { authenticateRequest, identityFromQuery } from '../connection/identity'
import { openConnection } from '../core/lifecycle'
import type { Runtime } from '../core/runtime'

/** The WebSocket route: `authenticate` runs as a preValidation hook, before the upgrade. */
export function registerWebSocketRoute (fastify: FastifyInstance, runtime: Runtime): void {
  const { options } = runtime
  const preValidation = options.authenticate === undefined
    ? undefined
    : async (request: FastifyRequest) => {
      request.hauynaIdentity = await authenticateRequest(request, options)
    }
  fastify.route({
    method: 'GET',
    url: options.path,
    websocket: true,
    preValidation,
    handler: (socket: WebSocket, request: FastifyRequest) => {
      const identity = request.hauynaIdentity ?? identityFromQuery(request.query, options.allowAnonymous)
      openConnection(runtime, socket, identity)
    }
  } as never)
}
