import { errors } from '../errors'

const MAX_NAME = 200
// eslint-disable-next-line no-control-regex
const controlCharacter = /[\x00-\x1f\x7f]/
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype'])
// Stored metas are replaced, never changed in place: every absent one can be this object.
const NO_META: Record<string, unknown> = Object.freeze({})

/** Channel, group and user names: 1–200 characters, no control characters. */
export function isValidName (name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME && !controlCharacter.test(name)
}

export function checkName (kind: string, name: unknown): string {
  if (!isValidName(name)) {
    throw new errors.InvalidName(kind, `must be 1-${MAX_NAME} characters without control characters, got ${JSON.stringify(name)}`)
  }
  return name
}

function hasForbiddenKey (value: unknown, depth: number): boolean {
  if (value === null || typeof value !== 'object' || depth > 32) return false
  for (const key of Object.keys(value)) {
    if (forbiddenKeys.has(key) || hasForbiddenKey((value as Record<string, unknown>)[key], depth + 1)) return true
  }
  return false
}

/** Metadata objects: plain JSON objects, no prototype keys, at most `maxBytes` serialized. */
export function checkMeta (what: string, meta: unknown, maxBytes: number): Record<string, unknown> {
  if (meta === undefined) return NO_META
  if (meta === null || typeof meta !== 'object' || Array.isArray(meta)) {
    throw new errors.InvalidMeta(what, 'must be an object')
  }
  if (hasForbiddenKey(meta, 0)) throw new errors.InvalidMeta(what, 'keys __proto__, constructor and prototype are not allowed')
  const bytes = Buffer.byteLength(JSON.stringify(meta))
  if (bytes > maxBytes) throw new errors.TooLarge(what, bytes, maxBytes)
  return meta as Record<string, unknown>
}
