import Fastify from 'fastify'
import t from 'tap'
import WebSocket from 'ws'
import hauyna, { type Connection } from '../lib/index'
import { Client, connect, startServer } from './helpers'

t.test('context: params, query, safe headers, ip and endpoint from the upgrade request', async (t) => {
  let seen: Connection | undefined
  const server = await startServer(t, {}, (app) => { app.events.on('connect', (conn) => { seen = conn }) })
  // A subprotocol is offered (and accepted), so sec-websocket-protocol is really sent.
  const client = new Client(new WebSocket(server.url({ userId: 'alice', room: 'lobby', n: '2' }), ['chat.v1'], {
    headers: {
      authorization: 'Bearer secret',
      cookie: 'sid=secret',
      'proxy-authorization': 'Basic secret',
      'proxy-authenticate': 'Basic realm="secret"',
      'x-client-version': '1.2.3'
    }
  }))
  await client.opened
  await client.next('connected')
  t.equal(client.ws.protocol, 'chat.v1', 'the subprotocol header reached the server')
  const conn = server.app.connections.get(client.frames[0].connectionId as string)
  t.equal(conn, seen, 'the connect handler and connections.get() see the same connection')
  t.equal(conn?.endpoint, '/ws')
  t.same(conn?.params, {})
  t.same(conn?.query, { userId: 'alice', room: 'lobby', n: '2' }, 'the parsed querystring')
  t.equal(conn?.ip, '127.0.0.1')
  t.equal(conn?.headers['x-client-version'], '1.2.3', 'ordinary headers are kept')
  t.match(conn?.headers.host, /^127\.0\.0\.1:\d+$/, 'host is kept')
  for (const hidden of ['authorization', 'cookie', 'proxy-authorization', 'proxy-authenticate', 'sec-websocket-key', 'sec-websocket-protocol']) {
    t.notOk(hidden in (conn?.headers ?? {}), `${hidden} (a credential) is dropped`)
  }
  for (const mechanics of ['connection', 'upgrade', 'sec-websocket-version', 'sec-websocket-extensions']) {
    t.notOk(mechanics in (conn?.headers ?? {}), `${mechanics} (the handshake's own) is dropped`)
  }
  t.same(client.violations, [])
})

t.test('context: the endpoint is the configured path; an empty query is shared, not copied', async (t) => {
  const server = await startServer(t, { path: '/rt', authenticate: async (request) => ({ id: String(request.headers['x-user']) }) })
  const a = await connect(server.url(), { headers: { 'x-user': 'alice' } })
  const b = await connect(server.url(), { headers: { 'x-user': 'bob' } })
  const [ca, cb] = [a, b].map((c) => server.app.connections.get(c.frames[0].connectionId as string))
  t.equal(ca?.endpoint, '/rt')
  t.same(ca?.query, {})
  t.equal(ca?.query, cb?.query, 'one frozen empty object for every connection without a query')
  t.ok(Object.isFrozen(ca?.params))
  t.same([a.violations, b.violations], [[], []])
})

t.test('setMeta: visible in connections.get() and summarized in /ws/stats', async (t) => {
  const shared = { plan: 'pro' }
  const server = await startServer(t, { stats: { detail: true }, authenticate: async () => ({ id: 'alice', meta: shared }) })
  const a = await connect(server.url())
  const b = await connect(server.url())
  const conn = server.app.connections.get(a.frames[0].connectionId as string) as Connection
  const other = server.app.connections.get(b.frames[0].connectionId as string) as Connection

  t.equal(conn.setMeta('role', 'moderator'), conn, 'chainable')
  t.same(server.app.connections.get(conn.id)?.meta, { plan: 'pro', role: 'moderator' })
  t.same(other.meta, { plan: 'pro' }, 'connections of one user do not share a meta object')
  t.same(shared, { plan: 'pro' }, 'the identity meta is not modified')

  const stats = await (await fetch(`${server.http}/ws/stats`)).json() as Record<string, any>
  t.same(stats.connectionMeta, { connections: 2, keys: [{ key: 'plan', connections: 2 }, { key: 'role', connections: 1 }] })

  conn.setMeta('role', undefined)
  t.same(Object.keys(conn.meta), ['plan'], '`undefined` deletes the key (not a key holding undefined)')
  t.throws(() => conn.setMeta('__proto__', 1), { code: 'HAUYNA_INVALID_META', message: /^Invalid connection meta: / })
  t.throws(() => conn.setMeta('blob', 'x'.repeat(5000)), { code: 'HAUYNA_TOO_LARGE', message: /^connection meta is \d+ bytes/ })
  t.same(conn.meta, { plan: 'pro' }, 'a refused value leaves the meta as it was')
  t.same([a.violations, b.violations], [[], []])
})

t.test('context: a query that is not an object (an app\'s own querystringParser) is the shared empty object', async (t) => {
  // The parser's result is request.query as it is: `null` for `?null`, else the raw string.
  const querystringParser = (text: string): Record<string, unknown> => (text === 'null' ? null : text) as never
  const app = Fastify({ logger: false, routerOptions: { querystringParser } })
  await app.register(hauyna, { authenticate: (request) => ({ id: String(request.headers['x-user']) }) })
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const { port } = app.server.address() as { port: number }
  const queries: Array<[string, string]> = [['nothing', ''], ['null', '?null'], ['a string', '?raw']]
  const conns: Connection[] = []
  for (const [user, query] of queries) {
    const client = await connect(`ws://127.0.0.1:${port}/ws${query}`, { headers: { 'x-user': user } })
    conns.push(app.connections.get(client.frames[0].connectionId as string) as Connection)
    t.same(client.violations, [])
  }
  const [none, nulled, text] = conns
  t.same(none.query, {})
  t.ok(Object.isFrozen(none.query))
  t.equal(nulled.query, none.query, 'a null query is the shared empty object')
  t.equal(text.query, none.query, 'a string query is the shared empty object, not its characters')
})
