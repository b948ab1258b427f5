import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { createClient, nextEvent } from './client-helpers'
import { connect, expectInvalidOptions, startServer, until } from './helpers'

// maxPendingUpgrades: past the cap, an upgrade is answered 503 with Retry-After before
// authenticate runs; a place is freed when a setup ends, a refusal is answered or a socket goes.

/** The HTTP answer to an upgrade that was refused, or `101` when it was not. */
function upgradeStatus (url: string): Promise<{ status: number, retryAfter?: string, body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('open', () => { ws.terminate(); resolve({ status: 101, body: '' }) })
    ws.on('unexpected-response', (_request, response) => {
      let body = ''
      response.on('data', (chunk: Buffer) => { body += chunk.toString() })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'], body }))
    })
    ws.on('error', () => {})
    setTimeout(() => reject(new Error('no answer to the upgrade')), 5000).unref()
  })
}

/** A server whose `authenticate` waits while `gate.held`: handshakes stay pending as long as the test wants. */
async function heldServer (t: Test, max: number) {
  const gate = { held: true, release: () => {} }
  let waiting: Array<() => void> = []
  gate.release = () => { gate.held = false; for (const go of waiting) go(); waiting = [] }
  const server = await startServer(t, {
    maxPendingUpgrades: max,
    upgradeRetryAfter: 2,
    authenticate: async (request) => {
      if (gate.held) await new Promise<void>((resolve) => waiting.push(resolve))
      const { userId } = request.query as { userId: string }
      if (userId === 'intruder') throw Object.assign(new Error('no'), { statusCode: 401 })
      return { id: userId }
    }
  })
  return { server, gate, pending: () => waiting.length }
}

t.test('past the cap, upgrades get 503 with Retry-After; places come back as handshakes end', async (t) => {
  const { server, gate, pending } = await heldServer(t, 2)
  const first = connect(server.url({ userId: 'alice' }))
  const second = connect(server.url({ userId: 'bob' }))
  await until(() => pending() === 2, 2000, 'two handshakes pending')
  const refused = await upgradeStatus(server.url({ userId: 'carol' }))
  t.equal(refused.status, 503, 'the third is refused')
  t.equal(refused.retryAfter, '2', 'with Retry-After')
  t.match(JSON.parse(refused.body), { code: 'HAUYNA_OVERLOADED', statusCode: 503 })
  t.equal(pending(), 2, 'before authenticate ran')
  gate.release()
  await Promise.all([first, second])
  const plain = await server.app.inject({ method: 'GET', url: '/ws?userId=gina' })
  t.equal(plain.statusCode, 404, 'a plain GET (no upgrade) is not counted: 404 as without the cap')
  t.equal((await upgradeStatus(server.url({ userId: 'carol' }))).status, 101, 'both places free once their setups ended')

  // A refusal answered over HTTP frees its place, and so does a socket that goes mid-handshake.
  for (let i = 0; i < 3; i++) t.equal((await upgradeStatus(server.url({ userId: 'intruder' }))).status, 401)
  gate.held = true
  const gone = new WebSocket(server.url({ userId: 'dave' }))
  gone.on('error', () => {})
  await until(() => pending() === 1, 2000, 'dave pending')
  gone.terminate()
  const third = connect(server.url({ userId: 'erin' }))
  await until(() => pending() === 2, 2000, 'erin pending')
  t.equal((await upgradeStatus(server.url({ userId: 'frank' }))).status, 503, 'dave still holds his place while authenticate runs')
  gate.release()
  await third
  t.equal((await upgradeStatus(server.url({ userId: 'frank' }))).status, 101, 'and frees it when it is done')
  const metrics = (await server.app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /ws_errors_total\{code="overloaded"\} 2\b/, 'refusals counted in ws_errors_total')
})

t.test('the SDK waits at least Retry-After before trying again', async (t) => {
  const { server, gate, pending } = await heldServer(t, 1)
  const holder = connect(server.url({ userId: 'alice' }))
  await until(() => pending() === 1, 2000, 'one handshake pending')
  const client = createClient(t, server.url({ userId: 'bob' }), { retry: { baseDelay: 10, maxDelay: 20, jitter: 0.5 } })
  const retry = nextEvent(client, 'retry')
  void client.start().catch(() => {})
  const [{ delay }] = await retry
  t.ok(delay >= 2000 && delay <= 3000, `the retry waits Retry-After (2 s) plus jitter: ${delay} ms`)
  gate.release()
  await holder
})

t.test('maxPendingUpgrades and upgradeRetryAfter are checked', async (t) => {
  await expectInvalidOptions(t, [
    ['a negative cap', { maxPendingUpgrades: -1 }, 'maxPendingUpgrades'],
    ['a retry of 0 s', { upgradeRetryAfter: 0 }, 'upgradeRetryAfter']
  ])
})
