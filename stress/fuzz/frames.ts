// The fuzz scenario's frames: valid ones from the protocol's client schemas, the same mutated
// (wrong types, missing and extra fields, huge strings, deep nesting, invalid refs, unicode,
// prototype keys, other types), and garbage (text that is no JSON object, binary frames).
// Each becomes a template whose `ref` the sender fills with a unique value.
import fc from 'fast-check'
import { clientSchemas } from '../../lib/protocol/schemas'
import { anyString, arbitraryOf } from './from-schema'

/** Where the sender puts a fresh ref; any other ref value is a mutation the server must refuse. */
const REF = '\u0001ref\u0001'
const REF_JSON = JSON.stringify(REF)
const DEEP = /"\\u0001deep:(\d+):(array|object)\\u0001"/g
const INFINITE = '"\\u0001infinite\\u0001"'

// The server's frame limit is 64 KiB: beyond it the connection is closed (1009), not answered.
const MAX_FRAME_BYTES = 60_000

/** A frame to send: text split where the ref goes (one part: no ref), or binary bytes. */
export interface Template {
  parts: string[]
  binary?: Buffer
  /** The server must answer it with exactly one ack or error bearing the ref. */
  answered: boolean
}

type Frame = Record<string, unknown>

const builtin = Object.entries(clientSchemas).filter(([type]) => type !== 'disconnect').map(([, schema]) => arbitraryOf(schema))
const valid: fc.Arbitrary<Frame> = fc.oneof(...builtin).map((frame) => ({ ...(frame as Frame), ref: REF }))

const otherJson = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }), anyString({ maxLength: 20 }))
const prototypeKey = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__')
const pollution = fc.constantFrom(
  '{"__proto__":{"polluted":"yes"}}', '{"constructor":{"prototype":{"polluted":"yes"}}}',
  '{"__proto__":{"toString":"x","type":"broadcast"}}', '{"prototype":{"polluted":"yes"}}'
).map((text) => JSON.parse(text) as unknown)
const oddStrings = fc.constantFrom('\u0000', '\ud800', '\udfff\ud800', '\u202e\u202d', '\ufeff', 'e\u0301\u0301\u0301', '🙂'.repeat(200), '\u0085\u2028\u2029', 'ｆｕｌｌ', '𝕳𝖆𝖚𝖞𝖓𝖆')

const keyOf = (frame: Frame): fc.Arbitrary<string> => fc.constantFrom(...Object.keys(frame))
const set = (frame: Frame, key: string, value: unknown): Frame => ({ ...frame, [key]: value })

const mutations: Array<(frame: Frame) => fc.Arbitrary<Frame>> = [
  (frame) => fc.tuple(keyOf(frame), otherJson).map(([key, value]) => set(frame, key, value)),
  (frame) => keyOf(frame).map((key) => { const copy = { ...frame }; delete copy[key]; return copy }),
  (frame) => fc.tuple(fc.oneof(prototypeKey, anyString({ maxLength: 10 })), fc.jsonValue({ maxDepth: 2 }))
    .map(([key, value]) => Object.defineProperty({ ...frame }, key, { value, enumerable: true, writable: true, configurable: true })),
  (frame) => fc.tuple(fc.constantFrom(...Object.keys(frame), 'data', 'meta', 'channel'), fc.constantFrom(1_000, 4_000, 16_000, 59_000), anyString({ minLength: 1, maxLength: 3 }))
    .map(([key, length, unit]) => set(frame, key, unit.repeat(Math.ceil(length / unit.length)))),
  (frame) => fc.tuple(fc.constantFrom('data', 'meta', 'since', 'ts'), fc.constantFrom(50, 500, 5_000, 20_000), fc.constantFrom('array', 'object'))
    .map(([key, depth, kind]) => set(frame, key, `\u0001deep:${depth}:${kind}\u0001`)),
  (frame) => fc.oneof(anyString({ minLength: 65, maxLength: 80 }), otherJson.filter((v) => typeof v !== 'string' && typeof v !== 'number'), fc.constant('\u0001infinite\u0001'))
    .map((ref) => set(frame, 'ref', ref)),
  (frame) => fc.tuple(fc.constantFrom(...Object.keys(frame).filter((k) => k !== 'ref')), oddStrings).map(([key, value]) => set(frame, key, value)),
  (frame) => fc.tuple(fc.constantFrom('meta', 'data', 'since'), pollution).map(([key, value]) => set(frame, key, value)),
  (frame) => fc.constantFrom('__proto__', 'constructor').map((key) => Object.defineProperty({ ...frame }, key, { value: { polluted: 'yes' }, enumerable: true })),
  (frame) => fc.oneof(fc.constantFrom('subscribe', 'publish', 'disconnect', 'hello', 'constructor', '__proto__', 'toString', ''), otherJson)
    .map((type) => set(frame, 'type', type))
]

const mutated: fc.Arbitrary<Frame> = fc.tuple(valid, fc.nat(mutations.length - 1)).chain(([frame, k]) => mutations[k](frame))

const garbage: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  anyString({ maxLength: 200 }),
  fc.tuple(valid, fc.nat()).map(([frame, cut]) => { const text = JSON.stringify(frame); return text.slice(0, cut % text.length) }),
  fc.jsonValue({ maxDepth: 3 }).filter((v) => v === null || typeof v !== 'object' || Array.isArray(v)).map((v) => JSON.stringify(v)),
  fc.constantFrom('', ' ', 'null', '[]', '{}', '{"type":null}', '{"ref":"r"}', '{"type":"publish"', 'undefined', 'NaN', '\u0000'),
  fc.uint8Array({ maxLength: 200 })
)

/** PROTOCOL.md's ref: a string of at most 64 characters or a finite number. */
function hasValidRef (text: string): boolean {
  let frame: Frame | null
  try { frame = JSON.parse(text) as Frame | null } catch { return false }
  const ref = frame?.ref
  return (typeof ref === 'string' && ref.length <= 64) || (typeof ref === 'number' && Number.isFinite(ref))
}

const deepValue = (depth: number, kind: string): string =>
  kind === 'array' ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)

/** The text as sent, and whether the server must answer it with its ref (known by parsing it as the server does). */
function templateOf (item: Frame | string | Uint8Array): Template | undefined {
  if (item instanceof Uint8Array) return { parts: [], binary: Buffer.from(item), answered: false }
  let text = typeof item === 'string' ? item : JSON.stringify(item)
  // Placeholders for what JSON.stringify cannot write: deep nesting without recursion, 1e999.
  if (text.includes('\\u0001')) {
    text = text.replace(DEEP, (_m, depth: string, kind: string) => deepValue(Number(depth), kind)).replaceAll(INFINITE, '1e999')
  }
  const parts = text.split(REF_JSON)
  if ((text.length > MAX_FRAME_BYTES / 3 && Buffer.byteLength(text) > MAX_FRAME_BYTES) || parts.length > 2) return undefined
  // A ref of the generator's own (a garbage constant, a mutated field) could repeat: left out.
  if (parts.length === 1) return text.includes('"ref"') && hasValidRef(text) ? undefined : { parts, answered: false }
  let parsed: unknown
  try { parsed = JSON.parse(parts.join('0')) } catch { return { parts, answered: false } }
  const frame = parsed as Frame | null
  // A valid `disconnect` closes the connection: its later frames would go unanswered.
  if (frame?.type === 'disconnect') return undefined
  return { parts, answered: typeof frame === 'object' && !Array.isArray(frame) && frame?.ref === 0 }
}

/** Valid, mutated and garbage frames, 3 : 5 : 2. */
export const frames: fc.Arbitrary<Frame | string | Uint8Array> = fc.oneof(
  { arbitrary: valid, weight: 3 }, { arbitrary: mutated, weight: 5 }, { arbitrary: garbage, weight: 2 }
)

/** `count` templates from `seed`; frames the server would close the connection for are left out. */
export function templates (count: number, seed: number): Template[] {
  return fc.sample(frames, { numRuns: count, seed }).flatMap((item) => templateOf(item) ?? [])
}
