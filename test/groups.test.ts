import type { FastifyRequest } from 'fastify'
import t from 'tap'
import { type Client, connect, open, type Server, startServer, until } from './helpers'
import { internalsOf } from '../lib/plugin'
import type { GroupStore } from '../lib/index'
import { WrappedAdapter } from './wrapped-adapter'

// Group frames are read with `all()`: acks and group frames interleave, and `next()` skips
// the frames it passes over.

function groupData (client: Client, group: string): unknown[] {
  return client.all('group').filter((f) => f.group === group).map((f) => f.data)
}

/** Identity from headers: `x-user`, and identity groups from `x-groups` ("name" or "name:role", comma separated). */
function headerIdentity (request: FastifyRequest) {
  const groups = String(request.headers['x-groups'] ?? '').split(',').filter((g) => g !== '').map((g) => {
    const [name, role] = g.split(':')
    return role === undefined ? name : { name, role }
  })
  return { id: String(request.headers['x-user']), groups }
}

function connectAs (server: Server, user: string, groups = ''): Promise<Client> {
  return connect(server.url(), { headers: { 'x-user': user, 'x-groups': groups } })
}

t.test('add, has, members, of, remove', async (t) => {
  const server = await startServer(t)
  const { groups } = server.app
  await groups.add('alice', 'team', { role: 'lead' })
  await groups.add('bob', 'team')
  await groups.add('alice', 'book-club')

  t.equal(await groups.has('alice', 'team'), true)
  t.equal(await groups.has('alice', 'team', 'lead'), true, 'with the matching role')
  t.equal(await groups.has('alice', 'team', 'member'), false, 'with another role')
  t.equal(await groups.has('bob', 'team', 'lead'), false, 'a member without a role has no role')
  t.equal(await groups.has('carol', 'team'), false)
  t.same((await groups.members('team')).sort((a, b) => a.userId.localeCompare(b.userId)),
    [{ userId: 'alice', role: 'lead' }, { userId: 'bob', role: undefined }])
  t.same((await groups.of('alice')).sort((a, b) => a.group.localeCompare(b.group)),
    [{ group: 'book-club', role: undefined }, { group: 'team', role: 'lead' }])
  t.same(await groups.members('nobody'), [])
  t.same(await groups.of('carol'), [])

  // Re-adding changes the role without duplicating the member.
  await groups.add('bob', 'team', { role: 'reviewer' })
  t.equal((await groups.members('team')).length, 2)
  t.equal(await groups.has('bob', 'team', 'reviewer'), true)

  t.equal(await groups.remove('alice', 'team'), true)
  t.equal(await groups.remove('alice', 'team'), false, 'removing twice is a no-op')
  t.equal(await groups.has('alice', 'team'), false)
  t.same(await groups.of('alice'), [{ group: 'book-club', role: undefined }])
  t.equal(await groups.remove('bob', 'team'), true)
  t.same(await groups.members('team'), [], 'an emptied group is gone')
  await t.rejects(groups.add('alice', ''), { code: 'HAUYNA_INVALID_NAME' })
})

t.test('sendTo reaches every connection of every member, including users added while offline', async (t) => {
  const server = await startServer(t)
  await server.app.groups.add('alice', 'team')
  const tab1 = await connect(server.url({ userId: 'alice' }))
  const tab2 = await connect(server.url({ userId: 'alice' }))
  const outsider = await connect(server.url({ userId: 'zed' }))

  t.equal(await server.app.groups.sendTo('team', { n: 1 }), 2, 'both tabs counted')
  for (const tab of [tab1, tab2]) {
    t.match(await tab.next('group'), { type: 'group', group: 'team', from: null, data: { n: 1 } })
  }

  // Bob is added while offline; his connection joins the group's topic when it opens.
  await server.app.groups.add('bob', 'team', { role: 'member' })
  const bob = await connect(server.url({ userId: 'bob' }))
  t.equal(await server.app.groups.sendTo('team', { n: 2 }, { from: 'alice' }), 3)
  t.match(await bob.next('group'), { group: 'team', from: 'alice', data: { n: 2 } })

  // A member added while online starts receiving at once.
  await server.app.groups.add('zed', 'team')
  t.equal(await server.app.groups.sendTo('team', { n: 3 }), 4)
  t.match(await outsider.next('group'), { data: { n: 3 } })

  // Removal stops delivery to every one of the user's connections.
  await server.app.groups.remove('alice', 'team')
  t.equal(await server.app.groups.sendTo('team', { n: 4 }), 2)
  await until(() => groupData(bob, 'team').length === 3, 2000, 'bob to get n=4')
  await tab1.request({ type: 'heartbeat' })
  await tab2.request({ type: 'heartbeat' })
  t.same(groupData(tab1, 'team'), [{ n: 1 }, { n: 2 }, { n: 3 }])
  t.same(groupData(tab2, 'team'), [{ n: 1 }, { n: 2 }, { n: 3 }])
  for (const c of [tab1, tab2, bob, outsider]) t.same(c.violations, [])
})

t.test('identity groups end with the last connection; add()ed memberships stay', async (t) => {
  const server = await startServer(t, { authenticate: headerIdentity })
  const { groups } = server.app
  await groups.add('alice', 'staff')
  const tab1 = await connectAs(server, 'alice', 'ops:admin,night-shift')
  const tab2 = await connectAs(server, 'alice', 'ops:admin,night-shift')

  t.equal(await groups.has('alice', 'ops', 'admin'), true, 'identity group with its role')
  t.equal(await groups.has('alice', 'night-shift'), true)
  t.equal(await groups.sendTo('ops', 'page'), 2)
  t.equal(await groups.sendTo('staff', 'memo'), 2, 'add()ed memberships reach identity-authenticated connections')

  await tab1.close()
  await until(() => server.app.connections.byUser('alice').length === 1, 2000, 'tab1 to be cleaned up')
  t.equal(await groups.has('alice', 'ops'), true, 'identity groups stay while another connection is open')
  t.equal(await groups.sendTo('ops', 'still'), 1)

  await tab2.close()
  await until(async () => !(await groups.has('alice', 'ops')), 2000, 'identity groups to be dropped')
  t.equal(await groups.has('alice', 'night-shift'), false)
  t.same(await groups.members('ops'), [])
  t.same(await groups.of('alice'), [{ group: 'staff', role: undefined }], 'the add()ed membership stays')
  t.equal(await groups.sendTo('staff', 'offline'), 0)

  // Next connection without identity groups still gets the sticky membership.
  const again = await connectAs(server, 'alice')
  t.equal(await groups.sendTo('staff', 'back'), 1)
  t.match(await again.next('group'), { group: 'staff', data: 'back' })
  t.equal(await groups.sendTo('ops', 'gone'), 0)
  for (const c of [tab1, tab2, again]) t.same(c.violations, [])
})

t.test('client group messages: members send to every member connection, others are forbidden', async (t) => {
  const server = await startServer(t)
  await server.app.groups.add('alice', 'team')
  await server.app.groups.add('bob', 'team')
  const alice = await connect(server.url({ userId: 'alice' }))
  const bob1 = await connect(server.url({ userId: 'bob' }))
  const bob2 = await connect(server.url({ userId: 'bob' }))
  const eve = await connect(server.url({ userId: 'eve' }))

  t.equal((await alice.request({ type: 'group', group: 'team', data: 'hello team' })).type, 'ack')
  for (const c of [alice, bob1, bob2]) {
    await until(() => groupData(c, 'team').length === 1, 2000, 'every member connection to get it')
    t.match(c.all('group')[0], { group: 'team', from: 'alice', data: 'hello team' }, 'sender included')
  }

  t.match(await eve.request({ type: 'group', group: 'team', data: 'let me in' }), { type: 'error', code: 'forbidden' })
  t.match(await eve.request({ type: 'group', group: 'nobody', data: 1 }), { type: 'error', code: 'forbidden' })
  t.equal((await bob1.request({ type: 'group', group: 'team', data: 'second' })).type, 'ack')
  await until(() => groupData(alice, 'team').length === 2, 2000, 'alice to get bob\'s message')
  t.same(groupData(alice, 'team'), ['hello team', 'second'], 'the rejected message was never delivered')
  t.same(eve.all('group'), [])
  for (const c of [alice, bob1, bob2, eve]) t.same(c.violations, [])
})

t.test('permissions.group: true lets non-members send', async (t) => {
  const server = await startServer(t, { permissions: { group: true } })
  await server.app.groups.add('alice', 'team')
  const alice = await connect(server.url({ userId: 'alice' }))
  const eve = await connect(server.url({ userId: 'eve' }))
  t.equal((await eve.request({ type: 'group', group: 'team', data: 'from outside' })).type, 'ack')
  t.match(await alice.next('group'), { group: 'team', from: 'eve', data: 'from outside' })
  await eve.request({ type: 'heartbeat' })
  t.same(eve.all('group'), [], 'the non-member sender is not a recipient')
  t.same(alice.violations, [])
  t.same(eve.violations, [])
})

t.test('permissions.group as a function decides per message', async (t) => {
  const server = await startServer(t, {
    permissions: { group: async ({ connection, group }) => group === 'help' || connection.userId === 'root' }
  })
  await server.app.groups.add('alice', 'help')
  await server.app.groups.add('alice', 'team')
  const alice = await connect(server.url({ userId: 'alice' }))
  const root = await connect(server.url({ userId: 'root' }))
  t.equal((await alice.request({ type: 'group', group: 'help', data: 1 })).type, 'ack')
  t.match(await alice.request({ type: 'group', group: 'team', data: 2 }), { type: 'error', code: 'forbidden' },
    'the function replaces the membership rule')
  t.equal((await root.request({ type: 'group', group: 'team', data: 3 })).type, 'ack')
  await until(() => groupData(alice, 'team').length === 1, 2000, 'root\'s message')
  t.same(groupData(alice, 'team'), [3])
  t.same(alice.violations, [])
  t.same(root.violations, [])
})

t.test('list(); remove() of an unknown group is false; emptied groups and group-less users leave no state', async (t) => {
  const server = await startServer(t)
  const { groups } = server.app
  t.same(await groups.list(), [])
  await groups.add('alice', 'team')
  await groups.add('bob', 'team')
  await groups.add('alice', 'club')
  t.same(await groups.list(), [{ group: 'team', members: 2 }, { group: 'club', members: 1 }])
  t.match(internalsOf(server.app), { groupMemberships: 2, userGroups: 2 })

  t.equal(await groups.remove('alice', 'no-such-group'), false)
  t.equal(await groups.remove('alice', 'team'), true)
  t.match(internalsOf(server.app), { groupMemberships: 2, userGroups: 2 }, 'alice is still in club')
  t.equal(await groups.remove('alice', 'club'), true)
  t.same(await groups.list(), [{ group: 'team', members: 1 }], 'the emptied group is gone')
  t.match(internalsOf(server.app), { groupMemberships: 1, userGroups: 1 }, 'alice, in no group now, is forgotten')
  t.equal(await groups.remove('bob', 'team'), true)
  t.same(await groups.list(), [])
  t.match(internalsOf(server.app), { groupMemberships: 0, userGroups: 0 })
})

t.test('a membership both add()ed and from the identity stays; a lone connection\'s identity groups go with it', async (t) => {
  const server = await startServer(t, { authenticate: headerIdentity })
  const { groups } = server.app
  await groups.add('alice', 'ops')
  const tab = await connectAs(server, 'alice', 'ops:admin,night-shift')
  t.same((await groups.of('alice')).sort((a, b) => a.group.localeCompare(b.group)),
    [{ group: 'night-shift', role: undefined }, { group: 'ops', role: 'admin' }], 'the identity gives ops its role')
  await tab.close()
  await until(async () => !(await groups.has('alice', 'night-shift')), 2000, 'the identity-only group to be dropped')
  t.same(await groups.of('alice'), [{ group: 'ops', role: undefined }],
    'the add()ed membership outlives the last connection, with its own role (none): the identity\'s went with the connection')
  t.same(tab.violations, [])
})

t.test('connection.groups: the groups a connection receives', async (t) => {
  const server = await startServer(t)
  await server.app.groups.add('alice', 'team')
  const clients = [await connect(server.url({ userId: 'alice' })), await connect(server.url({ userId: 'carol' }))]
  const groupsOf = (userId: string) => [...server.app.connections.byUser(userId)[0].groups]
  t.same(groupsOf('alice'), ['team'])
  t.same(groupsOf('carol'), [], 'a user in no group receives none')
  await server.app.groups.add('carol', 'team')
  t.same(groupsOf('carol'), ['team'], 'an open connection joins at once')
  await server.app.groups.add('carol', 'club')
  t.same(groupsOf('carol'), ['team', 'club'], 'and keeps the groups it had')
  await server.app.groups.remove('alice', 'team')
  t.same(groupsOf('alice'), [])
  for (const c of clients) t.same(c.violations, [])
})

t.test('a connection opens without its added groups only when the adapter cannot answer for them; any other failure fails its setup', async (t) => {
  class BrokenGroups extends WrappedAdapter {
    override readonly groups = Object.assign(Object.create(this.inner.groups) as GroupStore, {
      of: async () => { throw new Error('group store bug') }
    })
  }
  const reported: string[] = []
  const server = await startServer(t, { adapter: new BrokenGroups('broken-groups') }, (app) => {
    app.events.on('error', (error) => { reported.push(error.message) })
  })
  const client = await open(server.url({ userId: 'alice' }))
  t.same(await client.closed, { code: 1011, reason: 'internal error' }, 'the failure is not taken for an outage')
  t.same(reported, ['group store bug'])
})

t.test('group name errors say it is a group name', async (t) => {
  const reported: string[] = []
  const server = await startServer(t, {
    authenticate: (request) => {
      const id = String((request.query as { userId: string }).userId)
      return { id, groups: id === 'mallory' ? ['bad\u0000'] : [] }
    }
  }, (app) => { app.events.on('error', (error) => { reported.push(error.message) }) })
  const badName = /^Invalid group name: must be 1-200 characters without control or invisible characters, got /
  await t.rejects(server.app.groups.add('alice', ''), { code: 'HAUYNA_INVALID_NAME', message: badName })
  await t.rejects(server.app.groups.sendTo('', 1), { code: 'HAUYNA_INVALID_NAME', message: badName })
  const mallory = await open(server.url({ userId: 'mallory' }))
  t.same(await mallory.closed, { code: 1011, reason: 'internal error' }, 'an identity group with a bad name fails the setup')
  t.equal(reported.length, 1)
  t.match(reported[0], badName)
})

t.test('groups.remove while a connection of the member has joined no group yet', async (t) => {
  // A connection is registered before its setup joins the user's groups. Here the setup fails
  // at a bad identity group, before any join, and the app's error handler removes a membership
  // while the connection is still registered.
  let removal: Promise<boolean> | undefined
  const server = await startServer(t, { authenticate: () => ({ id: 'mallory', groups: ['bad\u0000'] }) }, (app) => {
    app.events.on('error', () => { removal ??= app.groups.remove('mallory', 'staff') })
  })
  await server.app.groups.add('mallory', 'staff')
  const client = await open(server.url())
  t.same(await client.closed, { code: 1011, reason: 'internal error' })
  t.equal(await removal, true, 'the membership is removed')
  t.same(await server.app.groups.of('mallory'), [])
})
