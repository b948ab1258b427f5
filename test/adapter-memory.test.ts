import t from 'tap'
import { memoryAdapter } from '../lib/index'
import { HistoryTable } from '../lib/adapters/history-table'
import { SessionTable } from '../lib/adapters/session-table'
import { internalsOf } from '../lib/plugin'
import { adapterContract } from './adapter-contract'
import { connect, startServer, until } from './helpers'

void adapterContract(t, 'memory', memoryAdapter, { shared: false })

t.test('the memory adapter drops expired channel streams and sessions when it sweeps', async (t) => {
  const adapter = memoryAdapter()
  const server = await startServer(t, { adapter, resume: { window: 50 }, channels: { policies: { '*': { history: { size: 5, ttl: 20, positionTtl: 50 } } } } })
  // Sweeps are timed from these marks, not from the clock when they run: a slow machine must
  // not make "before its time" late (every stream and the session live 50 ms from after them).
  const published = Date.now()
  for (let i = 0; i < 20; i++) await server.app.channels.broadcastTo(`room-${i}`, i)
  const alice = await connect(server.url({ userId: 'alice' }))
  const dropped = Date.now()
  alice.ws.terminate()
  await until(() => internalsOf(server.app).suspendedSessions === 1, 2000, 'alice\'s session kept')
  t.equal(internalsOf(server.app).historyStreams, 20, 'a stream per channel published to')
  if (!(adapter.history instanceof HistoryTable) || !(adapter.sessions instanceof SessionTable)) throw new Error('not the memory tables')
  adapter.history.sweep(published + 10)
  adapter.sessions.sweep(dropped + 10)
  t.same([internalsOf(server.app).historyStreams, internalsOf(server.app).suspendedSessions], [20, 1], 'nothing dropped before its time')
  adapter.history.sweep(Date.now() + 60)
  adapter.sessions.sweep(Date.now() + 60)
  t.same([internalsOf(server.app).historyStreams, internalsOf(server.app).suspendedSessions], [0, 0], 'everything dropped after it')
  t.same((await server.app.channels.history('room-1')).messages, [], 'a swept channel starts again empty')
})
