import { Type } from '@sinclair/typebox'
import t from 'tap'
import { compileJsonSchemaValidator } from '../lib/protocol/validator'
import { connect, startServer } from './helpers'

// App message types declared with each kind of schema: TypeBox 0.34 (its own compiler), and
// TypeBox 1.x and plain JSON Schema (Ajv, set up as Fastify sets it up for routes).

t.test('TypeBox 0.34: a valid message is handled, an invalid one answered with details', async (t) => {
  const received: unknown[] = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('note', { schema: Type.Object({ text: Type.String({ maxLength: 5 }) }, { additionalProperties: false }) },
      (_conn, msg) => { received.push(msg.text) })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  t.match(await a.request({ type: 'note', text: 'hi' }), { type: 'ack' })
  t.match(await a.request({ type: 'note', text: 'too long' }), {
    type: 'error', code: 'invalid_message', message: 'invalid "note" message',
    details: [{ path: '/text', message: 'Expected string length less or equal to 5' }]
  })
  t.same(received, ['hi'])
  t.same(a.violations, [])
})

t.test('TypeBox 0.34: at most 10 details', async (t) => {
  const fields = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, Type.String()]))
  const server = await startServer(t, {}, (app) => {
    app.events.on('form', { schema: Type.Object(fields) }, () => {})
  })
  const a = await connect(server.url({ userId: 'alice' }))
  const error = await a.request({ type: 'form' })
  t.equal(error.details.length, 10)
  t.same(error.details[0], { path: '/f0', message: 'Expected required property' })
  t.same(a.violations, [])
})

t.test('TypeBox 1.x: typed, validated by Ajv; a missing, a wrong and an extra field each answered with its path', async (t) => {
  const { Type: T1 } = await import('typebox')
  const received: Array<{ text: string, count?: number }> = []
  const server = await startServer(t, {}, (app) => {
    const schema = T1.Object({ text: T1.String({ maxLength: 5 }), count: T1.Optional(T1.Integer({ minimum: 0 })) },
      { additionalProperties: false })
    app.events.on('note', { schema }, (_conn, msg) => { received.push({ text: msg.text, count: msg.count }) })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  t.match(await a.request({ type: 'note', text: 'hi', count: 2 }), { type: 'ack' }, '`type` and `ref` pass a closed schema')
  t.match(await a.request({ type: 'note', text: 'bye' }), { type: 'ack' })
  const invalid = async (message: Record<string, unknown>) => (await a.request({ type: 'note', ...message })).details
  t.same(await invalid({ count: 1 }), [{ path: '/text', message: 'must have required property \'text\'' }])
  t.same(await invalid({ text: 'hi', count: -1 }), [{ path: '/count', message: 'must be >= 0' }])
  t.same(await invalid({ text: 'hi', mood: 'happy' }), [{ path: '/mood', message: 'must NOT have additional properties' }])
  t.same(await invalid({ text: 'x'.repeat(6) }), [{ path: '/text', message: 'must NOT have more than 5 characters' }])
  t.same(received, [{ text: 'hi', count: 2 }, { text: 'bye', count: undefined }])
  t.same(a.violations, [])
})

t.test('plain JSON Schema: Fastify\'s formats; no coercion, no defaults, extra fields refused rather than removed', async (t) => {
  const received: unknown[] = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('signup', {
      schema: {
        type: 'object',
        properties: {
          email: { type: 'string', format: 'email' },
          seats: { type: 'integer', default: 1 },
          'a/b~c': { type: 'boolean' },
          items: { type: 'array', items: { type: 'object', properties: { sku: { type: 'string' } }, required: ['sku'] } }
        },
        required: ['email'],
        additionalProperties: false
      }
    }, (_conn, msg) => { received.push(msg) })
  })
  const a = await connect(server.url({ userId: 'alice' }))
  t.match(await a.request({ type: 'signup', email: 'a@example.org' }), { type: 'ack' })
  t.match(received, [{ type: 'signup', email: 'a@example.org' }])
  t.notOk(Object.hasOwn(received[0] as object, 'seats'), 'no default filled in')
  const details = async (message: Record<string, unknown>) => {
    const answer = await a.request({ type: 'signup', ...message })
    t.equal(answer.code, 'invalid_message')
    return answer.details
  }
  t.same(await details({ email: 'nope' }), [{ path: '/email', message: 'must match format "email"' }], 'ajv-formats is on')
  t.same(await details({ email: 'a@example.org', seats: '2' }), [{ path: '/seats', message: 'must be integer' }], 'no coercion')
  t.same(await details({ email: 'a@example.org', admin: true }), [{ path: '/admin', message: 'must NOT have additional properties' }],
    'an extra field is refused, not silently removed')
  t.same(await details({ email: 'a@example.org', 'a/b~c': 1 }), [{ path: '/a~1b~0c', message: 'must be boolean' }], 'a JSON Pointer')
  t.same(await details({ email: 'a@example.org', items: [{ sku: 'x' }, {}] }), [{ path: '/items/1/sku', message: 'must have required property \'sku\'' }])
  t.same(await details({}), [{ path: '/email', message: 'must have required property \'email\'' }])
  t.equal(received.length, 1, 'invalid messages never reach the handler')
  t.same(a.violations, [])
})

t.test('plain JSON Schema: no properties takes any fields; TypeBox properties inside are JSON Schema; `type` may be declared', async (t) => {
  const received: unknown[] = []
  const server = await startServer(t, {}, (app) => {
    app.events.on('anything', { schema: { type: 'object', maxProperties: 3 } }, (_conn, msg) => { received.push(msg.type) })
    app.events.on('mixed', { schema: { type: 'object', properties: { n: Type.Integer() }, required: ['n'] } }, () => {})
    app.events.on('self-typed', { schema: { type: 'object', properties: { type: { const: 'self-typed' } }, required: ['type'] } }, () => {})
  })
  const a = await connect(server.url({ userId: 'alice' }))
  t.match(await a.request({ type: 'anything', x: [1, { y: 2 }] }), { type: 'ack' })
  t.same((await a.request({ type: 'anything', x: 1, y: 2 })).details, [{ path: '/', message: 'must NOT have more than 3 properties' }],
    'a failure of the message as a whole is at the root')
  t.match(await a.request({ type: 'mixed', n: 1 }), { type: 'ack' })
  t.same((await a.request({ type: 'mixed', n: 1.5 })).details, [{ path: '/n', message: 'must be integer' }])
  t.match(await a.request({ type: 'self-typed' }), { type: 'ack' }, 'a schema that declares `type` itself')
  t.same(received, ['anything'])
  t.same(a.violations, [])
})

t.test('schemas that cannot be compiled: HAUYNA_INVALID_SCHEMA naming the type and the reason; nothing is declared', async (t) => {
  const server = await startServer(t)
  const { events } = server.app
  const noop = () => {}
  const objectSchema = 'the schema must be an object schema: JSON Schema { type: "object", properties, required }, or TypeBox\'s Type.Object'
  const cyclic: Record<string, unknown> = { type: 'object', properties: {} }
  ;(cyclic.properties as Record<string, unknown>).self = cyclic
  const cases: Array<[string, unknown, string | RegExp]> = [
    ['scalar', Type.String(), objectSchema],
    ['nothing', null, objectSchema],
    ['text', 'object', objectSchema],
    ['list', [{ type: 'object' }], objectSchema],
    ['union', { anyOf: [{ type: 'object' }] }, objectSchema],
    ['v1-scalar', { '~kind': 'String', type: 'string' }, objectSchema],
    ['bad-properties', { type: 'object', properties: [] }, objectSchema],
    ['bad-required', { type: 'object', required: 'text' }, objectSchema],
    ['typo', { type: 'object', properties: { n: { type: 'integr' } } }, /^Ajv cannot compile the schema: schema is invalid: data\/properties\/n\/type/],
    ['unknown-keyword', { type: 'object', properties: { n: { type: 'integer', maximun: 3 } } },
      'Ajv cannot compile the schema: strict mode: unknown keyword: "maximun"'],
    ['dangling-ref', { type: 'object', properties: { n: { $ref: '#/definitions/nope' } } }, /^Ajv cannot compile the schema: can't resolve reference/],
    ['async', { $async: true, type: 'object', properties: { n: { type: 'integer' } } },
      'Ajv cannot compile the schema: $async schemas are not supported: messages are checked synchronously'],
    ['typebox-ref', Type.Object({ n: Type.Ref('Nope') }), 'TypeBox cannot compile the schema: Unable to dereference schema with $id \'Nope\''],
    ['bigint', Type.Object({ n: Type.BigInt({ minimum: 1n }) }), 'the schema is not JSON: Do not know how to serialize a BigInt'],
    ['cyclic', cyclic, /^the schema is not JSON: Converting circular structure to JSON/]
  ]
  for (const [type, schema, reason] of cases) {
    const error = t.throws(() => events.on(type, { schema: schema as never }, noop)) as Error & { code?: string }
    t.equal(error?.code, 'HAUYNA_INVALID_SCHEMA', `${type}: code`)
    const prefix = `Message type "${type}": `
    t.ok(error?.message.startsWith(prefix), `${type}: names the type (${error?.message})`)
    if (typeof reason === 'string') t.equal(error?.message.slice(prefix.length), reason, `${type}: the reason`)
    else t.match(error?.message.slice(prefix.length), reason, `${type}: the reason`)
  }
  t.same([...events.messageTypes.keys()], [], 'none of them was declared')
})

t.test('a JSON Schema validator\'s details on a valid value are empty; one Ajv serves every schema', async (t) => {
  const first = compileJsonSchemaValidator({ type: 'object', properties: { n: { type: 'number' } } })
  const second = compileJsonSchemaValidator({ type: 'object', required: ['m'] })
  t.equal(first.check({ n: 1 }), true)
  t.same(first.details({ n: 1 }), [])
  t.same(second.details({}), [{ path: '/m', message: 'must have required property \'m\'' }])
})
