import { join } from 'node:path'
import t from 'tap'
import { compile, packedApp, runNode, strictEsmConfig } from './packed-app'

// The package as a stranger installs it: from the tarball, into fresh apps that have neither
// ioredis nor (for JavaScript) @types/ws, the optional peers.

/** What both apps do: an HTTP route validates its body and broadcasts; an SDK client receives. */
const expected = { received: { text: 'hello from a route' }, delivered: 1, badName: 400 }

t.test('a CommonJS JavaScript app: an HTTP-route broadcast reaches an SDK client; the dashboard page is in the package; redisAdapter() says ioredis is missing', async (t) => {
  const dir = packedApp(t, {
    packageJson: { name: 'cjs-app', private: true },
    without: ['ioredis', '@types/ws'],
    files: {
      'app.js': `
        const Fastify = require('fastify')
        const WebSocket = require('ws')
        const hauyna = require('fastify-hauyna')
        const { HauynaClient } = require('fastify-hauyna/client')

        async function main () {
          const app = Fastify()
          await app.register(hauyna, { dashboard: true })
          app.post('/notify', {
            schema: { body: { type: 'object', required: ['channel', 'text'], properties: { channel: hauyna.schemas.Name, text: { type: 'string' } } } }
          }, async (request) => ({ delivered: await app.channels.broadcastTo(request.body.channel, { text: request.body.text }) }))
          await app.listen({ port: 0, host: '127.0.0.1' })
          const base = '127.0.0.1:' + app.server.address().port
          const client = new HauynaClient('ws://' + base + '/ws?userId=reader', { WebSocket })
          const received = new Promise((resolve) => client.subscribe('news', (message) => resolve(message.data)))
          await client.start()
          const post = (body) => fetch('http://' + base + '/notify', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
          const { delivered } = await (await post({ channel: 'news', text: 'hello from a route' })).json()
          const badName = (await post({ channel: 'a\\u0001b', text: 'x' })).status
          const dashboard = await fetch('http://' + base + '/ws/dashboard')
          const dashboardPage = dashboard.status === 200 && (await dashboard.text()).includes('getContext')
          let redis
          try { hauyna.redisAdapter({ url: 'redis://127.0.0.1:6379' }) } catch (error) { redis = error.code }
          console.log(JSON.stringify({ received: await received, delivered, badName, dashboardPage, redis }))
          await client.stop()
          await app.close()
        }
        main().catch((error) => { console.error(error); process.exit(1) })
      `
    }
  })
  t.same(JSON.parse(runNode(dir, 'app.js')), { ...expected, dashboardPage: true, redis: 'HAUYNA_REDIS_NOT_INSTALLED' })
})

const typedApp = `
import { Type, type Static } from '@sinclair/typebox'
import Fastify from 'fastify'
import hauyna, { schemas } from 'fastify-hauyna'
import { HauynaClient } from 'fastify-hauyna/client'
import WebSocket from 'ws'

const News = Type.Object({ text: Type.String() })
const Notify = Type.Object({ channel: schemas.Name, text: Type.String() })

const app = Fastify()
await app.register(hauyna)
app.post<{ Body: Static<typeof Notify> }>('/notify', { schema: { body: Notify } }, async (request) => {
  const delivered: number = await app.channels.broadcastTo(request.body.channel, { text: request.body.text })
  return { delivered }
})
await app.listen({ port: 0, host: '127.0.0.1' })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('not listening on a port')
const base = \`127.0.0.1:\${address.port}\`

const client = new HauynaClient<{ news: typeof News }>(\`ws://\${base}/ws?userId=reader\`, { WebSocket })
const received = new Promise<unknown>((resolve) => { client.subscribe('news', (message) => resolve(message.data)) })
await client.start()
const post = async (body: object): Promise<Response> => await fetch(\`http://\${base}/notify\`, {
  method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body)
})
const { delivered } = await (await post({ channel: 'news', text: 'hello from a route' })).json() as { delivered: number }
const badName = (await post({ channel: 'a\\u0001b', text: 'x' })).status
console.log(JSON.stringify({ received: await received, delivered, badName }))
await client.stop()
await app.close()
`

// Handlers typed from TypeBox 1.x schemas; checked by the compiler only (one program with the app above).
const typebox1App = `
import Fastify from 'fastify'
import hauyna from 'fastify-hauyna'
import { Type } from 'typebox'

const app = Fastify()
await app.register(hauyna)
const ChatMessage = Type.Object({ room: Type.String(), text: Type.String(), seats: Type.Optional(Type.Integer()) })
app.events.on('chat_message', { schema: ChatMessage }, async (conn, msg) => {
  const room: string = msg.room
  const seats: number | undefined = msg.seats
  const type: string = msg.type
  // @ts-expect-error: not a field of the schema
  void msg.missing
  await app.channels.broadcastTo(room, { text: msg.text, seats, type }, { from: conn.userId })
})
app.events.on('plain', { schema: { type: 'object', properties: { x: { type: 'string' } } } }, (_conn, msg) => {
  const x: unknown = msg.x
  // @ts-expect-error: a plain JSON Schema does not type its fields
  const typed: string = msg.x
  return [x, typed]
})
// @ts-expect-error: a message schema is an object schema
app.events.on('scalar', { schema: Type.String() }, () => {})
`

t.test('a strict ESM TypeScript app without ioredis type-checks (declaration files too), types TypeBox 1.x handlers, and runs a typed SDK client', async (t) => {
  const dir = packedApp(t, {
    packageJson: { name: 'esm-app', private: true, type: 'module' },
    without: ['ioredis'],
    files: { 'src/app.ts': typedApp, 'src/typebox1.ts': typebox1App },
    tsconfig: strictEsmConfig(['src'], { outDir: 'out' })
  })
  const { status, output } = compile(dir)
  t.equal(status, 0, output)
  t.same(JSON.parse(runNode(dir, join('out', 'app.js'))), expected)
})
