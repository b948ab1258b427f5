import type { FastifyRequest } from 'fastify'
import { randomUUID } from 'node:crypto'
import { errors } from '../errors'
import { checkName, isValidName } from '../protocol/names'
import type { Authenticate } from '../options'
import type { Identity } from './connection'

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
  try {
    checkName('user', identity.id)
  } catch (error) {
    throw new errors.Unauthorized((error as Error).message)
  }
  return identity
}

/** Identity without `authenticate`: `?userId=` (or `?user_id=`), else an anonymous id when allowed. */
export function identityFromQuery (query: unknown, allowAnonymous: boolean): Identity | null {
  const q = (query ?? {}) as Record<string, unknown>
  const id = q.userId ?? q.user_id
  if (isValidName(id)) return { id }
  return allowAnonymous ? { id: `anon-${randomUUID()}` } : null
}
