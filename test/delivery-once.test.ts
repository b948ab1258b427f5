import t, { type Test } from 'tap'
import { type Client, connect, startServer } from './helpers'

// The protocol promises each delivery exactly once: `next()` would pass a duplicate unseen,
// so these tests settle (a heartbeat round trip) and count what arrived.

const dataIs = (type: string, data: unknown) => (f: Record<string, any>) => f.type === type && f.data === data

/** Every client got exactly one `type` frame carrying `data`. */
async function eachOnce (t: Test, clients: Client[], type: string, data: unknown): Promise<void> {
  for (const [i, c] of clients.entries()) {
    t.match(await c.once(dataIs(type, data), `${type} ${JSON.stringify(data)} on client ${i}`), { type, data })
  }
}

/** The message with `ref` was answered by exactly one ack or error, which is returned. */
async function answeredOnce (client: Client, message: Record<string, unknown>, ref: string): Promise<Record<string, any>> {
  client.send({ ...message, ref })
  return client.once((f) => (f.type === 'ack' || f.type === 'error') && f.ref === ref, `the answer to ${ref}`)
}

t.test('a channel publish reaches each subscriber connection once; the publisher gets one ack', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  const bob1 = await connect(server.url({ userId: 'bob' }))
  const bob2 = await connect(server.url({ userId: 'bob' }))
  for (const c of [alice, bob1, bob2]) await c.request({ type: 'subscribe', channel: 'room' })

  t.match(await answeredOnce(alice, { type: 'publish', channel: 'room', data: 'hi' }, 'pub-1'), { type: 'ack' })
  await eachOnce(t, [alice, bob1, bob2], 'message', 'hi')
  t.equal(await server.app.channels.broadcastTo('room', 'from the server'), 3)
  await eachOnce(t, [alice, bob1, bob2], 'message', 'from the server')
  for (const c of [alice, bob1, bob2]) t.same(c.violations, [])
})

t.test('echo: false: the publisher gets none of its own messages, every other subscriber one', async (t) => {
  const server = await startServer(t)
  const quiet = await connect(server.url({ userId: 'quiet' }))
  const others = [await connect(server.url({ userId: 'p1' })), await connect(server.url({ userId: 'p2' }))]
  await quiet.request({ type: 'subscribe', channel: 'news', echo: false })
  for (const c of others) await c.request({ type: 'subscribe', channel: 'news' })

  await quiet.request({ type: 'publish', channel: 'news', data: 'mine' })
  await eachOnce(t, others, 'message', 'mine')
  await quiet.settle()
  t.equal(quiet.count('message'), 0, 'no copy to the echo:false publisher')
})

t.test('a direct message reaches each tab of the recipient once, and never the sender', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  const tabs = [await connect(server.url({ userId: 'bob' })), await connect(server.url({ userId: 'bob' }))]
  t.match(await answeredOnce(alice, { type: 'direct', to: 'bob', data: 'psst' }, 'dm-1'), { type: 'ack' })
  await eachOnce(t, tabs, 'direct', 'psst')
  t.equal(await server.app.connections.sendTo('bob', 'from the server'), 2)
  await eachOnce(t, tabs, 'direct', 'from the server')
  await alice.settle()
  t.equal(alice.count('direct'), 0)
})

t.test('a group message reaches each connection of each member once', async (t) => {
  const server = await startServer(t)
  await server.app.groups.add('alice', 'team')
  await server.app.groups.add('bob', 'team')
  const alice = await connect(server.url({ userId: 'alice' }))
  const bobs = [await connect(server.url({ userId: 'bob' })), await connect(server.url({ userId: 'bob' }))]
  const eve = await connect(server.url({ userId: 'eve' }))
  t.match(await answeredOnce(alice, { type: 'group', group: 'team', data: 'standup' }, 'grp-1'), { type: 'ack' })
  await eachOnce(t, [alice, ...bobs], 'group', 'standup')
  await eve.settle()
  t.equal(eve.count('group'), 0, 'not a member')
})

t.test('a broadcast reaches every connection once', async (t) => {
  const server = await startServer(t, { permissions: { broadcast: true } })
  const clients = [
    await connect(server.url({ userId: 'alice' })),
    await connect(server.url({ userId: 'bob' })),
    await connect(server.url({ userId: 'bob' }))
  ]
  t.match(await answeredOnce(clients[0], { type: 'broadcast', data: 'all hands' }, 'bc-1'), { type: 'ack' })
  await eachOnce(t, clients, 'broadcast', 'all hands')
  await server.app.connections.broadcast('from the server')
  await eachOnce(t, clients, 'broadcast', 'from the server')
})

t.test('each ref gets exactly one ack or one error', async (t) => {
  const server = await startServer(t, { channels: { default: 'deny', policies: { open: { subscribe: true } } } })
  const alice = await connect(server.url({ userId: 'alice' }))
  t.match(await answeredOnce(alice, { type: 'subscribe', channel: 'open' }, 'ok-1'), { type: 'ack' })
  t.match(await answeredOnce(alice, { type: 'subscribe', channel: 'closed' }, 'no-1'), { type: 'error', code: 'forbidden' })
  t.match(await answeredOnce(alice, { type: 'unsubscribe', channel: 'nowhere' }, 'no-2'), { type: 'error', code: 'not_subscribed' })
  t.match(await answeredOnce(alice, { type: 'no_such_type' }, 'no-3'), { type: 'error', code: 'unknown_type' })
  t.match(await answeredOnce(alice, { type: 'heartbeat' }, 'ok-2'), { type: 'ack' })
  t.same(alice.violations, [])
})
