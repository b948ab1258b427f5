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

/** Compiles a schema once; `details` is only called on the failure path. */
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
