import t, { type Test } from 'tap'
import type { HauynaOptions } from '../lib/index'
import { open, startServer, until } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'
import { internalsOf } from '../lib/plugin'

// A connection whose setup fails after the upgrade (joining its topics, its groups) is closed
// with 1011, reported once to `error`, and leaves nothing behind.

async function expectSetupFailure (t: Test, options: HauynaOptions, reported: { message: RegExp, userId?: string }): Promise<void> {
  const errors: Array<{ message: string, userId?: string }> = []
  let connects = 0
  const server = await startServer(t, options, (app) => {
    app.events.on('error', (error, conn) => { errors.push({ message: error.message, userId: conn?.userId }) })
    app.events.on('connect', () => { connects++ })
  })
  const client = await open(server.url({ userId: 'alice' }))
  t.same(await client.closed, { code: 1011, reason: 'internal error' })
  t.same(client.frames, [], 'no connected frame')
  t.equal(errors.length, 1, 'reported once')
  t.match(errors[0], reported)
  t.equal(connects, 0, 'connect never emitted')
  await until(async () => (await server.app.connections.count()) === 0, 3000, 'the connection to be removed')
  await until(() => internalsOf(server.app).hubTopics === 0, 3000, 'its topics to be left')
}

t.test('an identity with an invalid group name closes with 1011', async (t) => {
  await expectSetupFailure(t, {
    authenticate: (request) => ({ id: (request.query as { userId: string }).userId, groups: ['bad\u0000group'] })
  }, { message: /group/, userId: 'alice' })
})

t.test('an adapter whose subscribe rejects closes with 1011', async (t) => {
  // A shared adapter (not `local`), which is told of topics. The node takes the `all` topic as
  // it starts: only the user's own topic fails, at connect.
  const adapter = new class extends WrappedAdapter {
    override async subscribe (topic: string): Promise<void> { if (topic.startsWith('user:')) throw new Error('adapter unavailable') }
  }('failing-subscribe')
  await expectSetupFailure(t, { adapter }, { message: /adapter unavailable/, userId: 'alice' })
})

t.test('an identity whose meta cannot be copied: reported, and closed with 1011', async (t) => {
  // `connection.meta` is a copy of the identity's meta, made while the upgrade completes:
  // a throwing getter fails it there, outside the setup that reports and closes with 1011.
  await expectSetupFailure(t, {
    authenticate: (request) => ({
      id: (request.query as { userId: string }).userId,
      meta: { get broken (): never { throw new Error('meta getter failed') } }
    })
  }, { message: /meta getter failed/ })
})
