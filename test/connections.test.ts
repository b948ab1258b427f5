import { Type } from '@sinclair/typebox'
import t from 'tap'
import { type Client, connect, startServer, until } from './helpers'

function onlyConnection (clients: Client[], id: string): Client {
  const found = clients.find((c) => c.frames[0]?.connectionId === id)
  if (found === undefined) throw new Error(`no client for connection ${id}`)
  return found
}

t.test('the registry: get, byUser, locate, count, userCount, inState', async (t) => {
  const server = await startServer(t)
  const { connections } = server.app
  const a1 = await connect(server.url({ userId: 'alice' }))
  const a2 = await connect(server.url({ userId: 'alice' }))
  const b = await connect(server.url({ userId: 'bob' }))

  const id = a1.frames[0].connectionId as string
  const conn = connections.get(id)
  t.ok(conn, 'get() finds a connection by the id sent in `connected`')
  t.equal(conn?.userId, 'alice')
  t.equal(conn?.state, 'connected')
  t.type(conn?.stateSince, 'number')
  t.equal(connections.get('no-such-id'), undefined)

  t.same(connections.byUser('alice').map((c) => c.id).sort(),
    [a1.frames[0].connectionId, a2.frames[0].connectionId].sort())
  t.same(connections.byUser('nobody'), [])
  t.equal(await connections.count(), 3)
  t.equal(await connections.userCount(), 2, 'users, not connections')
  t.equal(connections.inState('connected').length, 3)
  t.same([...connections.values()].map((c) => c.id).sort(), [a1, a2, b].map((c) => c.frames[0].connectionId).sort(),
    'values() iterates every connection')
  t.same(connections.inState('idle'), [])
  const { nodeId } = server.app.hauyna
  const located = await connections.locate('alice')
  t.same(located.map((l) => l.connectionId).sort(), [a1.frames[0].connectionId, a2.frames[0].connectionId].sort(),
    'locate() finds every connection of the user')
  for (const l of located) {
    t.equal(l.nodeId, nodeId, 'on its node')
    t.equal(l.connectedAt, connections.get(l.connectionId)?.connectedAt, 'since it connected')
  }
  t.same(await connections.locate('nobody'), [])

  await a2.close()
  await until(async () => (await connections.count()) === 2, 2000, 'the closed connection to leave the registry')
  t.equal(await connections.userCount(), 2)
  t.equal(connections.byUser('alice').length, 1)
  t.same((await connections.locate('alice')).map((l) => l.connectionId), [id], 'a closed connection is no longer located')
  await b.close()
  await until(async () => (await connections.userCount()) === 1, 2000, 'bob to leave')
  t.same(connections.inState('connected').map((c) => c.id), [id])
  t.same(a1.violations, [])
})

t.test('sendTo: every connection of the user gets `direct` from null', async (t) => {
  const server = await startServer(t)
  const tabs = [await connect(server.url({ userId: 'alice' })), await connect(server.url({ userId: 'alice' }))]
  const bob = await connect(server.url({ userId: 'bob' }))
  t.equal(await server.app.connections.sendTo('alice', { hello: 1 }), 2, 'resolves to the deliveries made')
  for (const tab of tabs) t.match(await tab.next('direct'), { type: 'direct', from: null, data: { hello: 1 } })
  t.equal(await server.app.connections.sendTo('alice', 'signed', { from: 'system' }), 2)
  t.match(await tabs[0].next('direct'), { from: 'system', data: 'signed' })
  t.equal(await server.app.connections.sendTo('offline-user', 'x'), 0)
  await t.rejects(server.app.connections.sendTo('', 'x'), { code: 'HAUYNA_INVALID_NAME' })
  await bob.request({ type: 'heartbeat' })
  t.same(bob.all('direct'), [], 'other users get nothing')
  for (const c of [...tabs, bob]) t.same(c.violations, [])
})

t.test('broadcast reaches every connection', async (t) => {
  const server = await startServer(t)
  const clients = await Promise.all(['a', 'a', 'b', 'c'].map((id) => connect(server.url({ userId: id }))))
  t.equal(await server.app.connections.broadcast({ notice: 'maintenance' }), 4)
  for (const c of clients) {
    t.match(await c.next('broadcast'), { type: 'broadcast', from: null, data: { notice: 'maintenance' } })
    t.same(c.violations, [])
  }
})

t.test('close(id, code, reason) closes that connection with the code', async (t) => {
  const server = await startServer(t)
  const a = await connect(server.url({ userId: 'alice' }))
  const b = await connect(server.url({ userId: 'bob' }))
  const id = a.frames[0].connectionId as string
  t.equal(await server.app.connections.close(id, 4100, 'kicked'), true)
  t.same(await a.closed, { code: 4100, reason: 'kicked' })
  t.equal(await server.app.connections.close('no-such-id'), false)
  await until(() => server.app.connections.get(id) === undefined, 2000, 'the closed connection to be released')

  // The default is a normal close.
  t.equal(await server.app.connections.close(b.frames[0].connectionId as string), true)
  t.same(await b.closed, { code: 1000, reason: '' }, 'and an empty reason')
  t.same(a.violations, [])
})

t.test('close codes an endpoint may not send are refused with HAUYNA_INVALID_CLOSE_CODE', async (t) => {
  const server = await startServer(t)
  const a = await connect(server.url({ userId: 'alice' }))
  const conn = server.app.connections.byUser('alice')[0]
  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
    await t.rejects(server.app.connections.close(conn.id, code), { code: 'HAUYNA_INVALID_CLOSE_CODE' }, String(code))
  }
  t.equal((await a.request({ type: 'heartbeat' })).type, 'ack', 'the connection is still open')
  t.ok(await server.app.connections.close(conn.id, 4321, 'custom'))
  t.same(await a.closed, { code: 4321, reason: 'custom' })
})

t.test('a server-side `from` is held to the user id rules', async (t) => {
  const server = await startServer(t)
  await connect(server.url({ userId: 'alice' }))
  for (const from of ['', 'x'.repeat(201), 'bad\u0000id']) {
    await t.rejects(server.app.connections.sendTo('alice', 1, { from }), { code: 'HAUYNA_INVALID_NAME' })
    await t.rejects(server.app.channels.broadcastTo('room', 1, { from }), { code: 'HAUYNA_INVALID_NAME' })
    await t.rejects(server.app.groups.sendTo('g', 1, { from }), { code: 'HAUYNA_INVALID_NAME' })
    await t.rejects(server.app.connections.broadcast(1, { from }), { code: 'HAUYNA_INVALID_NAME' })
  }
  t.equal(await server.app.connections.sendTo('alice', 1, { from: 'system' }), 1)
})

t.test('from: null is the server, as when from is left out', async (t) => {
  const server = await startServer(t)
  await server.app.groups.add('alice', 'team')
  const alice = await connect(server.url({ userId: 'alice' }))
  await alice.request({ type: 'subscribe', channel: 'room' })
  t.equal(await server.app.connections.sendTo('alice', 'dm', { from: null }), 1)
  t.equal(await server.app.channels.broadcastTo('room', 'msg', { from: null }), 1)
  t.equal(await server.app.groups.sendTo('team', 'grp', { from: null }), 1)
  t.equal(await server.app.connections.broadcast('all', { from: null }), 1)
  await alice.settle()
  t.same(['direct', 'message', 'group', 'broadcast'].map((type) => alice.all(type).map((f) => [f.data, f.from])),
    [[['dm', null]], [['msg', null]], [['grp', null]], [['all', null]]])
  t.same(alice.violations, [])
})

t.test('conn.send from a message handler answers only that connection', async (t) => {
  const server = await startServer(t, {}, (app) => {
    app.events.on('whoami', { schema: Type.Object({}) }, (conn) => {
      conn.send({ type: 'direct', from: null, data: { you: conn.userId, id: conn.id }, ts: new Date().toISOString() })
    })
  })
  const clients = [await connect(server.url({ userId: 'alice' })), await connect(server.url({ userId: 'alice' }))]
  const [first, second] = clients
  t.equal((await first.request({ type: 'whoami' })).type, 'ack')
  // The handler's frame is written before the ack, so it is already in.
  const [reply] = first.all('direct')
  t.same(reply.data, { you: 'alice', id: first.frames[0].connectionId })
  t.equal(onlyConnection(clients, reply.data.id), first)
  await second.request({ type: 'heartbeat' })
  t.same(second.all('direct'), [], 'the other tab of the same user got nothing')
  t.same(first.violations, [])
})

t.test('conn.send is true when written and false on a closing or closed connection; conn.close validates once', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  const bob = await connect(server.url({ userId: 'bob' }))
  const aliceConn = server.app.connections.byUser('alice')[0]
  const bobConn = server.app.connections.byUser('bob')[0]
  const direct = (data: string) => ({ type: 'direct', from: null, data, ts: new Date().toISOString() })

  t.equal(aliceConn.isOpen, true)
  const out = (await server.app.hauyna.stats()).messages.out
  t.equal(aliceConn.send(direct('written')), true, 'true when written')
  t.equal((await server.app.hauyna.stats()).messages.out, out + 1, 'and counted as sent')
  t.throws(() => aliceConn.close(1005), { code: 'HAUYNA_INVALID_CLOSE_CODE' }, 'a code no endpoint may send')
  t.equal(aliceConn.isOpen, true, 'a refused close leaves the connection open')

  aliceConn.close()
  t.equal(aliceConn.isOpen, false, 'not open once the app closed it')
  t.equal(aliceConn.send(direct('after close')), false, 'false once closing: nothing written')
  t.doesNotThrow(() => aliceConn.close(4001, 'again'), 'a second close is a no-op')
  t.same(await alice.closed, { code: 1000, reason: '' }, 'the first close, a normal one with no reason by default')
  t.same(alice.all('direct').map((f) => f.data), ['written'], 'the frame sent after close never arrived')

  // Closed by the peer: the app never called close().
  await bob.close()
  await until(() => server.app.connections.get(bobConn.id) === undefined, 2000, 'the peer-closed connection to be released')
  t.equal(bobConn.isOpen, false, 'not open once the peer closed it')
  t.equal(bobConn.send(direct('to nobody')), false, 'false on a socket the peer closed')
  t.same([...alice.violations, ...bob.violations], [])
})

t.test('permissions.direct as a function', async (t) => {
  const server = await startServer(t, {
    permissions: { direct: ({ connection, to }) => to !== 'ceo' || connection.userId === 'assistant' }
  })
  const intern = await connect(server.url({ userId: 'intern' }))
  const assistant = await connect(server.url({ userId: 'assistant' }))
  const ceo = await connect(server.url({ userId: 'ceo' }))
  t.match(await intern.request({ type: 'direct', to: 'ceo', data: 'hi boss' }), { type: 'error', code: 'forbidden' })
  t.equal((await intern.request({ type: 'direct', to: 'assistant', data: 'hi' })).type, 'ack')
  t.match(await assistant.next('direct'), { from: 'intern', data: 'hi' })
  t.equal((await assistant.request({ type: 'direct', to: 'ceo', data: 'agenda' })).type, 'ack')
  await until(() => ceo.all('direct').length === 1, 2000, 'the permitted direct message')
  t.match(ceo.all('direct'), [{ from: 'assistant', data: 'agenda' }], 'only the permitted message arrived')
  for (const c of [intern, assistant, ceo]) t.same(c.violations, [])
})
