import t from 'tap'
import type { Identity } from '../lib/index'
import { connect, expectInvalidOptions, LogSink, open, refusal, startServer } from './helpers'

const UNVERIFIED = /unverified claim/

function warnings (lines: Array<Record<string, any>>): Array<Record<string, any>> {
  return lines.filter((line) => line.level === 40 && UNVERIFIED.test(line.msg))
}

t.test('without authenticate, one startup warning says ?userId= is an unverified claim', async (t) => {
  const capture = new LogSink('warn')
  await startServer(t, {}, undefined, capture.logger)
  const warned = warnings(capture.lines)
  t.equal(warned.length, 1, 'exactly one warning')
  t.same(warned[0].endpoints, ['/ws'])
  t.equal(warned[0].msg, 'fastify-hauyna: no authenticate on /ws, so ?userId= is an unverified claim: any client can ' +
    'connect as any user. Set authenticate, or allowUnverifiedIdentity: true if this is deliberate (a demo, a trusted network)',
  'it names the endpoint, points to authenticate and to the option that silences it')
})

t.test('no warning with allowUnverifiedIdentity: true (a validated boolean), nor with authenticate', async (t) => {
  const deliberate = new LogSink('warn')
  await startServer(t, { allowUnverifiedIdentity: true }, (app) => { app.realtime('/open') }, deliberate.logger)
  t.same(warnings(deliberate.lines), [], 'allowUnverifiedIdentity says it is deliberate')

  const verified = new LogSink('warn')
  await startServer(t, { authenticate: () => ({ id: 'alice' }) }, (app) => { app.realtime('/inherits') }, verified.logger)
  t.same(warnings(verified.lines), [], 'every endpoint authenticates')
  await expectInvalidOptions(t, [['allowUnverifiedIdentity a string', { allowUnverifiedIdentity: 'yes' }, 'allowUnverifiedIdentity']])
})

t.test('an endpoint declared without its own authenticate counts too', async (t) => {
  const optedOut = new LogSink('warn')
  await startServer(t, { authenticate: () => ({ id: 'alice' }) },
    (app) => { app.realtime('/public', { authenticate: false }) }, optedOut.logger)
  t.same(warnings(optedOut.lines).map((line) => line.endpoints), [['/public']], 'only the endpoint without one')

  const declared = new LogSink('warn')
  await startServer(t, { path: false }, (app) => { app.realtime('/chat'); app.realtime('/feed') }, declared.logger)
  t.same(warnings(declared.lines).map((line) => line.endpoints), [['/chat', '/feed']], 'one warning for all of them')
  t.match(warnings(declared.lines)[0].msg, /^fastify-hauyna: no authenticate on \/chat, \/feed, so /, 'the message lists them')
})

t.test('query user ids are trimmed and NFC-normalized: look-alikes are one user', async (t) => {
  const server = await startServer(t)
  const plain = await connect(server.url({ userId: 'alice' }))
  const spaced = await connect(server.url({ userId: 'alice ' }))
  const leading = await connect(server.url({ user_id: ' alice' }))
  t.same([plain, spaced, leading].map((c) => c.frames[0].userId), ['alice', 'alice', 'alice'])
  t.equal(server.app.connections.byUser('alice').length, 3, 'one user with three connections')
  t.equal(server.app.connections.byUser('alice ').length, 3, 'lookups normalize too')

  const composed = await connect(server.url({ userId: 'Ren\u00e9e' }))
  const decomposed = await connect(server.url({ userId: 'Rene\u0301e' }))
  t.equal(decomposed.frames[0].userId, 'Ren\u00e9e', 'e + combining acute is stored as \u00e9')
  t.equal(composed.frames[0].userId, decomposed.frames[0].userId)
  t.equal(server.app.connections.byUser('Rene\u0301e').length, 2)
  t.ok(await server.app.presence.isPresent('Rene\u0301e'), 'presence lookups normalize')
})

t.test('query user ids with invisible characters are refused: missing_user_id, 1002', async (t) => {
  const server = await startServer(t)
  // Labels, not the ids themselves, in the assertion names: TAP would take U+2028 as a line break.
  const invisible: Array<[string, string]> = [
    ['alice\u200b', 'zero-width space'],
    ['al\u200dice', 'zero-width joiner'],
    ['al\ufeffice', 'BOM inside the id'],
    ['\u202ealice', 'right-to-left override'],
    ['alice\u2028bob', 'line separator'],
    ['\u3164', 'Hangul filler, which shows as nothing'],
    ['   ', 'nothing once trimmed']
  ]
  for (const [id, what] of invisible) {
    const client = await open(server.url({ userId: id }))
    const error = await client.next('error')
    t.equal(error.code, 'missing_user_id', `${what}: missing_user_id`)
    t.equal((await client.closed).code, 1002, `${what}: closed 1002`)
  }
  t.equal(await server.app.connections.count(), 0, 'no connection was registered')
})

t.test('an authenticate id is normalized, and refused with 401 when it holds invisible characters', async (t) => {
  const server = await startServer(t, {
    authenticate: (request) => ({ id: (request.query as { as: string }).as })
  })
  t.equal((await refusal(server.url({ as: 'alice\u200b' }))).status, 401, 'zero-width space')
  t.equal((await refusal(server.url({ as: '\u2066alice\u2069' }))).status, 401, 'bidi isolates')
  const client = await connect(server.url({ as: ' Rene\u0301e ' }))
  t.equal(client.frames[0].userId, 'Ren\u00e9e', 'trimmed and NFC')
  const refused = await refusal(server.url({ as: 'alice\u200b' }))
  t.equal(refused.body.message,
    'Unauthorized: invalid user id "alice\u200b": 1-200 characters without control or invisible characters',
    'the refusal says which id and why')
})

t.test("authenticate's identity reaches the upgrade as it is, or as a copy with the normalized id", async (t) => {
  const identities: Record<string, Identity> = {
    plain: { id: 'alice', groups: ['team'], meta: { plan: 'pro' } },
    spaced: { id: ' bob ', groups: ['team'], meta: { plan: 'free' } }
  }
  const seen = new Map<string, Identity | null>()
  const server = await startServer(t, {
    authenticate: (request) => identities[(request.query as { as: string }).as]
  }, (app) => {
    app.addHook('preHandler', async (request) => { seen.set((request.query as { as: string }).as, request.hauynaIdentity) })
  })
  const clients = [await connect(server.url({ as: 'plain' })), await connect(server.url({ as: 'spaced' }))]
  t.same(clients.map((c) => c.frames[0].userId), ['alice', 'bob'])
  t.equal(seen.get('plain'), identities.plain, 'the same object when the id needs no normalizing')
  t.not(seen.get('spaced'), identities.spaced, 'a copy when it does')
  t.same(seen.get('spaced'), { id: 'bob', groups: ['team'], meta: { plan: 'free' } }, 'with the normalized id and the rest as given')
  t.equal(identities.spaced.id, ' bob ', "the app's object is left as it was")
})

t.test('a direct message to a look-alike id is refused and never reaches the user', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  const mallory = await connect(server.url({ userId: 'mallory' }))
  t.match(await mallory.request({ type: 'direct', to: 'alice\u200b', data: 'look-alike' }),
    { type: 'error', code: 'invalid_message' })
  t.equal((await mallory.request({ type: 'direct', to: 'alice ', data: 'trimmed' })).type, 'ack', 'the same user, spelt with a space')
  t.match(await alice.next('direct'), { from: 'mallory', data: 'trimmed' })
  await t.rejects(server.app.connections.sendTo('alice\u200b', 'x'), { code: 'HAUYNA_INVALID_NAME' })
  await t.rejects(server.app.connections.sendTo('x', 'y', { from: 'alice\u200b' }), { code: 'HAUYNA_INVALID_NAME' })
  t.equal(await server.app.connections.sendTo(' alice', 'server'), 1, 'sendTo normalizes')
  await alice.request({ type: 'heartbeat' })
  t.same(alice.all('direct').map((f) => f.data), ['trimmed', 'server'], 'the look-alike reached nobody')
  t.same([...alice.violations, ...mallory.violations], [])
})

t.test('channel and group names with invisible characters are refused', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  t.match(await alice.request({ type: 'subscribe', channel: 'lobby\u200b' }), { type: 'error', code: 'invalid_message' })
  t.equal((await alice.request({ type: 'subscribe', channel: 'caf\u00e9 \ud83d\ude00' })).type, 'ack', 'visible Unicode is fine')
  await t.rejects(server.app.groups.add('alice', 'staff\u200b'), { code: 'HAUYNA_INVALID_NAME' })
  await t.rejects(server.app.channels.create('news\u2060'), { code: 'HAUYNA_INVALID_NAME' })
  await server.app.groups.add(' alice', 'staff')
  t.ok(await server.app.groups.has('alice', 'staff'), 'groups.add normalizes the user id')
})
