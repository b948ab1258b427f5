import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import { errors } from '../errors'
import { normalizeUserId } from '../protocol/names'
import type { Authenticate, Endpoint, Identity } from './connection'

/** Runs an endpoint's `authenticate` before the upgrade: 401 (or the error's own status) on failure. */
export async function authenticateRequest (request: FastifyRequest, authenticate: Authenticate): Promise<Identity> {
  let identity: Identity | null | undefined
  try {
    identity = await authenticate(request)
  } catch (error) {
    const err = error as Error & { statusCode?: number }
    request.log.info({ err }, 'websocket authentication failed')
    throw typeof err.statusCode === 'number' ? err : new errors.Unauthorized(err.message)
  }
  if (identity === null || identity === undefined || typeof identity.id !== 'string') {
    request.log.info('websocket authentication returned no identity')
    throw new errors.Unauthorized('no identity')
  }
  const id = normalizeUserId(identity.id)
  if (id === undefined) {
    throw new errors.Unauthorized(`invalid user id ${JSON.stringify(identity.id)}: 1-200 characters without control or invisible characters`)
  }
  return id === identity.id ? identity : { ...identity, id }
}

/** Identity without `authenticate`: `?userId=` (or `?user_id=`), else an anonymous id when allowed. */
export function identityFromQuery (query: unknown, allowAnonymous: boolean): Identity | null {
  const q = (query ?? {}) as Record<string, unknown>
  const id = normalizeUserId(q.userId ?? q.user_id)
  if (id !== undefined) return { id }
  return allowAnonymous ? { id: `anon-${randomUUID()}` } : null
}

/**
 * Once every endpoint is declared: one warning when some take `?userId=` on trust, since any
 * client can then connect (and be addressed, and send) as any user.
 */
export function warnUnverifiedIdentity (log: FastifyBaseLogger, endpoints: readonly Endpoint[], allowed: boolean): void {
  const open = endpoints.filter((endpoint) => endpoint.authenticate === undefined).map(({ path }) => path)
  if (allowed || open.length === 0) return
  log.warn({ endpoints: open },
    'fastify-hauyna: no authenticate on %s, so ?userId= is an unverified claim: any client can connect as any user. ' +
    'Set authenticate, or allowUnverifiedIdentity: true if this is deliberate (a demo, a trusted network)', open.join(', '))
}
