import specs from '@asyncapi/specs'
import AjvCompiler, { type Ajv } from '@fastify/ajv-compiler'
import { Type } from '@sinclair/typebox'
import t, { type Test } from 'tap'
import { clientSchemas, serverSchemas } from '../lib/index'
import { expectInvalidOptions, startServer } from './helpers'

type Json = Record<string, any>

/**
 * The official AsyncAPI 3.0.0 JSON Schema, compiled by a plain Ajv: none of Fastify's defaults
 * that change the data. The schema embeds its own copy of the draft-07 meta-schema, which Ajv
 * must therefore not add (`meta: false`).
 */
function asyncApiValidator () {
  let ajv: Ajv | undefined
  AjvCompiler()({}, {
    customOptions: {
      coerceTypes: false, useDefaults: false, removeAdditional: false, meta: false, validateSchema: false, strict: false, allErrors: true
    },
    onCreate: (instance) => { ajv = instance }
  })
  return (ajv as Ajv).compile(specs.schemas['3.0.0'])
}
const validate = asyncApiValidator()

function expectValid (t: Test, document: Json): void {
  t.ok(validate(document), `valid AsyncAPI 3.0.0: ${JSON.stringify(validate.errors?.slice(0, 5))}`)
}

/** The value a local `$ref` (`#/…`, a URI-encoded JSON Pointer) points to in `document`. */
function resolve (document: Json, ref: string): unknown {
  const tokens = ref.slice(2).split('/').map((token) => decodeURIComponent(token).replace(/~1/g, '/').replace(/~0/g, '~'))
  return tokens.reduce<any>((node, token) => node?.[token], document)
}

/** Every operation points to a channel of the document, and to messages of that channel. */
function expectReferencesResolve (t: Test, document: Json): void {
  for (const [id, operation] of Object.entries<Json>(document.operations)) {
    t.type(resolve(document, operation.channel.$ref), 'object', `${id}: its channel exists`)
    for (const { $ref } of operation.messages) {
      t.ok($ref.startsWith(`${operation.channel.$ref}/messages/`), `${id}: ${$ref} is a message of its channel`)
      t.type(resolve(document, $ref), 'object', `${id}: ${$ref} exists`)
    }
  }
}

async function getDocument (url: string, headers: Record<string, string> = {}): Promise<{ status: number, type: string | null, body: Json }> {
  const response = await fetch(url, { headers })
  return { status: response.status, type: response.headers.get('content-type'), body: await response.json() as Json }
}

const envelope = (type: string) => ({
  type: { const: type, type: 'string' },
  ref: { anyOf: [{ maxLength: 64, type: 'string' }, { type: 'number' }] }
})

t.test('GET /ws/asyncapi.json: a valid AsyncAPI 3.0 document of every endpoint, built-in frame and declared type', async (t) => {
  const { Type: T1 } = await import('typebox')
  const server = await startServer(t, {}, (app) => {
    app.realtime('/chat/:room', { messages: ['publish', 'chat_message'] })
    app.events.on('chat_message', { schema: Type.Object({ text: Type.String({ maxLength: 500 }) }) }, () => {})
    app.events.on('vote', { schema: { type: 'object', properties: { choice: { type: 'integer' } }, required: ['choice'], additionalProperties: false } }, () => {})
    app.events.on('poll', { schema: T1.Object({ question: T1.String(), open: T1.Optional(T1.Boolean()) }) }, () => {})
  })
  const { status, type, body: document } = await getDocument(`${server.http}/ws/asyncapi.json`)
  t.equal(status, 200)
  t.equal(type, 'application/json; charset=utf-8')
  expectValid(t, document)
  expectReferencesResolve(t, document)
  t.same(document.info, {
    title: 'Real-time API',
    version: '1.0.0',
    description: 'The WebSocket API of this server (fastify-hauyna, wire protocol version 1).'
  })
  t.equal(document.defaultContentType, 'application/json')

  t.same(Object.keys(document.channels), ['/ws', '/chat/:room'], 'a channel per endpoint')
  t.equal(document.channels['/ws'].address, '/ws')
  t.notOk('parameters' in document.channels['/ws'], 'no parameters where the address has none')
  t.equal(document.channels['/chat/:room'].address, '/chat/{room}')
  t.same(document.channels['/chat/:room'].parameters, { room: { description: 'The route parameter "room".' } })

  const names = (operation: Json) => operation.messages.map(({ $ref }: { $ref: string }) => (resolve(document, $ref) as Json).name)
  const { operations } = document
  t.same(Object.keys(operations), ['receive /ws', 'send /ws', 'receive /chat/:room', 'send /chat/:room'])
  t.same(names(operations['receive /ws']), [...Object.keys(clientSchemas), 'chat_message', 'vote', 'poll'],
    'the server receives the built-in messages and the declared types')
  t.same(names(operations['receive /chat/:room']), ['publish', 'heartbeat', 'chat_message'], 'only what the endpoint accepts')
  for (const path of ['/ws', '/chat/:room']) {
    t.equal(operations[`send ${path}`].action, 'send')
    t.equal(operations[`receive ${path}`].action, 'receive')
    t.same(names(operations[`send ${path}`]), Object.keys(serverSchemas), `${path}: the server sends every server frame`)
  }

  // Payloads are plain JSON Schema, the envelope included, whatever the schema's kind.
  const messages = document.channels['/ws'].messages
  t.same(messages['client.chat_message'], {
    name: 'chat_message',
    payload: { type: 'object', properties: { text: { maxLength: 500, type: 'string' }, ...envelope('chat_message') }, required: ['text', 'type'] }
  })
  t.same(messages['client.vote'].payload, {
    type: 'object',
    properties: { choice: { type: 'integer' }, ...envelope('vote') },
    required: ['choice', 'type'],
    additionalProperties: false
  })
  t.same(messages['client.poll'].payload, {
    type: 'object',
    required: ['question', 'type'],
    properties: { question: { type: 'string' }, open: { type: 'boolean' }, ...envelope('poll') }
  }, 'TypeBox 1.x: no `~kind`, no `~optional`')
  t.same(messages['server.direct'].payload, JSON.parse(JSON.stringify(serverSchemas.direct)))
  t.same(messages['client.direct'].payload, JSON.parse(JSON.stringify(clientSchemas.direct)), 'a client and a server `direct`, told apart')
})

t.test('the validator of the test rejects what AsyncAPI 3.0 forbids', async (t) => {
  const server = await startServer(t)
  const { body: document } = await getDocument(`${server.http}/ws/asyncapi.json`)
  expectValid(t, document)
  const broken = (change: (copy: Json) => void): Json => {
    const copy = structuredClone(document)
    change(copy)
    return copy
  }
  t.notOk(validate(broken((d) => { d.operations['send /ws'].action = 'publish' })), 'an action that is neither send nor receive')
  t.notOk(validate(broken((d) => { delete d.info.version })), 'info without a version')
  t.notOk(validate(broken((d) => { d.channels['/ws'].messages['client.publish'].payload = 'text' })), 'a payload that is no schema')
  t.notOk(validate(broken((d) => { d.channels['/ws'].address = 42 })), 'an address that is not a string')
})

t.test('types declared after the app started appear; the document is rebuilt only when the declared types change', async (t) => {
  const server = await startServer(t)
  const stringify = JSON.stringify
  const calls = t.capture(JSON, 'stringify', stringify)
  let built = 0
  // Each call of `calls()` hands over the calls made since the one before.
  const builds = () => (built += calls().filter(({ args }) => args[0]?.asyncapi === '3.0.0').length)
  const appTypes = async () => {
    const { body } = await getDocument(`${server.http}/ws/asyncapi.json`)
    return Object.keys(body.channels['/ws'].messages).filter((key) => key.startsWith('client.'))
      .map((key) => key.slice('client.'.length)).filter((type) => !Object.hasOwn(clientSchemas, type))
  }
  const late = () => {}
  t.same(await appTypes(), [], 'no app types yet')
  await appTypes()
  t.equal(builds(), 1, 'built once for two requests')

  server.app.events.on('late', { schema: { type: 'object', properties: { n: { type: 'number' } } } }, late)
  t.ok((await appTypes()).includes('late'), 'a type declared after listen() appears')
  t.equal(builds(), 2)
  await appTypes()
  t.equal(builds(), 2, 'and is cached again')

  server.app.events.off('late', late)
  t.notOk((await appTypes()).includes('late'), 'a removed type disappears')
  t.equal(builds(), 3)
})

t.test('a custom path, info and hooks guarding the document', async (t) => {
  const server = await startServer(t, {
    asyncapi: {
      path: '/docs/realtime.json',
      info: { title: 'Chat', version: '2.1.0' },
      onRequest: async (request, reply) => { if (request.headers['x-token'] !== 'yes') await reply.code(401).send({ error: 'token' }) },
      preHandler: [async (request, reply) => { if (request.headers['x-role'] !== 'dev') await reply.code(403).send({ error: 'role' }) }]
    }
  })
  t.equal((await fetch(`${server.http}/ws/asyncapi.json`)).status, 404, 'not at the default path')
  t.same(await getDocument(`${server.http}/docs/realtime.json`), { status: 401, type: 'application/json; charset=utf-8', body: { error: 'token' } })
  t.equal((await getDocument(`${server.http}/docs/realtime.json`, { 'x-token': 'yes' })).status, 403)
  const { status, body } = await getDocument(`${server.http}/docs/realtime.json`, { 'x-token': 'yes', 'x-role': 'dev' })
  t.equal(status, 200)
  t.same(body.info, { title: 'Chat', version: '2.1.0', description: 'The WebSocket API of this server (fastify-hauyna, wire protocol version 1).' })
  expectValid(t, body)
})

t.test('asyncapi: false serves no document; without a default endpoint, only the declared ones are described', async (t) => {
  const off = await startServer(t, { asyncapi: false })
  t.equal((await fetch(`${off.http}/ws/asyncapi.json`)).status, 404)

  const none = await startServer(t, { path: false, asyncapi: { info: { description: 'No endpoint.' } } })
  const empty = (await getDocument(`${none.http}/ws/asyncapi.json`)).body
  t.same([empty.channels, empty.operations, empty.info.description], [{}, {}, 'No endpoint.'])
  expectValid(t, empty)

  const declared = await startServer(t, { path: false }, (app) => { app.realtime('/only') })
  const { body } = await getDocument(`${declared.http}/ws/asyncapi.json`)
  t.same(Object.keys(body.channels), ['/only'])
  expectValid(t, body)
})

t.test('asyncapi option validation: HAUYNA_INVALID_OPTION naming the option', async (t) => {
  await expectInvalidOptions(t, [
    ['not an object', { asyncapi: 'yes' }, 'asyncapi'],
    ['true', { asyncapi: true }, 'asyncapi'],
    ['a path without a slash', { asyncapi: { path: 'asyncapi.json' } }, 'asyncapi.path'],
    ['a misspelt hook', { asyncapi: { onrequest: async () => {} } }, 'asyncapi.onrequest'],
    ['onRequest not a function', { asyncapi: { onRequest: 'token' } }, 'asyncapi.onRequest'],
    ['preHandler array with a non-function', { asyncapi: { preHandler: [async () => {}, 42] } }, 'asyncapi.preHandler'],
    ['info not an object', { asyncapi: { info: 'Chat' } }, 'asyncapi.info'],
    ['an unknown info field', { asyncapi: { info: { name: 'Chat' } } }, 'asyncapi.info.name'],
    ['an empty title', { asyncapi: { info: { title: '' } } }, 'asyncapi.info.title'],
    ['a numeric version', { asyncapi: { info: { version: 2 } } }, 'asyncapi.info.version'],
    ['a description that is not text', { asyncapi: { info: { description: ['x'] } } }, 'asyncapi.info.description']
  ])
})
