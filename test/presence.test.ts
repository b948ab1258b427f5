import t from 'tap'
import type { PresenceChange } from '../lib/index'
import { connect, startServer, until } from './helpers'
import { internalsOf } from '../lib/plugin'

const presenceChannels = { channels: { policies: { 'room:*': { presence: true } } } }

function recorder (app: { events: { on: (e: 'presence_change', h: (c: PresenceChange) => void) => unknown } }): PresenceChange[] {
  const changes: PresenceChange[] = []
  app.events.on('presence_change', (change) => { changes.push(change) })
  return changes
}

t.test('two tabs are one presence: the first joins, the last leaves', async (t) => {
  let changes: PresenceChange[] = []
  const server = await startServer(t, {}, (app) => { changes = recorder(app) })
  const tab1 = await connect(server.url({ userId: 'alice' }))
  const tab2 = await connect(server.url({ userId: 'alice' }))
  await until(async () => (await server.app.presence.get('alice'))?.connections.length === 2, 2000, 'two entries')
  t.same(changes.map((c) => c.event), ['join'], 'the second tab is no second join')
  const alice = await server.app.presence.get('alice')
  t.equal(alice?.status, 'online', 'status defaults to online')
  t.same(alice?.connections.map((e) => e.connectionId).sort(), server.app.connections.byUser('alice').map((c) => c.id).sort())
  await tab1.close()
  await until(async () => (await server.app.presence.get('alice'))?.connections.length === 1, 2000, 'one entry left')
  t.same(changes.map((c) => c.event), ['join'], 'closing one tab is no leave')
  t.ok(await server.app.presence.isPresent('alice'))
  await tab2.close()
  await until(() => changes.length === 2, 2000, 'the leave')
  t.match(changes[1], { event: 'leave', userId: 'alice' })
  t.notOk(await server.app.presence.isPresent('alice'))
  t.equal(await server.app.presence.count(), 0)
})

t.test('a reload within leaveGrace emits neither leave nor join', async (t) => {
  let changes: PresenceChange[] = []
  const server = await startServer(t, { presence: { leaveGrace: 300 }, ...presenceChannels }, (app) => { changes = recorder(app) })
  const watcher = await connect(server.url({ userId: 'watcher' }))
  await watcher.request({ type: 'subscribe', channel: 'room:1' })
  const first = await connect(server.url({ userId: 'alice' }))
  await first.request({ type: 'subscribe', channel: 'room:1' })
  await watcher.next((f) => f.type === 'presence_diff' && 'alice' in f.joins)
  await first.close()
  const second = await connect(server.url({ userId: 'alice' }))
  await second.request({ type: 'subscribe', channel: 'room:1' })
  // The grace period's end: the old entry's deferred untrack ran (memory store: no I/O), and
  // after a round trip anything it would have sent the watcher is here.
  await until(async () => (await server.app.presence.get('alice'))?.connections.length === 1, 3000, 'the grace period to end')
  await watcher.settle()
  t.same(changes.filter((c) => c.userId === 'alice').map((c) => c.event), ['join'], 'one join, no leave, no second join')
  t.same(watcher.all('presence_diff').filter((f) => 'alice' in f.joins || 'alice' in f.leaves).length, 1,
    'the channel saw only the first join')
  t.equal((await server.app.presence.get('alice'))?.connections.length, 1, 'the old entry is gone after the grace period')
  await second.close()
  await until(() => changes.some((c) => c.event === 'leave'), 2000, 'the leave after grace')
  await watcher.next((f) => f.type === 'presence_diff' && 'alice' in f.leaves)
  t.same(watcher.violations, [])
})

t.test('a status change is one update, never leave + join', async (t) => {
  let changes: PresenceChange[] = []
  const server = await startServer(t, presenceChannels, (app) => { changes = recorder(app) })
  const alice = await connect(server.url({ userId: 'alice' }))
  await until(() => changes.length === 1, 2000, 'join')
  t.equal((await alice.request({ type: 'presence', status: 'away', meta: { device: 'phone' } })).type, 'ack')
  await until(() => changes.length === 2, 2000, 'update')
  t.match(changes[1], { event: 'update', userId: 'alice', presence: { status: 'away', meta: { device: 'phone' } } })
  await server.app.presence.update('alice', { meta: { mood: 'ok' } })
  t.same((await server.app.presence.get('alice'))?.meta, { device: 'phone', mood: 'ok' }, 'merge keeps other keys')
  await server.app.presence.update('alice', { meta: { only: 1 } }, { mode: 'replace' })
  t.same((await server.app.presence.get('alice'))?.meta, { only: 1 }, 'replace swaps the whole meta')
  t.same(changes.map((c) => c.event), ['join', 'update', 'update', 'update'])
  t.notOk(await server.app.presence.update('nobody', { status: 'away' }), 'updating an absent user is false')
})

t.test('presence channels: snapshot in subscribed, diffs to subscribers, none elsewhere', async (t) => {
  const server = await startServer(t, presenceChannels)
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room:a' })
  await bob.request({ type: 'subscribe', channel: 'plain' })
  const alice = await connect(server.url({ userId: 'alice' }))
  alice.send({ type: 'subscribe', channel: 'room:a', ref: 's1' })
  const subscribed = await alice.next('subscribed')
  t.same(Object.keys(subscribed.presence).sort(), ['alice', 'bob'], 'the snapshot includes everyone, the joiner too')
  t.match(subscribed.presence.bob, { status: 'online', connections: 1 })
  const join = await bob.next('presence_diff')
  t.match(join, { channel: 'room:a', joins: { alice: { status: 'online', connections: 1 } }, leaves: {} })
  alice.send({ type: 'subscribe', channel: 'plain', ref: 's2' })
  const plain = await alice.next((f) => f.type === 'subscribed' && f.channel === 'plain')
  t.equal(plain.presence, undefined, 'a channel without presence has no snapshot')

  const tab2 = await connect(server.url({ userId: 'alice' }))
  await tab2.request({ type: 'subscribe', channel: 'room:a' })
  await alice.request({ type: 'presence', status: 'busy' })
  const update = await bob.next((f) => f.type === 'presence_diff' && f.updates !== undefined)
  t.match(update, { channel: 'room:a', joins: {}, leaves: {}, updates: { alice: { status: 'busy', connections: 2 } } })
  await tab2.close()
  await alice.close()
  const leave = await bob.next((f) => f.type === 'presence_diff' && Object.keys(f.leaves).length > 0)
  t.match(leave, { channel: 'room:a', leaves: { alice: { status: 'busy' } } })
  await bob.request({ type: 'heartbeat' })
  const diffs = bob.all('presence_diff')
  t.equal(diffs.length, 3, 'exactly one join, one update, one leave: the second tab changed nothing on the wire')
  t.ok(diffs.every((f) => f.channel === 'room:a'), 'no diff for the channel without presence')
  t.equal(alice.all('presence_diff').filter((f) => 'alice' in f.joins).length, 0, 'nobody receives their own join twice')
  t.same(bob.violations, [])
  t.same(alice.violations, [])
})

t.test('users named __proto__ and constructor are in snapshots, diffs and list()', async (t) => {
  const server = await startServer(t, presenceChannels)
  for (const userId of ['__proto__', 'constructor']) {
    const client = await connect(server.url({ userId }))
    await client.request({ type: 'subscribe', channel: 'room:a' })
  }
  const alice = await connect(server.url({ userId: 'alice' }))
  alice.send({ type: 'subscribe', channel: 'room:a', ref: 's1' })
  const subscribed = await alice.next('subscribed')
  t.same(Object.keys(subscribed.presence).sort(), ['__proto__', 'alice', 'constructor'], 'every user is an own key')
  t.match(subscribed.presence.constructor, { status: 'online', connections: 1 })
  const list = await server.app.presence.list({ channel: 'room:a' })
  t.same(list.map((p) => p.userId).sort(), ['__proto__', 'alice', 'constructor'])
  const proto = await connect(server.url({ userId: '__proto__' }))
  await proto.request({ type: 'subscribe', channel: 'room:a' })
  await proto.request({ type: 'presence', status: 'away' })
  const update = await alice.next((f) => f.type === 'presence_diff' && f.updates !== undefined)
  t.same(Object.keys(update.updates), ['__proto__'], 'a diff names __proto__ too')
  t.same(alice.violations, [])
})

t.test('list filters: channel, group, status, meta', async (t) => {
  const server = await startServer(t, {
    authenticate: async (request) => {
      const id = String(request.headers['x-user'])
      return { id, groups: id === 'carol' ? ['admins'] : [] }
    }
  })
  const open = (id: string) => connect(server.url(), { headers: { 'x-user': id } })
  const [alice, bob] = [await open('alice'), await open('bob')]
  await open('carol')
  await alice.request({ type: 'subscribe', channel: 'lobby' })
  await bob.request({ type: 'presence', status: 'away', meta: { role: 'admin' } })
  const ids = async (filter: Parameters<typeof server.app.presence.list>[0]) =>
    (await server.app.presence.list(filter)).map((p) => p.userId).sort()
  t.same(await ids({}), ['alice', 'bob', 'carol'])
  t.same(await ids({ channel: 'lobby' }), ['alice'])
  t.same(await ids({ group: 'admins' }), ['carol'])
  t.same(await ids({ status: 'away' }), ['bob'])
  t.same(await ids({ where: { role: 'admin' } }), ['bob'])
  t.same(await ids({ status: 'online', where: { role: 'admin' } }), [])
})

t.test('meta validation: size, prototype keys, shape', async (t) => {
  const server = await startServer(t, { maxMetaBytes: 64 })
  const alice = await connect(server.url({ userId: 'alice' }))
  t.match(await alice.request({ type: 'presence', meta: { blob: 'x'.repeat(100) } }), { type: 'error', code: 'too_large' })
  alice.send('{"type":"presence","meta":{"__proto__":{"polluted":true}},"ref":"p1"}')
  t.match(await alice.next((f) => f.ref === 'p1'), { type: 'error', code: 'invalid_message' })
  t.match(await alice.request({ type: 'presence', meta: [1, 2] }), { type: 'error', code: 'invalid_message' })
  t.match(await alice.request({ type: 'presence', status: '' }), { type: 'error', code: 'invalid_message' })
  const conn = server.app.connections.byUser('alice')[0]
  await t.rejects(server.app.presence.update(conn, { meta: { constructor: 1 } }), { code: 'HAUYNA_INVALID_META' })
  t.same((await server.app.presence.get('alice'))?.meta, {}, 'nothing was stored')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution')
})

t.test('presence.defaultStatus is the status of an entry tracked without one', async (t) => {
  const server = await startServer(t, { presence: { defaultStatus: 'available' } })
  await connect(server.url({ userId: 'alice' }))
  await until(async () => await server.app.presence.isPresent('alice'), 2000, 'alice tracked')
  t.equal((await server.app.presence.get('alice'))?.status, 'available')
})

t.test('a client presence frame tracks a connection that was not tracked yet', async (t) => {
  const server = await startServer(t, { presence: { autoTrack: false } })
  const alice = await connect(server.url({ userId: 'alice' }))
  t.notOk(await server.app.presence.isPresent('alice'))
  t.equal((await alice.request({ type: 'presence', status: 'busy', meta: { mood: 'ok' } })).type, 'ack')
  t.match(await server.app.presence.get('alice'), { status: 'busy', meta: { mood: 'ok' } })
  t.same(alice.violations, [])
})

t.test('autoTrack and autoUntrack can be turned off', async (t) => {
  const server = await startServer(t, { presence: { autoTrack: false, autoUntrack: false } })
  const alice = await connect(server.url({ userId: 'alice' }))
  t.notOk(await server.app.presence.isPresent('alice'), 'not tracked on connect')
  const conn = server.app.connections.byUser('alice')[0]
  await server.app.presence.track(conn, { status: 'busy' })
  t.equal((await server.app.presence.get('alice'))?.status, 'busy')
  await alice.close()
  await until(() => server.app.connections.byUser('alice').length === 0, 2000, 'closed')
  t.ok(await server.app.presence.isPresent('alice'), 'still present: the app untracks')
  t.ok(await server.app.presence.untrack(conn))
  t.notOk(await server.app.presence.isPresent('alice'))
})

t.test('channel presence across two channels: updates reach both, leaving one keeps the other', async (t) => {
  const server = await startServer(t, presenceChannels)
  const bob = await connect(server.url({ userId: 'bob' }))
  const alice = await connect(server.url({ userId: 'alice' }))
  for (const channel of ['room:a', 'room:b']) {
    await bob.request({ type: 'subscribe', channel })
    await alice.request({ type: 'subscribe', channel })
  }
  const aliceDiffs = (kind: 'updates' | 'leaves') => bob.all('presence_diff')
    .filter((f) => f[kind]?.alice !== undefined).map((f) => [f.channel, f[kind].alice.status])

  t.ok(await server.app.presence.update('alice', { status: 'busy' }))
  await bob.settle()
  t.same(aliceDiffs('updates').sort(), [['room:a', 'busy'], ['room:b', 'busy']], 'one update in each presence channel')

  t.equal((await alice.request({ type: 'unsubscribe', channel: 'room:a' })).type, 'ack')
  await bob.settle()
  t.same(aliceDiffs('leaves'), [['room:a', 'busy']])
  const carol = await connect(server.url({ userId: 'carol' }))
  carol.send({ type: 'subscribe', channel: 'room:a', ref: 'c1' })
  t.same(Object.keys((await carol.next('subscribed')).presence).sort(), ['bob', 'carol'], 'bob is still in room:a')

  t.ok(await server.app.presence.update('alice', { status: 'away' }))
  await bob.settle()
  t.same(aliceDiffs('updates').filter(([, status]) => status === 'away'), [['room:b', 'away']],
    'alice is still present in room:b, and only there')
  await carol.settle()
  t.equal(carol.all('presence_diff').filter((f) => f.updates?.alice !== undefined).length, 0)
  for (const c of [alice, bob, carol]) t.same(c.violations, [])
})

t.test('a connection not tracked in presence is in a presence channel with the default status', async (t) => {
  const server = await startServer(t, { presence: { autoTrack: false, defaultStatus: 'available' }, ...presenceChannels })
  const alice = await connect(server.url({ userId: 'alice' }))
  alice.send({ type: 'subscribe', channel: 'room:a', ref: 's1' })
  t.same((await alice.next('subscribed')).presence, { alice: { status: 'available', meta: {}, connections: 1 } })
  t.same(alice.violations, [])
})

t.test('an untracked connection in a presence channel that sets its status: the channel hears the update, once', async (t) => {
  const server = await startServer(t, { presence: { autoTrack: false }, ...presenceChannels })
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room:a' })
  const alice = await connect(server.url({ userId: 'alice' }))
  await alice.request({ type: 'subscribe', channel: 'room:a' })
  t.equal((await alice.request({ type: 'presence', status: 'busy' })).type, 'ack')
  t.match(await bob.next((f) => f.type === 'presence_diff' && f.updates !== undefined),
    { channel: 'room:a', updates: { alice: { status: 'busy', connections: 1 } } })
  t.equal((await alice.request({ type: 'presence', status: 'busy' })).type, 'ack', 'the same status again')
  await bob.settle()
  t.equal(bob.all('presence_diff').filter((f) => f.updates !== undefined).length, 1, 'an unchanged status is not announced')
  for (const c of [alice, bob]) t.same(c.violations, [])
})

t.test('a leave that lands at any point while a status update is announced: no failure, and the leaver is not announced', async (t) => {
  const server = await startServer(t, presenceChannels)
  const alice = await connect(server.url({ userId: 'alice' }))
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room:b' })
  const conn = server.app.connections.byUser('alice')[0]
  // The unsubscribe starts 0 to 11 microtask turns after the update: some land mid-announcement.
  for (let turns = 0; turns < 12; turns++) {
    await alice.request({ type: 'subscribe', channel: 'room:b' })
    await alice.request({ type: 'subscribe', channel: 'room:a' })
    // room:a has only alice (the channel goes with her), room:b has bob too.
    const leave = async (channel: string): Promise<boolean> => {
      for (let i = 0; i < turns; i++) await null
      return await server.app.channels.unsubscribe(conn, channel)
    }
    const results = await Promise.all([server.app.presence.update('alice', { status: `s${turns}` }), leave('room:a'), leave('room:b')])
    t.same(results, [true, true, true], `turn ${turns}`)
  }
  await bob.settle()
  const lastDiff = bob.all('presence_diff').at(-1)
  t.same(Object.keys(lastDiff?.leaves ?? {}), ['alice'], 'bob last heard alice leave')
  for (const c of [alice, bob]) t.same(c.violations, [])
})

t.test('re-subscribing to a presence channel counts the connection once', async (t) => {
  const server = await startServer(t, presenceChannels)
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room:a' })
  const alice = await connect(server.url({ userId: 'alice' }))
  await alice.request({ type: 'subscribe', channel: 'room:a' })
  await alice.request({ type: 'subscribe', channel: 'room:a', meta: { seat: 2 } })
  t.same(alice.all('subscribed').map((f) => f.presence.alice.connections), [1, 1])
  t.equal((await alice.request({ type: 'unsubscribe', channel: 'room:a' })).type, 'ack')
  await bob.settle()
  t.same(bob.all('presence_diff').map((f) => [Object.keys(f.joins), Object.keys(f.leaves)]),
    [[['alice'], []], [[], ['alice']]], 'one join, then the leave of the one subscription')
  for (const c of [alice, bob]) t.same(c.violations, [])
})

t.test('presence turned on by channels.policy() covers the subscriptions made after it', async (t) => {
  const server = await startServer(t)
  const alice = await connect(server.url({ userId: 'alice' }))
  await alice.request({ type: 'subscribe', channel: 'room' })
  server.app.channels.policy('room', { presence: true })
  // A re-subscribe is not a join: alice, subscribed before, is not in the channel's presence.
  t.equal((await alice.request({ type: 'subscribe', channel: 'room' })).type, 'ack')
  t.same(alice.all('subscribed').map((f) => f.presence), [undefined, {}])
  const bob = await connect(server.url({ userId: 'bob' }))
  bob.send({ type: 'subscribe', channel: 'room', ref: 'b1' })
  t.same(Object.keys((await bob.next('subscribed')).presence), ['bob'])
  t.match(await alice.next('presence_diff'), { channel: 'room', joins: { bob: { connections: 1 } }, leaves: {} })
  t.equal((await alice.request({ type: 'unsubscribe', channel: 'room' })).type, 'ack', 'leaving without having joined is fine')
  await bob.settle()
  t.equal(bob.all('presence_diff').length, 0, 'and says nothing')
  for (const c of [alice, bob]) t.same(c.violations, [])
})

t.test('the presence leave comes before `unsubscribe` and, without leaveGrace, before `disconnect`', async (t) => {
  const presentAtDisconnect: boolean[] = []
  const server = await startServer(t, presenceChannels, (app) => {
    app.events.on('unsubscribe', async (conn) => { await app.connections.sendTo('bob', `unsubscribe:${conn.userId}`) })
    app.events.on('disconnect', async (conn) => {
      presentAtDisconnect.push(await app.presence.isPresent(conn.userId))
      await app.connections.sendTo('bob', `disconnect:${conn.userId}`)
    })
  })
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room:a' })
  const alice = await connect(server.url({ userId: 'alice' }))
  // What bob hears about alice, in order: her leaves and the markers the handlers send.
  const heard = () => bob.frames.filter((f) => f.type === 'direct' || (f.type === 'presence_diff' && 'alice' in f.leaves))
    .map((f) => f.type === 'direct' ? f.data : 'leave')

  await alice.request({ type: 'subscribe', channel: 'room:a' })
  await alice.request({ type: 'unsubscribe', channel: 'room:a' })
  await bob.settle()
  t.same(heard(), ['leave', 'unsubscribe:alice'])

  await alice.request({ type: 'subscribe', channel: 'room:a' })
  await alice.close()
  await until(() => presentAtDisconnect.length === 1, 2000, 'the disconnect handler')
  await bob.settle()
  t.same(heard(), ['leave', 'unsubscribe:alice', 'leave', 'unsubscribe:alice', 'disconnect:alice'])
  t.same(presentAtDisconnect, [false], 'by `disconnect`, alice has left presence')
  t.same(bob.violations, [])
})

t.test('presence API edges: absent users, untracking twice, replace without meta, errors that say what is wrong', async (t) => {
  const server = await startServer(t, { maxMetaBytes: 64, presence: { autoTrack: false } })
  await connect(server.url({ userId: 'alice' }))
  const conn = server.app.connections.byUser('alice')[0]
  const { presence } = server.app
  t.equal(await presence.get('alice'), null, 'not tracked: null')
  const badStatus = /^Invalid status name: must be 1-64 characters without control or invisible characters, got ""$/
  const badMeta = /^Invalid presence meta: must be an object$/
  await t.rejects(presence.track(conn, { status: '' }), { code: 'HAUYNA_INVALID_NAME', message: badStatus })
  await t.rejects(presence.track(conn, { meta: [] as never }), { code: 'HAUYNA_INVALID_META', message: badMeta })
  // The wire schema allows 64 characters: a longer status set by the server would break it.
  await t.rejects(presence.track(conn, { status: 's'.repeat(65) }), { code: 'HAUYNA_INVALID_NAME', message: /1-64 characters/ })
  await presence.track(conn, { status: 's'.repeat(64) })
  t.equal((await presence.get('alice'))?.status, 's'.repeat(64), '64 characters is within the limit')
  t.ok(await presence.untrack(conn))

  const note = 'x'.repeat(25)
  await presence.track(conn, { status: 'busy', meta: { note } })
  await t.rejects(presence.update(conn, { status: '' }), { code: 'HAUYNA_INVALID_NAME', message: badStatus })
  await t.rejects(presence.update(conn, { meta: 1 as never }), { code: 'HAUYNA_INVALID_META', message: badMeta })
  // Each meta fits the 64 bytes on its own; merged, they do not.
  await t.rejects(presence.update(conn, { meta: { more: 'y'.repeat(25) } }),
    { code: 'HAUYNA_TOO_LARGE', message: /^presence meta is 71 bytes, over the limit of 64 bytes$/ })
  t.match(await presence.get('alice'), { status: 'busy', meta: { note } }, 'nothing was stored')

  t.ok(await presence.update('alice', { status: 'away' }, { mode: 'replace' }))
  t.same((await presence.get('alice'))?.meta, { note }, 'replace without a meta keeps the meta')
  t.equal((await presence.get('alice'))?.status, 'away')

  t.equal(await presence.untrack(conn), true)
  t.equal(await presence.untrack(conn), false, 'untracking an untracked connection')
  t.equal(await presence.get('alice'), null)
})

t.test('two tabs untracked at once: one leave, naming the tab whose entry went last', async (t) => {
  let changes: PresenceChange[] = []
  const server = await startServer(t, { presence: { autoUntrack: false } }, (app) => { changes = recorder(app) })
  const tabs = [await connect(server.url({ userId: 'alice' })), await connect(server.url({ userId: 'alice' }))]
  const [first, second] = tabs.map((c) => server.app.connections.get(c.frames[0].connectionId as string))
  if (first === undefined || second === undefined) throw new Error('no connections')
  t.same(await Promise.all([server.app.presence.untrack(first), server.app.presence.untrack(second)]), [true, true])
  const leaves = changes.filter((c) => c.event === 'leave')
  t.equal(leaves.length, 1)
  t.match(leaves[0], { userId: 'alice', connectionId: second.id, presence: { connections: [{ connectionId: second.id }] } })
  t.notOk(await server.app.presence.isPresent('alice'))
  for (const c of tabs) t.same(c.violations, [])
})

t.test('two tabs subscribing at once are one join, and one tab leaving is no leave', async (t) => {
  const server = await startServer(t, presenceChannels)
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room:a' })
  const tab1 = await connect(server.url({ userId: 'alice' }))
  const tab2 = await connect(server.url({ userId: 'alice' }))
  const [first, second] = server.app.connections.byUser('alice')
  await Promise.all([server.app.channels.subscribe(first, 'room:a'), server.app.channels.subscribe(second, 'room:a')])
  const join = await bob.once((f) => f.type === 'presence_diff' && 'alice' in f.joins, 'alice\'s join')
  t.equal(join.joins.alice.connections, 1)
  const carol = await connect(server.url({ userId: 'carol' }))
  await carol.request({ type: 'subscribe', channel: 'room:a' })
  t.equal(carol.all('subscribed')[0].presence.alice.connections, 2, 'both tabs are counted')
  await server.app.channels.unsubscribe(first, 'room:a')
  await bob.settle()
  t.equal(bob.count((f) => f.type === 'presence_diff' && 'alice' in f.leaves), 0, 'alice is still there through her other tab')
  await server.app.channels.unsubscribe(second, 'room:a')
  await bob.once((f) => f.type === 'presence_diff' && 'alice' in f.leaves, 'alice\'s leave')
  for (const c of [bob, carol]) await c.request({ type: 'unsubscribe', channel: 'room:a' })
  t.same(internalsOf(server.app).sharedSets, {}, 'no channel or presence state left behind')
  t.equal(await server.app.connections.count(), 4, 'the open connections still counted')
  for (const c of [bob, carol, tab1, tab2]) t.same(c.violations, [])
})
