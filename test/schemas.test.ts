// The exported protocol schemas, as a client author uses them: each one accepts what the
// protocol allows and rejects what it forbids. (Every frame a real server sends is also checked
// against them by the test helpers; this file pins the rules those frames never come near.)
import t, { type Test } from 'tap'
import { clientSchemas, schemas, serverSchemas } from '../lib/index'
import { Name, PresenceSummary, Ref, Status } from '../lib/protocol/schemas'
import { compileValidator } from '../lib/protocol/validator'
import type { TSchema } from '@sinclair/typebox'

const TS = '2026-12-03T08:00:00.000Z'
const summary = { status: 'online', meta: {}, connections: 1 }

function expectRule (t: Test, schema: TSchema, accepted: unknown[], rejected: unknown[]): void {
  const validator = compileValidator(schema)
  for (const value of accepted) t.ok(validator.check(value), `accepts ${JSON.stringify(value)}`)
  for (const value of rejected) t.notOk(validator.check(value), `rejects ${JSON.stringify(value)}`)
}

t.test('names: 1–200 characters, no control characters', async (t) => {
  expectRule(t, Name, ['a', 'x'.repeat(200), 'room:42 é'],
    ['', 'x'.repeat(201), 'a\u0000b', 'a\u001fb', 'a\u007fb', 42, null])
})

t.test('refs: a string of at most 64 characters or a number', async (t) => {
  expectRule(t, Ref, ['r1', 'r'.repeat(64), 7, 0.5], ['r'.repeat(65), true, null, {}])
})

t.test('status: 1–64 characters; presence summaries count at least one connection', async (t) => {
  expectRule(t, Status, ['away', 's'.repeat(64)], ['', 's'.repeat(65), 1])
  expectRule(t, PresenceSummary, [summary, { ...summary, connections: 3 }],
    [{ ...summary, connections: 0 }, { ...summary, connections: 1.5 }, { status: 'online', meta: {} },
      { ...summary, meta: 'x' }, { ...summary, status: '' }])
})

t.test('client messages: each type with its fields', async (t) => {
  const c = clientSchemas
  expectRule(t, c.subscribe,
    [{ type: 'subscribe', channel: 'a' }, { type: 'subscribe', channel: 'a', ref: 'r', meta: { k: 1 }, echo: false, since: { offset: 3, epoch: 'e' } }],
    [{ type: 'subscribe' }, { type: 'publish', channel: 'a' }, { type: 'subscribe', channel: 'a', echo: 'no' },
      { type: 'subscribe', channel: 'a', meta: 'm' }, { type: 'subscribe', channel: 'a', since: { offset: 3 } },
      { type: 'subscribe', channel: 'a', since: { epoch: 'e' } }, { type: 'subscribe', channel: 'a', since: { offset: '3', epoch: 'e' } },
      { type: 'subscribe', channel: 'a', since: { offset: 3, epoch: 4 } }, { type: 'subscribe', channel: 'a', ref: 'r'.repeat(65) }])
  expectRule(t, c.unsubscribe, [{ type: 'unsubscribe', channel: 'a' }], [{ type: 'unsubscribe' }, { type: 'unsubscribe', channel: '' }])
  expectRule(t, c.publish, [{ type: 'publish', channel: 'a', data: null }], [{ type: 'publish', channel: 'a\u0001', data: 1 }, { type: 'publish', data: 1 }])
  expectRule(t, c.direct, [{ type: 'direct', to: 'bob', data: {} }], [{ type: 'direct', to: 'x'.repeat(201), data: 1 }, { type: 'direct', data: 1 }])
  expectRule(t, c.group, [{ type: 'group', group: 'g', data: [] }], [{ type: 'group', group: '', data: 1 }, { type: 'group', data: 1 }])
  expectRule(t, c.broadcast, [{ type: 'broadcast', data: 'hi' }], [{ type: 'group', data: 'hi' }, { type: 'broadcast' }])
  expectRule(t, c.presence, [{ type: 'presence' }, { type: 'presence', status: 'away', meta: { a: 1 } }],
    [{ type: 'presence', status: '' }, { type: 'presence', meta: [1] }, { type: 'presence', status: 's'.repeat(65) }])
  expectRule(t, c.heartbeat, [{ type: 'heartbeat' }, { type: 'heartbeat', ts: 1 }, { type: 'heartbeat', ts: 'x' }],
    [{ type: 'heartbeat', ts: true }, { type: 'heartbeat', ts: null }])
  expectRule(t, c.disconnect, [{ type: 'disconnect' }, { type: 'disconnect', ref: 2 }], [{ type: 'disconnect', ref: false }, {}])
})

t.test('server messages: each type with its fields', async (t) => {
  const s = serverSchemas
  expectRule(t, s.connected,
    [{ type: 'connected', connectionId: 'c', userId: 'u', ts: TS, heartbeat: { interval: 1, timeout: 2 } },
      { type: 'connected', connectionId: 'c', userId: 'u', ts: '2026-12-03T08:00:00+01:00', heartbeat: { interval: 1, timeout: 2 }, resume: 'r' }],
    [{ type: 'connected', connectionId: 'c', userId: 'u', ts: 'yesterday', heartbeat: { interval: 1, timeout: 2 } },
      { type: 'connected', connectionId: 'c', userId: 'u', ts: TS, heartbeat: { interval: 1.5, timeout: 2 } },
      { type: 'connected', connectionId: 'c', userId: 'u', ts: TS, heartbeat: { interval: 1 } },
      { type: 'connected', connectionId: 'c', userId: 'u', ts: TS, heartbeat: { interval: 1, timeout: 2 }, resume: 3 },
      { type: 'connected', connectionId: 1, userId: 'u', ts: TS, heartbeat: { interval: 1, timeout: 2 } },
      { type: 'connected', connectionId: 'c', userId: '', ts: TS, heartbeat: { interval: 1, timeout: 2 } }])
  expectRule(t, s.subscribed,
    [{ type: 'subscribed', channel: 'a' }, { type: 'subscribed', channel: 'a', ref: 1, presence: { alice: summary } }],
    [{ type: 'subscribed', channel: 'a', presence: { alice: { ...summary, connections: 0 } } },
      { type: 'subscribed', channel: 'a', ref: null }, { type: 'subscribed' }])
  expectRule(t, s.unsubscribed, [{ type: 'unsubscribed', channel: 'a', ref: 'r', reason: 'kicked' }],
    [{ type: 'unsubscribed', channel: 'a', reason: 1 }, { type: 'unsubscribed', channel: 'a', ref: [] }])
  for (const [type, extra] of [['message', { channel: 'a' }], ['group', { group: 'g' }], ['direct', {}], ['broadcast', {}]] as const) {
    const valid = { type, ...extra, from: 'bob', data: { x: 1 }, ts: TS }
    expectRule(t, s[type], [valid, { ...valid, from: null }],
      [{ ...valid, from: '' }, { ...valid, from: undefined }, { ...valid, ts: 'now' }, { ...valid, type: 'other' }])
  }
  expectRule(t, s.message, [], [{ type: 'message', from: null, data: 1, ts: TS }])
  expectRule(t, s.group, [], [{ type: 'group', group: '', from: null, data: 1, ts: TS }])
  expectRule(t, s.presence_diff,
    [{ type: 'presence_diff', joins: {}, leaves: {} }, { type: 'presence_diff', channel: 'a', joins: { a: summary }, leaves: {}, updates: { b: summary } }],
    [{ type: 'presence_diff', joins: {} }, { type: 'presence_diff', joins: {}, leaves: { a: {} } },
      { type: 'presence_diff', channel: '', joins: {}, leaves: {} }, { type: 'presence_diff', joins: {}, leaves: {}, updates: { a: 1 } }])
  expectRule(t, s.ack, [{ type: 'ack', ref: 'r' }], [{ type: 'ack' }])
  expectRule(t, s.heartbeat_ack, [{ type: 'heartbeat_ack', serverTs: TS }, { type: 'heartbeat_ack', ts: 5, serverTs: TS }],
    [{ type: 'heartbeat_ack', serverTs: 'soon' }, { type: 'heartbeat_ack', ts: {}, serverTs: TS }])
  expectRule(t, s.error,
    [{ type: 'error', code: 'forbidden', message: 'no' }, { type: 'error', code: 'x', message: 'y', ref: 1, details: [{ path: '/', message: 'm' }] }],
    [{ type: 'error', code: 'x' }, { type: 'error', code: 'x', message: 'y', details: [{ path: '/' }] }, { type: 'error', code: 1, message: 'y' }])
})

t.test('schemas groups both directions under the same objects', async (t) => {
  t.equal(schemas.client, clientSchemas)
  t.equal(schemas.server, serverSchemas)
})
