import jwt from '@fastify/jwt'
import Fastify, { type FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import hauyna from '../lib/index'
import { connect, refusal } from './helpers'

// docs/AUTH.md, "With @fastify/jwt": the recipe as written, against the real plugin.

const SECRET = 'a-test-secret-that-is-long-enough'

/** The recipe's setup: @fastify/jwt first, then hauyna with the recipe's `authenticate`. */
async function startJwtApp (t: Test): Promise<{ app: FastifyInstance, url: string }> {
  const app = Fastify({ logger: false })
  await app.register(jwt, { secret: SECRET })
  await app.register(hauyna, {
    authenticate: async (request) => {
      // Rejects with 401 (400 for a malformed Authorization header): no socket is created.
      const payload = await request.jwtVerify<{ sub: string, groups?: string[] }>()
      return { id: payload.sub, groups: payload.groups }
    }
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const address = app.server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return { app, url: `ws://127.0.0.1:${port}/ws` }
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

t.test('a signed token in the Authorization header: identity and groups from its claims', async (t) => {
  const { app, url } = await startJwtApp(t)
  const token = app.jwt.sign({ sub: 'alice', groups: ['team', 'ops'] })
  const alice = await connect(url, { headers: bearer(token) })
  t.match(alice.frames[0], { type: 'connected', userId: 'alice' })
  t.ok(await app.groups.has('alice', 'team'))
  t.ok(await app.groups.has('alice', 'ops'))
  const [conn] = app.connections.byUser('alice')
  t.equal(conn.headers.authorization, undefined, 'the token is not kept on the connection')

  // Without `groups` in the token the user is in none; the query string is never used.
  const bob = await connect(`${url}?userId=mallory`, { headers: bearer(app.jwt.sign({ sub: 'bob' })) })
  t.match(bob.frames[0], { type: 'connected', userId: 'bob' })
  t.same(await app.groups.of('bob'), [])
  for (const c of [alice, bob]) t.same(c.violations, [])
})

t.test('a missing, forged or expired token is refused with 401 before the upgrade', async (t) => {
  const { app, url } = await startJwtApp(t)
  const forged = Fastify({ logger: false })
  await forged.register(jwt, { secret: 'another-secret-entirely' })
  await forged.ready()
  t.teardown(() => forged.close())
  const cases: Array<[string, Record<string, string>]> = [
    ['no Authorization header', {}],
    ['signed with another secret', bearer(forged.jwt.sign({ sub: 'alice' }))],
    ['expired', bearer(app.jwt.sign({ sub: 'alice', exp: Math.floor(Date.now() / 1000) - 60 }))],
    ['not a JWT', bearer('not-a-token')],
    ['another scheme', { authorization: 'Basic YWxpY2U6eA==' }]
  ]
  for (const [what, headers] of cases) {
    const refused = await refusal(url, headers)
    t.equal(refused.status, 401, `${what}: 401 (${String(refused.body.code)})`)
  }
  const malformed = await refusal(url, { authorization: 'Bearer two parts' })
  t.equal(malformed.status, 400, `a malformed Authorization header: 400 (${String(malformed.body.code)})`)
  t.equal(await app.connections.count(), 0, 'no socket was created')
})
