import t from 'tap'
import { canTransition, ConnectionState, connectionStates } from '../lib/connection/state'
import { connect, startServer, until } from './helpers'

// The seed's table of allowed transitions, written out independently of lib/, with one
// addition: reconnecting -> disconnected, a dropped session whose resume window ended.
const seedTable: Record<string, string[]> = {
  connected: ['idle', 'disconnected', 'error'],
  idle: ['connected', 'disconnected', 'error'],
  disconnected: ['reconnecting', 'error'],
  reconnecting: ['connected', 'disconnected', 'error'],
  error: ['reconnecting']
}

interface Change { userId: string, from: string, to: string }

function recordChanges (app: { events: { on (e: 'state_change', h: (c: { userId: string }, f: string, to: string) => void): unknown } }): Change[] {
  const changes: Change[] = []
  app.events.on('state_change', (conn, from, to) => { changes.push({ userId: conn.userId, from, to }) })
  return changes
}

t.test('canTransition matches the seed table for all 25 pairs', async (t) => {
  t.same([...connectionStates].sort(), Object.keys(seedTable).sort(), 'five states')
  for (const from of connectionStates) {
    for (const to of connectionStates) {
      t.equal(canTransition(from, to), seedTable[from].includes(to), `${from} -> ${to}`)
    }
  }
})

t.test('a silent connection goes idle, and traffic brings it back', async (t) => {
  const server = await startServer(t, { idleTimeout: 100, heartbeat: { interval: 50 } })
  const changes = recordChanges(server.app)
  const client = await connect(server.url({ userId: 'alice' }))
  const conn = server.app.connections.byUser('alice')[0]
  const connectedSince = conn.stateSince
  t.equal(conn.state, ConnectionState.Connected)

  // Pongs keep it alive but are not activity: after idleTimeout it is idle.
  await until(() => conn.state === ConnectionState.Idle, 3000, 'idle')
  t.same(changes, [{ userId: 'alice', from: 'connected', to: 'idle' }])
  t.same(server.app.connections.inState('idle').map((c) => c.id), [conn.id])
  t.same(server.app.connections.inState('connected'), [])
  t.ok(conn.stateSince > connectedSince, 'stateSince moved when it went idle')
  t.equal((await server.app.hauyna.stats()).states.idle, 1)
  const idleSince = conn.stateSince

  // stateSince has millisecond resolution: let the clock move before coming back.
  await until(() => Date.now() > idleSince, 1000, 'the clock to move')
  client.send({ type: 'heartbeat' })
  await client.next('heartbeat_ack')
  t.equal(conn.state, ConnectionState.Connected)
  t.same(changes.at(-1), { userId: 'alice', from: 'idle', to: 'connected' })
  t.ok(conn.stateSince > idleSince, 'stateSince moved when it came back')
  t.same(server.app.connections.inState('idle'), [])
  t.same(client.violations, [])
})

t.test('idleTimeout 0 disables the idle state', async (t) => {
  const server = await startServer(t, { idleTimeout: 0, heartbeat: { interval: 20 } })
  const changes = recordChanges(server.app)
  const client = await connect(server.url({ userId: 'alice' }))
  // Each ping comes from a sweep that has already run the idle check: ten pings, ten checks.
  let pings = 0
  client.ws.on('ping', () => { pings++ })
  await until(() => pings >= 10, 3000, 'ten heartbeat sweeps')
  t.same(changes, [])
  t.equal(server.app.connections.inState('connected').length, 1)
})

t.test('invalid transitions throw HAUYNA_INVALID_STATE_TRANSITION', async (t) => {
  const server = await startServer(t)
  const changes = recordChanges(server.app)
  const client = await connect(server.url({ userId: 'alice' }))
  const conn = server.app.connections.byUser('alice')[0]
  t.throws(() => conn.transition(ConnectionState.Reconnecting), { code: 'HAUYNA_INVALID_STATE_TRANSITION' })
  t.equal(conn.state, ConnectionState.Connected, 'state unchanged')
  t.same(changes, [], 'no state_change for a refused transition')
  // Staying in the same state is a no-op, not an error.
  t.doesNotThrow(() => conn.transition(ConnectionState.Connected))
  t.same(changes, [])
  // An allowed one works and is reported.
  conn.transition(ConnectionState.Idle)
  t.same(changes, [{ userId: 'alice', from: 'connected', to: 'idle' }])
  t.throws(() => conn.transition(ConnectionState.Reconnecting), { code: 'HAUYNA_INVALID_STATE_TRANSITION' })
  t.same(client.violations, [])
})

t.test('closing moves the connection from connected to disconnected', async (t) => {
  const server = await startServer(t)
  const changes = recordChanges(server.app)
  const client = await connect(server.url({ userId: 'alice' }))
  const conn = server.app.connections.byUser('alice')[0]
  await client.close()
  await until(() => conn.state === ConnectionState.Disconnected, 3000, 'disconnected')
  t.same(changes, [{ userId: 'alice', from: 'connected', to: 'disconnected' }])
  await until(async () => (await server.app.connections.count()) === 0, 3000, 'unregistered')
  t.same(server.app.connections.inState('disconnected'), [], 'a closed connection leaves the registry')
})

t.test('an idle connection that closes goes idle to disconnected', async (t) => {
  const server = await startServer(t, { idleTimeout: 60, heartbeat: { interval: 20 } })
  const changes = recordChanges(server.app)
  const client = await connect(server.url({ userId: 'alice' }))
  const conn = server.app.connections.byUser('alice')[0]
  await until(() => conn.state === ConnectionState.Idle, 3000, 'idle')
  client.send({ type: 'disconnect' })
  t.equal((await client.closed).code, 1000)
  await until(() => conn.state === ConnectionState.Disconnected, 3000, 'disconnected')
  t.same(changes.map((c) => `${c.from}->${c.to}`), ['connected->idle', 'idle->connected', 'connected->disconnected'],
    'the disconnect frame is traffic, so it passes through connected')
})
