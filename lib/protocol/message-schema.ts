import { Kind, type TSchema, Type } from '@sinclair/typebox'
import { errors } from '../errors'
import { Ref } from './schemas'
import { compileJsonSchemaValidator, compileValidator, type Validator } from './validator'

// The schema kinds an app message type may be declared with, matched by shape: TypeBox ships
// separate CommonJS and ESM typings whose symbols differ, TypeBox 1.x is another package, and
// a JavaScript app writes plain JSON Schema. None of their types is imported here.

/** TypeBox 0.34's `Type.Object`: its `static` is the message's type. */
export interface TypeBoxObjectSchema {
  type: 'object'
  properties: Record<string, unknown>
  static: unknown
}

/** TypeBox 1.x's `Type.Object`, marked by `~kind`: the message's type is read from the kinds. */
export interface TypeBox1ObjectSchema {
  '~kind': 'Object'
  type: 'object'
  properties: Record<string, unknown>
}

/** A plain JSON Schema of an object, as Fastify routes take it. */
export interface JsonObjectSchema {
  type: 'object'
  properties?: Record<string, unknown>
  required?: readonly string[]
  [keyword: string]: unknown
}

export type ObjectSchema = TypeBoxObjectSchema | TypeBox1ObjectSchema | JsonObjectSchema

// TypeBox 1.x puts no `static` on its schemas: its `Static` is a type of the package, which
// this one does not depend on. The common kinds are read here; any other is `unknown`.
interface Optional1 { '~optional': true }
type Properties1<P> = { [K in keyof P as P[K] extends Optional1 ? never : K]: Static1<P[K]> } &
  { [K in keyof P as P[K] extends Optional1 ? K : never]?: Static1<P[K]> }
type Flat<T> = { [K in keyof T]: T[K] } & {}
type Static1<S> =
  S extends { '~kind': 'Object', properties: infer P } ? Flat<Properties1<P>> :
    S extends { '~kind': 'String' } ? string :
      S extends { '~kind': 'Number' | 'Integer' } ? number :
        S extends { '~kind': 'Boolean' } ? boolean :
          S extends { '~kind': 'Null' } ? null :
            S extends { '~kind': 'Literal', const: infer V } ? V :
              S extends { '~kind': 'Enum', enum: ReadonlyArray<infer V> } ? V :
                S extends { '~kind': 'Array', items: infer I } ? Array<Static1<I>> :
                  S extends { '~kind': 'Union', anyOf: ReadonlyArray<infer U> } ? Static1<U> :
                    S extends { '~kind': 'Record', patternProperties: Record<string, infer V> } ? Record<string, Static1<V>> :
                      unknown

/** The fields a schema declares: TypeBox's static type, or any fields for plain JSON Schema. */
export type StaticOf<S> =
  S extends { static: infer T } ? T :
    S extends { '~kind': 'Object' } ? Static1<S> :
      Record<string, unknown>

export type JsonObject = Record<string, unknown>

/** `value` as plain JSON: TypeBox's symbols and non-enumerable `~` keys are dropped. */
export function plainJson (value: object): JsonObject {
  return JSON.parse(JSON.stringify(value)) as JsonObject
}

/** An app message type's schema, compiled once at declaration. */
export interface CompiledMessageSchema {
  validator: Validator
  /** The schema with the envelope (`type`, `ref`), as plain JSON: what the AsyncAPI document shows. */
  payload: JsonObject
}

function isRecord (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// Checked before the envelope is added to them: a malformed `properties` or `required` would be lost in it.
function isObjectSchema (schema: unknown): schema is JsonObjectSchema {
  if (!isRecord(schema) || schema.type !== 'object') return false
  const { properties = {}, required = [] } = schema
  return isRecord(properties) && Array.isArray(required)
}

/** `type` and `ref` are part of every message, even under a schema that forbids other fields. */
function withEnvelope (type: string, schema: JsonObjectSchema): JsonObjectSchema {
  return {
    ...schema,
    properties: { ...schema.properties, type: Type.Literal(type), ref: Type.Optional(Ref) },
    // A schema may list `type` already: JSON Schema wants each name once.
    required: [...new Set([...schema.required ?? [], 'type'])]
  }
}

function compileWith (type: string, compiler: string, compile: () => Validator): Validator {
  try {
    return compile()
  } catch (error) {
    throw new errors.InvalidSchema(type, `${compiler} cannot compile the schema: ${(error as Error).message}`)
  }
}

function payloadOf (type: string, schema: JsonObjectSchema): JsonObject {
  try {
    return plainJson(schema)
  } catch (error) {
    throw new errors.InvalidSchema(type, `the schema is not JSON: ${(error as Error).message}`)
  }
}

/**
 * Compiles a declared type's schema once: TypeBox 0.34 with its own compiler (faster than Ajv
 * on the flat messages apps send), anything else as JSON Schema with Ajv. Throws
 * HAUYNA_INVALID_SCHEMA naming the type.
 */
export function compileMessageSchema (type: string, schema: unknown): CompiledMessageSchema {
  if (!isObjectSchema(schema)) {
    throw new errors.InvalidSchema(type,
      'the schema must be an object schema: JSON Schema { type: "object", properties, required }, or TypeBox\'s Type.Object')
  }
  const full = withEnvelope(type, schema)
  const payload = payloadOf(type, full)
  // The envelope spread the schema's own symbols, `Kind` included, onto `full`.
  const validator = Kind in schema
    ? compileWith(type, 'TypeBox', () => compileValidator(full as unknown as TSchema))
    : compileWith(type, 'Ajv', () => compileJsonSchemaValidator(payload))
  return { validator, payload }
}
