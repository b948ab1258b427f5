import AjvCompiler, { type Ajv, type ErrorObject } from '@fastify/ajv-compiler'
import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox'
import { TypeCompiler } from '@sinclair/typebox/compiler'

const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/
if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', (value) => isoDateTime.test(value))

export interface ValidationDetail { path: string, message: string }

export interface Validator<S extends TSchema = TSchema> {
  check (value: unknown): value is Static<S>
  details (value: unknown): ValidationDetail[]
}

const MAX_DETAILS = 10

/** Compiles a TypeBox 0.34 schema once; `details` is only called on the failure path. */
export function compileValidator<S extends TSchema> (schema: S): Validator<S> {
  const compiled = TypeCompiler.Compile(schema)
  return {
    check: (value: unknown): value is Static<S> => compiled.Check(value),
    details (value: unknown): ValidationDetail[] {
      const out: ValidationDetail[] = []
      for (const error of compiled.Errors(value)) {
        out.push({ path: error.path === '' ? '/' : error.path, message: error.message })
        if (out.length === MAX_DETAILS) break
      }
      return out
    }
  }
}

/**
 * Fastify's own Ajv setup for routes (@fastify/ajv-compiler: its defaults, ajv-formats,
 * fast-uri), with three of its defaults turned off for WebSocket messages, which are JSON with
 * real types (nothing to coerce, unlike a query string): validation never changes the message
 * a handler receives, and a schema that forbids extra fields refuses them, as TypeBox does,
 * rather than silently dropping them. `allErrors` stays off, Fastify's guard against
 * schemas that cost too much on hostile input: Ajv reports the first failure only.
 */
const messageAjvOptions = { coerceTypes: false, useDefaults: false, removeAdditional: false } as const

let shared: Ajv | undefined

// Built on first use: an app that declares no JSON Schema never pays for an Ajv instance.
function ajv (): Ajv {
  if (shared === undefined) {
    AjvCompiler()({}, { customOptions: messageAjvOptions, onCreate: (instance) => { shared = instance } })
  }
  return shared as Ajv
}

/** A JSON Pointer token (RFC 6901): `~` and `/` in a name are escaped. */
export function pointerToken (name: string): string {
  return name.replace(/~/g, '~0').replace(/\//g, '~1')
}

/** Ajv names a missing or extra property on its parent; TypeBox, and the wire, on the property. */
function detailOf (error: ErrorObject): ValidationDetail {
  const property = error.params as { missingProperty?: string, additionalProperty?: string }
  const name = property.missingProperty ?? property.additionalProperty
  const path = name === undefined ? error.instancePath : `${error.instancePath}/${pointerToken(name)}`
  // Ajv writes a message on every error unless built with `messages: false`, which this one is not.
  return { path: path === '' ? '/' : path, message: error.message as string }
}

// The validator lives as long as its message type; Ajv's cache would keep every schema ever
// given to it, compiled or refused.
function compileUncached (schema: object): ReturnType<Ajv['compile']> {
  const instance = ajv()
  try {
    return instance.compile(schema)
  } finally {
    instance.removeSchema(schema)
  }
}

/** Compiles a plain JSON Schema (TypeBox 1.x schemas are plain JSON Schema) once; throws what Ajv throws. */
export function compileJsonSchemaValidator (schema: object): Validator {
  const validate = compileUncached(schema)
  // An `$async` schema's validator returns a promise, which `check` would take for a pass.
  if ('$async' in validate) throw new Error('$async schemas are not supported: messages are checked synchronously')
  return {
    check: (value: unknown): value is unknown => validate(value) as boolean,
    details (value: unknown): ValidationDetail[] {
      validate(value)
      return (validate.errors ?? []).slice(0, MAX_DETAILS).map(detailOf)
    }
  }
}
