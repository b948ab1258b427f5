// fast-check arbitraries derived from TypeBox schemas: the protocol's client schemas
// (lib/protocol/schemas.ts) become generators of frames the server must accept.
import { Kind, type TSchema } from '@sinclair/typebox'
import fc from 'fast-check'

/** Names often shared between frames, so that subscriptions, publishes and presence meet. */
const COMMON_NAMES = ['lobby', 'presence:lobby', 'room-1', 'presence:room-1', 'fuzz-0', 'fuzz-1', 'a', ' ', 'é', '🙂']

/** Strings of every kind of character: printable ASCII, graphemes, and any UTF-16 unit (lone surrogates included). */
export function anyString (constraints: { minLength?: number, maxLength?: number } = {}): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string(constraints),
    fc.string({ ...constraints, unit: 'grapheme' }),
    fc.string({ ...constraints, unit: 'binary' })
  )
}

function stringOf (schema: TSchema): fc.Arbitrary<string> {
  const constraints = { minLength: schema.minLength as number | undefined, maxLength: Math.min(schema.maxLength as number ?? 40, 40) }
  if (schema.pattern === undefined) return anyString(constraints)
  const pattern = new RegExp(schema.pattern as string)
  return fc.oneof(fc.constantFrom(...COMMON_NAMES), anyString(constraints)).filter((s) => pattern.test(s))
}

function objectOf (schema: TSchema): fc.Arbitrary<Record<string, unknown>> {
  const properties = schema.properties as Record<string, TSchema>
  const required = new Set<string>(schema.required as string[] ?? [])
  const record = Object.fromEntries(Object.entries(properties).map(([key, value]) => [key, arbitraryOf(value)]))
  return fc.record(record, { requiredKeys: Object.keys(properties).filter((key) => required.has(key)) })
}

/** A generator of values valid against `schema`, for the TypeBox kinds the protocol uses. */
export function arbitraryOf (schema: TSchema): fc.Arbitrary<unknown> {
  switch (schema[Kind]) {
    case 'Object': return objectOf(schema)
    case 'Literal': return fc.constant(schema.const)
    case 'String': return stringOf(schema)
    case 'Number': return fc.oneof(fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }))
    case 'Integer': return fc.integer({ min: schema.minimum as number | undefined })
    case 'Boolean': return fc.boolean()
    case 'Union': return fc.oneof(...(schema.anyOf as TSchema[]).map(arbitraryOf))
    case 'Array': return fc.array(arbitraryOf(schema.items as TSchema), { maxLength: 5 })
    case 'Record': return fc.dictionary(anyString({ maxLength: 10 }), arbitraryOf(Object.values(schema.patternProperties as Record<string, TSchema>)[0]), { maxKeys: 4, size: 'xsmall' })
    // Small values keep generation cheap enough for a million frames; the mutations add the big ones.
    case 'Unknown': return fc.jsonValue({ maxDepth: 2, depthSize: 'xsmall' })
    default: throw new Error(`no arbitrary for TypeBox kind ${String(schema[Kind])}`)
  }
}
