import t from 'tap'
import { type Adapter, memoryAdapter } from '../lib/index'
import { connect, startServer, until } from './helpers'

/**
 * The memory adapter with a ledger of the topics the node told it about. A Redis adapter
 * holds one SUBSCRIBE per topic it was told of: a missed `unsubscribe` leaks one per user,
 * group and channel that ever came and went.
 */
function ledgerAdapter (local?: true): { adapter: Adapter, held: Map<string, number> } {
  const inner = memoryAdapter()
  const held = new Map<string, number>()
  const adapter: Adapter = {
    name: 'ledger',
    local,
    presence: inner.presence,
    members: inner.members,
    groups: inner.groups,
    history: inner.history,
    sessions: inner.sessions,
    append: (topic, envelope, policy) => inner.append(topic, envelope, policy),
    regroup: (userId: string) => inner.regroup(userId),
    init: (node) => inner.init(node),
    publish: (topic, envelope) => inner.publish(topic, envelope),
    nodes: () => inner.nodes(),
    async subscribe (topic) {
      held.set(topic, (held.get(topic) ?? 0) + 1)
    },
    async unsubscribe (topic) {
      const count = (held.get(topic) ?? 0) - 1
      if (count === 0) held.delete(topic)
      else held.set(topic, count)
    },
    health: () => inner.health(),
    close: () => inner.close()
  }
  return { adapter, held }
}

t.test('the adapter hears of a topic once when its first local subscriber comes and once when the last goes', async (t) => {
  const { adapter, held } = ledgerAdapter()
  const server = await startServer(t, { adapter })
  t.same(Object.fromEntries(held), { all: 1 }, 'the node takes `all` as it starts, before any connection')
  const alice = await connect(server.url({ userId: 'alice' }))
  const alice2 = await connect(server.url({ userId: 'alice' }))
  const bob = await connect(server.url({ userId: 'bob' }))
  await alice.request({ type: 'subscribe', channel: 'room' })
  await bob.request({ type: 'subscribe', channel: 'room' })
  await server.app.groups.add('alice', 'team')
  t.same(Object.fromEntries(held), {
    'user:alice': 1, 'user:bob': 1, all: 1, 'channel:room': 1, 'group:team': 1
  }, 'one subscribe per topic, however many local subscribers')

  await bob.request({ type: 'unsubscribe', channel: 'room' })
  t.equal(held.get('channel:room'), 1, 'alice still holds the channel')
  await alice.close()
  t.equal(held.get('user:alice'), 1, 'alice\'s second tab still holds her topics')
  await Promise.all([alice2.close(), bob.close()])
  await until(async () => (await server.app.connections.count()) === 0, 3000, 'every connection gone')
  await until(() => held.size === 1, 3000, `every topic but \`all\` released (held: ${JSON.stringify([...held])})`)
  t.same([...held], [['all', 1]], 'only `all` is held, for the node\'s lifetime')
})

t.test('an adapter that is the whole cluster (`local`) hears of no topic: nothing needs bringing to its node', async (t) => {
  const { adapter, held } = ledgerAdapter(true)
  const server = await startServer(t, { adapter })
  const alice = await connect(server.url({ userId: 'alice' }))
  const bob = await connect(server.url({ userId: 'bob' }))
  await alice.request({ type: 'subscribe', channel: 'room' })
  await bob.request({ type: 'subscribe', channel: 'room' })
  await server.app.groups.add('alice', 'team')
  // Delivery still reaches every topic's subscribers: the node's own hub and directory hold them.
  await bob.request({ type: 'publish', channel: 'room', data: 'hi' })
  t.match(await alice.next((f) => f.type === 'message'), { channel: 'room', from: 'bob', data: 'hi' })
  t.equal(await server.app.connections.sendTo('alice', { n: 1 }), 1, 'alice\'s user topic reaches her')
  t.equal(await server.app.groups.sendTo('team', 'g'), 1, 'the group reaches alice')
  await Promise.all([alice.close(), bob.close()])
  await until(async () => (await server.app.connections.count()) === 0, 3000, 'every connection gone')
  t.same([...held], [], 'not one subscribe, not even `all`')
})
