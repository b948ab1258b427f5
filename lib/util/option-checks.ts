import { errors } from '../errors'

// Checks for registration options: each throws HAUYNA_INVALID_OPTION naming the option, and
// returns the fallback for an absent value.

export function fail (name: string, reason: string): never {
  throw new errors.InvalidOption(name, reason)
}

export function integer (name: string, value: unknown, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    fail(name, `must be an integer >= ${min}, got ${JSON.stringify(value)}`)
  }
  return value
}

export function boolean (name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') fail(name, `must be a boolean, got ${JSON.stringify(value)}`)
  return value
}

export function text (name: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || value.length === 0) fail(name, 'must be a non-empty string')
  return value
}

export function routePath (name: string, value: unknown, fallback: string): string {
  const path = text(name, value, fallback)
  if (!path.startsWith('/')) fail(name, `must start with "/", got ${JSON.stringify(path)}`)
  return path
}

export function object<T extends object> (name: string, value: unknown): Partial<T> {
  if (value === undefined) return {}
  if (value === null || typeof value !== 'object' || Array.isArray(value)) fail(name, 'must be an object')
  return value as Partial<T>
}

export function routeHooks (name: string, value: unknown): void {
  if (value === undefined) return
  const list: unknown[] = Array.isArray(value) ? value : [value]
  if (!list.every((hook) => typeof hook === 'function')) fail(name, 'must be a function or an array of functions')
}
