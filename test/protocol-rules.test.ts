// The protocol's small rules at their edges: names, metas, nesting, close codes, timestamps and
// validation details. The end-to-end tests show each rule applied to frames; these pin the rule.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { Type } from '@sinclair/typebox'
import { checkMeta, checkName, checkUserId, isValidName, normalizeUserId } from '../lib/protocol/names'
import { MAX_NESTING, nestsDeeperThan } from '../lib/protocol/nesting'
import { isValidCloseCode } from '../lib/protocol/codes'
import { isoNow } from '../lib/protocol/frames'
import { compileValidator } from '../lib/protocol/validator'
import { wireCodeOf } from '../lib/protocol/wire-codes'
import { delay } from './helpers'

const nested = (depth: number, leaf: unknown): unknown => depth === 0 ? leaf : { d: nested(depth - 1, leaf) }

t.test('names: strings only, 1–200 characters; the error says the rule and what it got', async (t) => {
  t.equal(isValidName(['a']), false, 'an array of one character is no name')
  t.equal(isValidName('a'.repeat(200)), true)
  t.equal(isValidName('a\u200bb'), false, 'a zero-width space hides in a name')
  t.throws(() => checkName('channel', 'a\u0007'), {
    code: 'HAUYNA_INVALID_NAME',
    message: 'Invalid channel name: must be 1-200 characters without control or invisible characters, got "a\\u0007"'
  })
  t.throws(() => checkUserId('  '), {
    code: 'HAUYNA_INVALID_NAME',
    message: 'Invalid user name: must be 1-200 characters without control or invisible characters, got "  "'
  })
  t.equal(normalizeUserId(' Zoe\u0301 '), 'Zo\u00e9', 'NFC and trimmed')
})

t.test('metas: plain objects within maxBytes, no prototype keys at any depth the scan reaches', async (t) => {
  for (const bad of [null, 'x', 5, ['a']]) {
    t.throws(() => checkMeta('channel meta', bad, 100), { code: 'HAUYNA_INVALID_META', message: 'Invalid channel meta: must be an object' },
      `${JSON.stringify(bad)} is refused`)
  }
  t.same(checkMeta('meta', { a: null, b: [null, { c: null }], s: 'text' }, 100), { a: null, b: [null, { c: null }], s: 'text' },
    'nulls and strings inside are fine')
  t.throws(() => checkMeta('meta', JSON.parse('{"a":{"constructor":1}}'), 100), {
    code: 'HAUYNA_INVALID_META', message: 'Invalid meta: keys __proto__, constructor and prototype are not allowed'
  })
  t.throws(() => checkMeta('meta', nested(32, JSON.parse('{"prototype":1}')), 10_000), { code: 'HAUYNA_INVALID_META' },
    'a forbidden key 32 levels down is found')
  // The scan stops below 32 levels (its stack stays bounded); such a key there is plain data.
  t.doesNotThrow(() => checkMeta('meta', nested(34, JSON.parse('{"prototype":1}')), 10_000))
  const exact = { k: 'x'.repeat(10) }
  const size = Buffer.byteLength(JSON.stringify(exact))
  t.equal(checkMeta('meta', exact, size), exact, 'exactly maxBytes is allowed')
  t.throws(() => checkMeta('meta', exact, size - 1), { code: 'HAUYNA_TOO_LARGE' })
})

t.test('nesting: counted from the bytes, both brackets, strings and escapes skipped', async (t) => {
  const max = 4
  const scan = (text: string): boolean => nestsDeeperThan(Buffer.from(text), max)
  t.equal(scan('[[[[1]]]]'), false, 'exactly max levels')
  t.equal(scan('[[[[[1]]]]]'), true, 'one more')
  t.equal(scan('{"a":{"b":{"c":{"d":{}}}}}'), true, 'objects count')
  t.equal(scan('{"a":[{"c":[{}]}]}'), true, 'and mixed')
  t.equal(scan('[[[[]]]][[[[]]]][[[[]]]]'), false, 'closing brackets bring the depth down')
  t.equal(scan('{"a":{"b":{"c":{"d":1}}},"e":{"f":{"g":{"h":2}}}}'), false, 'closing braces too')
  t.equal(scan('["[[[[[[[[[["]'), false, 'brackets inside a string do not count')
  t.equal(scan('["\\"[[[[[[[[[["]'), false, 'nor after an escaped quote inside it')
  t.equal(scan('["\\\\",[[[[[1]]]]]]'), true, 'an escaped backslash ends before the quote that closes the string')
  t.equal(nestsDeeperThan(Buffer.from('['.repeat(MAX_NESTING + 1)), MAX_NESTING), true)
})

t.test('close codes an endpoint may send', async (t) => {
  const allowed = [1000, 1001, 1002, 1003, 1007, 1008, 1011, 1014, 3000, 4000, 4999]
  const refused = [999, 1004, 1005, 1006, 1015, 2999, 5000, 1000.5, 3000.5, Number.NaN, -1000]
  for (const code of allowed) t.equal(isValidCloseCode(code), true, `${code} may be sent`)
  for (const code of refused) t.equal(isValidCloseCode(code), false, `${code} may not`)
})

t.test('timestamps: the current time, in ISO form, moving with the clock', async (t) => {
  const before = Date.now()
  const first = isoNow()
  t.ok(Date.parse(first) >= before && Date.parse(first) <= Date.now(), `${first} is now`)
  await delay(5)
  t.ok(Date.parse(isoNow()) > Date.parse(first), 'a later call is later')
})

t.test('date-time format: a full ISO timestamp, nothing around it', async (t) => {
  const validator = compileValidator(Type.String({ format: 'date-time' }))
  for (const ok of ['2026-12-03T08:00:00Z', '2026-12-03T08:00:00.123Z', '2026-12-03T08:00:00+01:00', '2026-12-03T08:00:00-05:30']) {
    t.ok(validator.check(ok), `accepts ${ok}`)
  }
  for (const bad of ['x2026-12-03T08:00:00Z', '2026-12-03T08:00:00Zx', '2026-12-03T08:00:00*01:00', '2026-12-03T08:00:00+1:00',
    '2026-12-03T08:00:00+ab:00', '2026-12-03T08:00:00+01:0', '2026-12-03T08:00:00+01:ab', '2026-12-03 08:00:00Z']) {
    t.notOk(validator.check(bad), `rejects ${bad}`)
  }
})

t.test('date-time format: an app that registered its own first keeps it', async (t) => {
  const script = `
    const { FormatRegistry } = require('@sinclair/typebox')
    FormatRegistry.Set('date-time', (value) => value === 'mine')
    const { compileValidator } = require('./lib/protocol/validator')
    const { Type } = require('@sinclair/typebox')
    process.stdout.write(String(compileValidator(Type.String({ format: 'date-time' })).check('mine')))`
  // No coverage from this child: tsx compiles validator.ts to other code than tap's loader
  // does, and merging the two corrupts the figures of the whole file.
  const env = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }
  const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], { cwd: `${__dirname}/..`, encoding: 'utf8', env })
  t.equal(out, 'true')
})

t.test('validation details: a path for each failure, "/" for the root, at most ten', async (t) => {
  t.same(compileValidator(Type.String()).details(5), [{ path: '/', message: 'Expected string' }])
  const twelve = Type.Object(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, Type.String()])))
  const details = compileValidator(twelve).details(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`f${i}`, i])))
  t.equal(details.length, 10)
  t.same(details[0], { path: '/f0', message: 'Expected string' })
})

t.test('wire codes: a plugin error a client may see keeps its meaning, anything else is internal_error', async (t) => {
  t.equal(wireCodeOf({ code: 'HAUYNA_FORBIDDEN' }), 'forbidden')
  t.equal(wireCodeOf({ code: 'HAUYNA_INVALID_META' }), 'invalid_message')
  t.equal(wireCodeOf({ code: 'HAUYNA_UNKNOWN_CONNECTION' }), 'internal_error', 'not every plugin error is the client\'s business')
  t.equal(wireCodeOf(null), 'internal_error', 'a handler may throw null')
  t.equal(wireCodeOf(undefined), 'internal_error')
  t.equal(wireCodeOf({ code: { toString: () => 'HAUYNA_FORBIDDEN' } }), 'internal_error', 'only string codes are looked up')
})
