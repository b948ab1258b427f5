import type { FastifyInstance } from 'fastify'
import { asyncApiDocument } from '../asyncapi/document'
import type { RealtimeNode } from '../composition/node'
import type { AsyncApiOptions } from '../config/options'

/**
 * `GET /ws/asyncapi.json`: the AsyncAPI 3.0 document of the WebSocket endpoints. Built on the
 * first request, once every endpoint is registered, and again only after a message type is
 * declared or removed.
 */
export function registerAsyncApiRoute (fastify: FastifyInstance, node: RealtimeNode, options: AsyncApiOptions): void {
  const { path, info, onRequest, preHandler } = options
  let cached: { revision: number, body: string } | undefined
  function body (): string {
    const revision = node.events.revision
    if (cached?.revision !== revision) {
      const document = asyncApiDocument({ info, endpoints: node.endpoints, declared: node.events.messageTypes })
      cached = { revision, body: JSON.stringify(document) }
    }
    return cached.body
  }
  fastify.get(path, { onRequest, preHandler }, async (_request, reply) => reply.type('application/json; charset=utf-8').send(body()))
}
