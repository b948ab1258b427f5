// Who is connected and who is subscribed where, as every node reads it (lib/services/rosters.ts):
// on the memory adapter, which is the whole cluster, read from the node's directory and hub;
// on any other adapter, written to its shared sets. Both must answer the same.
import t from 'tap'
import { type Adapter, memoryAdapter } from '../lib/index'
import { internalsOf } from '../lib/plugin'
import { connect, startServer, until } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'

const kinds: Array<[string, () => Adapter, boolean]> = [
  ['the memory adapter (local)', memoryAdapter, true],
  ['an adapter with shared sets', () => new WrappedAdapter('shared'), false]
]

for (const [name, makeAdapter, local] of kinds) {
  t.test(`${name}: connections and subscriptions, counted, located and listed`, async (t) => {
    const server = await startServer(t, { adapter: makeAdapter(), nodeId: 'n1' })
    const { app } = server
    const a1 = await connect(server.url({ userId: 'alice' }))
    const a2 = await connect(server.url({ userId: 'alice' }))
    const bob = await connect(server.url({ userId: 'bob' }))
    const ids = [a1, a2, bob].map((c) => c.frames[0].connectionId as string)

    t.equal(await app.connections.count(), 3, 'every connection counted')
    t.equal(await app.connections.userCount(), 2, 'every user counted once')
    const located = await app.connections.locate('alice')
    t.same(located.map((l) => l.connectionId).sort(), [ids[0], ids[1]].sort(), 'locate finds both of alice\'s connections')
    t.ok(located.every((l) => l.nodeId === 'n1' && typeof l.connectedAt === 'number'), 'each with its node and time')
    t.same(await app.connections.locate('nobody'), [], 'nobody connected: nowhere')

    await a1.request({ type: 'subscribe', channel: 'room', meta: { seat: 1 } })
    await a2.request({ type: 'subscribe', channel: 'room' })
    await bob.request({ type: 'subscribe', channel: 'room' })
    await bob.request({ type: 'subscribe', channel: 'hall' })
    t.same(await app.channels.list(), [{ channel: 'room', subscribers: 3 }, { channel: 'hall', subscribers: 1 }], 'channels, largest first')
    t.equal((await app.channels.get('room'))?.subscribers, 3)
    t.same((await app.channels.subscribers('room')).find((s) => s.connectionId === ids[0]),
      { connectionId: ids[0], userId: 'alice', meta: { seat: 1 }, nodeId: 'n1' }, 'a subscriber with its meta and node')

    await a1.request({ type: 'subscribe', channel: 'room', meta: { seat: 2 } })
    t.same((await app.channels.subscribers('room')).find((s) => s.connectionId === ids[0])?.meta, { seat: 2 }, 'a resubscribe replaces the meta')
    t.equal((await app.channels.get('room'))?.subscribers, 3, 'and is no second subscription')

    t.same((await app.presence.list({ channel: 'room' })).map((p) => p.userId).sort(), ['alice', 'bob'], 'present users of a channel')
    t.same(await app.presence.list({ channel: 'nowhere' }), [], 'and of a channel nobody is in')

    await bob.request({ type: 'unsubscribe', channel: 'hall' })
    t.same(await app.channels.list(), [{ channel: 'room', subscribers: 3 }], 'an emptied channel is listed no more')
    t.same(await app.channels.subscribers('hall'), [])

    await a2.close()
    await until(async () => await app.connections.count() === 2, 3000, 'the closed connection uncounted')
    t.same((await app.connections.locate('alice')).map((l) => l.connectionId), [ids[0]])
    await until(async () => (await app.channels.get('room'))?.subscribers === 2, 3000, 'its subscription gone')

    const written = internalsOf(app).sharedSets ?? {}
    if (local) t.same(written, {}, 'the local adapter writes no channel or user set')
    else t.match(written, { user: { sets: 2 }, channel: { sets: 1 } }, 'the shared adapter writes both')
    for (const c of [a1, bob]) t.same(c.violations, [])
  })
}

t.test('users in a presence channel come from the same roster, so a presence update reaches them', async (t) => {
  for (const [, makeAdapter] of kinds) {
    const server = await startServer(t, { adapter: makeAdapter(), channels: { policies: { 'room:*': { presence: true } } } })
    const alice = await connect(server.url({ userId: 'alice' }))
    const bob = await connect(server.url({ userId: 'bob' }))
    for (const c of [alice, bob]) await c.request({ type: 'subscribe', channel: 'room:a' })
    await alice.request({ type: 'presence', status: 'away' })
    const diff = await bob.once((f) => f.type === 'presence_diff' && f.updates?.alice !== undefined, 'alice\'s update')
    t.equal(diff.updates.alice.status, 'away')
  }
})
