import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { createClient, cutAndReconnect, record } from './client-helpers'
import { refusal, startServer, until } from './helpers'

// The client's side of the README's "Authentication": a token in the query (fresh for every
// attempt), in a subprotocol (what browsers can send), or in a header (Node with `ws`).

const fast = { baseDelay: 20, maxDelay: 80, backoffMultiplier: 2, jitter: 0 }

/** The README's `wsToken` (Authentication, Browsers): `Authorization: Bearer`, else `?token=`, else the subprotocol. */
function wsToken (request: FastifyRequest): string | undefined {
  const header = request.headers.authorization
  if (header?.startsWith('Bearer ')) return header.slice(7)
  const { token } = request.query as { token?: string }
  if (token) return token
  const offered = request.headers['sec-websocket-protocol']?.split(',').map((p) => p.trim())
  return offered?.[0] === 'bearer' ? offered[1] : undefined
}

/** A toy token scheme: `tok-<user>` is valid for <user>; anything else gets 401. */
function tokenIdentity (request: FastifyRequest): { id: string } | null {
  const token = wsToken(request)
  return token?.startsWith('tok-') === true ? { id: token.slice(4) } : null
}

t.test('protocols: a subprotocol token reaches authenticate, and the server selects "bearer"', async (t) => {
  const server = await startServer(t, { authenticate: tokenIdentity })
  const client = createClient(t, server.url(), { protocols: ['bearer', 'tok-alice'] })
  await client.start()
  t.equal(client.userId, 'alice')
  const conn = server.app.connections.get(client.connectionId as string)
  t.equal(conn?.socket.protocol, 'bearer', 'the subprotocol the server answered with, as browsers require')
})

t.test('protocols as an async function: called before every attempt', async (t) => {
  const server = await startServer(t, { authenticate: tokenIdentity })
  let calls = 0
  const client = createClient(t, server.url(), {
    protocols: async () => ['bearer', `tok-alice${++calls}`],
    retry: fast
  })
  await client.start()
  t.equal(client.userId, 'alice1')
  const first = client.connectionId as string
  server.app.connections.get(first)?.socket.terminate()
  await until(() => client.state === 'open' && client.connectionId !== first, 3000, 'a new connection')
  t.equal(client.userId, 'alice2', 'the second connection offered the second token')
  t.equal(calls, 2)
})

t.test('params: a fresh token for every attempt replaces the one the server revoked', async (t) => {
  const valid = new Set<string>()
  const presented: string[] = []
  const server = await startServer(t, {
    authenticate: (request) => {
      const token = String((request.query as { token?: string }).token)
      presented.push(token)
      return valid.has(token) ? { id: 'alice', meta: { token } } : null
    }
  })
  let issued = 0
  const params = async (): Promise<{ token: string }> => {
    const token = `t${++issued}`
    valid.add(token)
    return { token }
  }
  const client = createClient(t, server.url(), { params, retry: fast })
  const retries = record(client, 'retry')
  await client.start()
  const first = client.connectionId as string
  t.same(server.app.connections.get(first)?.meta, { token: 't1' })

  // The server goes down a while and, meanwhile, the first token expires.
  await server.stop()
  valid.delete('t1')
  await until(() => retries.length >= 3, 3000, 'attempts against the stopped server')
  await server.restart()
  await until(() => client.state === 'open', 3000, 'the reconnection')

  t.equal(issued, 1 + retries.length, 'one call per attempt: the first and each retry')
  const second = server.app.connections.get(client.connectionId as string)
  t.same(second?.meta, { token: `t${issued}` }, 'the new connection carries the newest token')
  t.same(presented, ['t1', `t${issued}`], 'attempts that reached the server presented one token each')
  t.match(await refusal(server.url({ token: 't1' })), { status: 401 }, 'the first token would now be refused')
})

t.test('webSocketOptions: headers reach authenticate in Node, as a value or fresh for every attempt', async (t) => {
  const server = await startServer(t, { authenticate: tokenIdentity })
  const fixed = createClient(t, server.url(), { webSocketOptions: { headers: { authorization: 'Bearer tok-bob' } } })
  let calls = 0
  const fresh = createClient(t, server.url(), {
    webSocketOptions: () => ({ headers: { authorization: `Bearer tok-alice${++calls}` } }),
    retry: fast
  })
  await Promise.all([fixed.start(), fresh.start()])
  t.equal(fixed.userId, 'bob')
  t.equal(fresh.userId, 'alice1')
  await cutAndReconnect(server, fresh)
  t.equal(fresh.userId, 'alice2')
  t.equal(calls, 2)
})
