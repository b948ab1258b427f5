import { errors } from '../errors'

const MAX_NAME = 200
const MAX_STATUS = 64
// Printable ASCII: nothing to normalize and nothing invisible, so most names skip the Unicode checks.
const plainAscii = /^[\x20-\x7e]*$/
// Characters that show as nothing, so a name holding one passes for another: controls, format
// characters (zero-width space and joiners, bidi controls, BOM), line and paragraph separators,
// and Unicode's other default-ignorables (Hangul fillers, variation selectors).
const invisible = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/u
const forbiddenKeys = new Set(['__proto__', 'constructor', 'prototype'])
// Stored metas are replaced, never changed in place: every absent one can be this object.
export const NO_META: Record<string, unknown> = Object.freeze({})
const NAME_RULE = `must be 1-${MAX_NAME} characters without control or invisible characters`

/** Channel, group and user names: 1–200 characters, no control or invisible characters. */
export function isValidName (name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= MAX_NAME &&
    (plainAscii.test(name) || !invisible.test(name))
}

export function checkName (kind: string, name: unknown): string {
  if (!isValidName(name)) throw new errors.InvalidName(kind, `${NAME_RULE}, got ${JSON.stringify(name)}`)
  return name
}

/** A presence status: a name of at most 64 characters, as the wire schema allows. */
export function isValidStatus (status: unknown): status is string {
  return isValidName(status) && status.length <= MAX_STATUS
}

export function checkStatus (status: unknown): string {
  if (!isValidStatus(status)) {
    throw new errors.InvalidName('status', `must be 1-${MAX_STATUS} characters without control or invisible characters, got ${JSON.stringify(status)}`)
  }
  return status
}

/**
 * A user id in its one stored form, NFC and trimmed, so `alice `, `alice` and a decomposed
 * `é` each name a single user; `undefined` when it is no valid name once normalized.
 */
export function normalizeUserId (id: unknown): string | undefined {
  if (typeof id !== 'string') return undefined
  const normalized = (plainAscii.test(id) ? id : id.normalize('NFC')).trim()
  return isValidName(normalized) ? normalized : undefined
}

/** `normalizeUserId`, throwing HAUYNA_INVALID_NAME for an invalid id. */
export function checkUserId (id: unknown): string {
  const normalized = normalizeUserId(id)
  if (normalized === undefined) throw new errors.InvalidName('user', `${NAME_RULE}, got ${JSON.stringify(id)}`)
  return normalized
}

/**
 * The key to look a user up by: an invalid id is stored nowhere, so it is used as given
 * and finds nobody (lookups answer "none" rather than throw, as for an unknown user).
 */
export function userKey (id: string): string {
  return normalizeUserId(id) ?? id
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
