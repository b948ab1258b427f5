import { randomUUID } from 'node:crypto'
import type { Test } from 'tap'
import type { Adapter, AdapterNode, Appended, Departure, Envelope, HistoryPolicy, Membership, NodeFigures, PresenceEntry, StreamPosition, Vacancy } from '../lib/index'
import { type Client, connect, delay, type Server, startServer, until } from './helpers'
import { internalsOf } from '../lib/plugin'

/**
 * The adapter's caller in these tests, in place of the runtime: it records every delivery
 * and answers with the number of local subscribers it was told a topic has.
 */
export class RecordingNode implements AdapterNode {
  readonly deliveries: Array<{ topic: string, envelope: Envelope }> = []
  readonly subscribers = new Map<string, number>()
  /** Each call of `departed`, as the users it named. */
  readonly departures: string[][] = []
  /** Each call of `vacated`. */
  readonly vacancies: Vacancy[][] = []
  /** Each user `regrouped` named. */
  readonly regroups: string[] = []
  /** Calls of `reconnected`. */
  reconnections = 0
  /** Each call of `returned`, as the users it named; each call of `refilled`. */
  readonly arrivals: string[][] = []
  readonly refills: Vacancy[][] = []

  constructor (readonly nodeId = `node-${randomUUID()}`) {}

  deliver (topic: string, envelope: Envelope): number {
    this.deliveries.push({ topic, envelope })
    return this.subscribers.get(topic) ?? 0
  }

  figures (): NodeFigures {
    return { connections: 2, users: 1, startedAt: 1_000 }
  }

  departed (departures: Departure[]): void {
    this.departures.push(departures.map((d) => d.userId))
  }

  vacated (vacancies: Vacancy[]): void {
    this.vacancies.push(vacancies)
  }

  async regrouped (userId: string): Promise<void> {
    this.regroups.push(userId)
  }

  reconnected (): void {
    this.reconnections++
  }

  returned (arrivals: Departure[]): void {
    this.arrivals.push(arrivals.map((a) => a.userId))
  }

  refilled (vacancies: Vacancy[]): void {
    this.refills.push(vacancies)
  }

  of (topic: string): Envelope[] {
    return this.deliveries.filter((d) => d.topic === topic).map((d) => d.envelope)
  }
}

export interface ContractOptions {
  /** Adapters made by the factory are nodes of one cluster: they share topics and presence. */
  shared: boolean
}

interface Started { adapter: Adapter, node: RecordingNode }

export function entry (connectionId: string, status = 'online', meta: Record<string, unknown> = {}): PresenceEntry {
  const now = Date.now()
  return { connectionId, status, meta, since: now, updatedAt: now }
}

const byConnection = (a: PresenceEntry, b: PresenceEntry): number => a.connectionId.localeCompare(b.connectionId)
const byMember = (a: Membership, b: Membership): number => a.connectionId.localeCompare(b.connectionId)

/** A history policy that keeps a minute of up to 100 messages, with `changes`. */
export function keeping (changes: Partial<HistoryPolicy> = {}): HistoryPolicy {
  return { size: 100, ttl: 60_000, positionTtl: 60_000, ...changes }
}

export function membership (connectionId: string, userId: string, meta: Record<string, unknown> = {}): Membership {
  return { connectionId, userId, meta, since: 1_000 }
}

/** The Adapter contract, run against `makeAdapter`; every case closes the adapters it made. */
export async function adapterContract (t: Test, name: string, makeAdapter: () => Adapter, options: ContractOptions): Promise<void> {
  async function start (t: Test): Promise<Started> {
    const adapter = makeAdapter()
    const node = new RecordingNode()
    await adapter.init(node)
    t.teardown(() => adapter.close())
    return { adapter, node }
  }

  /**
   * Resolves once every message published before the call has reached `target`: another node
   * publishes a marker on a topic `target` subscribes to, and Redis hands a subscriber its
   * messages in the order it ran the PUBLISHes. The memory adapter delivers synchronously.
   */
  async function flushed (t: Test, target: Started): Promise<void> {
    if (!options.shared) return
    const other = await start(t)
    const topic = `barrier-${randomUUID()}`
    await target.adapter.subscribe(topic)
    await other.adapter.publish(topic, { payload: '{"barrier":true}' })
    await until(() => target.node.of(topic).length > 0, 2000, 'the barrier message')
    await target.adapter.unsubscribe(topic)
  }

  /** Every client got a broadcast marker from every server: what they published earlier has arrived. */
  async function serversFlushed (servers: Set<Server>, clients: Client[]): Promise<void> {
    const marker = `barrier-${randomUUID()}`
    for (const server of servers) await server.app.connections.broadcast(marker)
    for (const c of clients) {
      await until(() => c.count((f) => f.type === 'broadcast' && f.data === marker) === servers.size, 2000, 'the barrier broadcasts')
    }
  }

  await t.test(`${name} adapter contract`, async (t) => {
    t.test('publish delivers on this node once, carries origin and skip, resolves to this node\'s count', async (t) => {
      const { adapter, node } = await start(t)
      node.subscribers.set('room', 2)
      await adapter.subscribe('room')
      t.equal(await adapter.publish('room', { payload: '{"n":1}', origin: 'conn-1', skip: 'conn-2' }), 2)
      t.equal(await adapter.publish('room', { payload: '{"n":2}' }), 2)
      t.equal(await adapter.publish('empty', { payload: '{"n":3}' }), 0, 'a topic without local subscribers')
      await flushed(t, { adapter, node })
      t.same(node.of('room').map((e) => [e.payload, e.origin, e.skip]),
        [['{"n":1}', 'conn-1', 'conn-2'], ['{"n":2}', undefined, undefined]], 'each once, in order, nothing echoed back')
      await adapter.unsubscribe('room')
    })

    if (options.shared) {
      t.test('a publish reaches the other nodes subscribed to its topic, exactly once and in order', async (t) => {
        const a = await start(t)
        const b = await start(t)
        b.node.subscribers.set('room', 1)
        await b.adapter.subscribe('room')
        // Framing: colons, digits, non-ASCII text, newlines and JSON escapes survive the trip.
        const tricky = JSON.stringify({ text: 'héllo 3:ab 🎉\n"quoted"', n: 12 })
        t.equal(await a.adapter.publish('room', { payload: tricky, origin: 'conn:1', skip: '7:x' }), 0,
          'the publishing node counts its own deliveries only')
        for (let i = 0; i < 20; i++) await a.adapter.publish('room', { payload: `{"i":${i}}` })
        await a.adapter.publish('elsewhere', { payload: '{"not":"subscribed"}' })
        await until(() => b.node.of('room').length === 21, 2000, 'the messages crossed')
        await flushed(t, b)
        const received = b.node.of('room')
        t.same(received[0], { payload: tricky, origin: 'conn:1', skip: '7:x' })
        t.same(received.slice(1).map((e) => e.payload), Array.from({ length: 20 }, (_, i) => `{"i":${i}}`))
        t.same(received.slice(1).map((e) => [e.origin, e.skip]), Array(20).fill([undefined, undefined]))
        t.equal(b.node.of('elsewhere').length, 0, 'not a topic b subscribed to')
        t.equal(a.node.of('room').length, 21, 'the publisher delivered locally once each')

        await b.adapter.unsubscribe('room')
        await a.adapter.publish('room', { payload: '{"after":"unsubscribe"}' })
        await flushed(t, b)
        t.equal(b.node.of('room').length, 21, 'nothing after unsubscribe')
      })
    }

    t.test('presence: set, replace, get, all, count and remove, with the counts they return', async (t) => {
      const { adapter } = await start(t)
      const store = adapter.presence
      const alice = `alice-${randomUUID()}`
      const bob = `bob-${randomUUID()}`
      const a1 = entry('a1', 'online', { device: 'phone', nested: { depth: [1, 2] } })
      const a2 = entry('a2')
      t.equal(await store.set(alice, a1), 1, 'first entry')
      t.equal(await store.set(alice, a2), 2, 'second connection')
      const away = { ...a1, status: 'away', updatedAt: a1.updatedAt + 1 }
      t.equal(await store.set(alice, away), 2, 'replacing an entry keeps the count')
      t.same((await store.get(alice)).sort(byConnection), [away, a2])
      t.equal(await store.set(bob, entry('b1')), 1)
      const bobAway = { ...entry('b1', 'away'), updatedAt: Date.now() + 1 }
      t.equal(await store.set(bob, bobAway), 1, 'replacing a user\'s only entry keeps it one')
      t.same(await store.get(bob), [bobAway])
      t.equal(await store.count(), 2, 'users, not entries')
      const all = await store.all()
      t.same([...all.keys()].sort(), [alice, bob].sort())
      t.same(all.get(alice)?.sort(byConnection), [away, a2])

      t.equal(await store.remove(alice, 'missing'), -1, 'an absent entry')
      t.equal(await store.remove(`nobody-${randomUUID()}`, 'a1'), -1, 'an absent user')
      t.equal(await store.remove(alice, 'a1'), 1, 'the entries left')
      t.same(await store.get(alice), [a2], 'the one left')
      t.equal(await store.remove(alice, 'a1'), -1, 'removed once only')
      t.equal(await store.set(alice, a1), 2, 'a second connection again')
      const a3 = entry('a3', 'busy')
      t.equal(await store.set(alice, a3), 3, 'a third')
      t.equal(await store.remove(alice, 'a2'), 2, 'one of three removed')
      t.same((await store.get(alice)).sort(byConnection), [a1, a3], 'the other two are kept')
      t.same((await store.all()).get(alice)?.sort(byConnection), [a1, a3])
      t.equal(await store.remove(alice, 'a3'), 1)
      t.same(await store.get(alice), [a1])
      t.equal(await store.set(alice, a2), 2)
      t.equal(await store.remove(alice, 'a1'), 1)
      t.equal(await store.remove(alice, 'a2'), 0, 'the last one')
      t.same(await store.get(alice), [])
      t.equal(await store.count(), 1)
      t.same([...(await store.all()).keys()], [bob])
      t.equal(await store.remove(bob, 'b1'), 0)
      t.equal(await store.count(), 0)
      t.same(await store.all(), new Map())
    })

    if (options.shared) {
      t.test('presence is shared: every node sees and counts every node\'s entries', async (t) => {
        const a = await start(t)
        const b = await start(t)
        const carol = `carol-${randomUUID()}`
        t.equal(await a.adapter.presence.set(carol, entry('c1')), 1)
        t.equal(await b.adapter.presence.set(carol, entry('c2')), 2, 'counted across nodes')
        t.same((await a.adapter.presence.get(carol)).map((e) => e.connectionId).sort(), ['c1', 'c2'])
        t.equal(await b.adapter.presence.count(), 1)
        t.equal(await b.adapter.presence.remove(carol, 'c1'), 1, 'any node may remove any entry')
        t.same((await a.adapter.presence.get(carol)).map((e) => e.connectionId), ['c2'])

        // b updates an entry a tracked: it stays a's, and goes when a closes.
        t.equal(await a.adapter.presence.set(carol, entry('c1')), 2)
        t.equal(await b.adapter.presence.set(carol, entry('c1', 'busy')), 2)
        await a.adapter.close()
        t.same((await b.adapter.presence.get(carol)).map((e) => e.connectionId), ['c2'], 'a clean close removes the node\'s own entries')
        await b.adapter.close()
        const c = await start(t)
        t.equal(await c.adapter.presence.count(), 0, 'and none is left behind')
      })
    }

    t.test('shared sets: add, replace, remove, members, users, sets, setsOf and size, with the counts they return', async (t) => {
      const { adapter, node } = await start(t)
      const store = adapter.members
      const kind = `k-${randomUUID()}`
      const alice = `alice-${randomUUID()}`
      const bob = `bob-${randomUUID()}`
      const a1 = membership('a1', alice, { role: 'host' })
      t.equal(await store.add(kind, 'room', a1), 1, 'first membership')
      t.equal(await store.add(kind, 'room', membership('a2', alice)), 2, 'the user\'s second connection')
      const a1b = { ...a1, meta: { role: 'guest' } }
      t.equal(await store.add(kind, 'room', a1b), 2, 'replacing keeps the count')
      t.equal(await store.add(kind, 'room', membership('b1', bob)), 1, 'another user counts apart')
      t.equal(await store.add(kind, 'hall', membership('a1', alice)), 1, 'the same connection in another set')
      t.equal(await store.add(`${kind}-other`, 'room', membership('a1', alice)), 1, 'a set of another kind is another set')
      t.same((await store.members(kind, 'room')).sort(byMember), [
        { ...a1b, nodeId: node.nodeId }, { ...membership('a2', alice), nodeId: node.nodeId }, { ...membership('b1', bob), nodeId: node.nodeId }
      ].sort(byMember), 'each with its meta and its node')
      t.same(await store.users(kind, 'room'), new Map([[alice, 2], [bob, 1]]))
      t.same(await store.sets(kind), new Map([['room', 3], ['hall', 1]]))
      t.same(await store.setsOf(kind, alice), new Map([['room', 2], ['hall', 1]]))
      t.equal(await store.size(kind, 'room'), 3)
      t.equal(await store.size(kind, 'nowhere'), 0)
      t.same(await store.total(kind), { sets: 2, members: 4 }, 'the kind\'s sets, and their members together')
      t.same(await store.total(`${kind}-none`), { sets: 0, members: 0 })

      t.equal(await store.remove(kind, 'room', alice, 'missing'), -1, 'an absent connection')
      t.equal(await store.remove(kind, 'room', bob, 'a1'), -1, 'a connection of another user')
      t.equal(await store.remove(kind, 'nowhere', alice, 'a1'), -1, 'an absent set')
      t.equal(await store.remove(kind, 'room', alice, 'a1'), 1, 'the user\'s memberships left')
      t.equal(await store.remove(kind, 'room', alice, 'a1'), -1, 'removed once only')
      t.equal(await store.remove(kind, 'room', alice, 'a2'), 0, 'the user\'s last')
      t.same(await store.users(kind, 'room'), new Map([[bob, 1]]))
      t.same(await store.setsOf(kind, alice), new Map([['hall', 1]]))
      t.equal(await store.remove(kind, 'room', bob, 'b1'), 0)
      t.same(await store.members(kind, 'room'), [], 'an emptied set has no member')
      t.same(await store.sets(kind), new Map([['hall', 1]]), 'and is no set any more')
      t.equal(await store.remove(kind, 'hall', alice, 'a1'), 0)
      t.equal(await store.remove(`${kind}-other`, 'room', alice, 'a1'), 0)
      t.same(await store.sets(kind), new Map())
      t.same(await store.total(kind), { sets: 0, members: 0 })
      t.same(await store.setsOf(kind, alice), new Map())
      t.same(await store.users(kind, 'hall'), new Map())
      const proto = membership('p1', '__proto__')
      t.equal(await store.add(kind, '__proto__', proto), 1, 'names that are special in JavaScript are names like others')
      t.same(await store.users(kind, '__proto__'), new Map([['__proto__', 1]]))
      t.same(await store.setsOf(kind, '__proto__'), new Map([['__proto__', 1]]))
      t.equal(await store.remove(kind, '__proto__', '__proto__', 'p1'), 0)
    })

    if (options.shared) {
      t.test('shared sets are shared: every node reads every node\'s members; a clean close takes a node\'s own', async (t) => {
        const a = await start(t)
        const b = await start(t)
        const kind = `k-${randomUUID()}`
        const carol = `carol-${randomUUID()}`
        t.equal(await a.adapter.members.add(kind, 'room', membership('c1', carol)), 1)
        t.equal(await b.adapter.members.add(kind, 'room', membership('c2', carol)), 2, 'counted across nodes')
        t.same((await a.adapter.members.members(kind, 'room')).map((m) => [m.connectionId, m.nodeId]).sort(),
          [['c1', a.node.nodeId], ['c2', b.node.nodeId]], 'each member names its node')
        t.same(await b.adapter.members.sets(kind), new Map([['room', 2]]))
        await a.adapter.close()
        t.same(await b.adapter.members.users(kind, 'room'), new Map([[carol, 1]]), 'the closed node\'s members are gone')
        t.same(b.node.vacancies, [], 'a clean close is no crash: nothing vacated')
        await b.adapter.close()
        const c = await start(t)
        t.same(await c.adapter.members.sets(kind), new Map(), 'and none is left behind')
      })
    }

    t.test('added groups: add, replace a role, remove, members, of and list; regroup reaches this node', async (t) => {
      const { adapter, node } = await start(t)
      const store = adapter.groups
      const team = `team-${randomUUID()}`
      const club = `club-${randomUUID()}`
      await store.add(team, 'alice', 'lead')
      await store.add(team, 'bob', undefined)
      await store.add(club, 'alice', undefined)
      t.same(await store.members(team), new Map([['alice', 'lead'], ['bob', undefined]]), 'each with its role, or none')
      t.same(await store.of('alice'), new Map([[team, 'lead'], [club, undefined]]))
      await store.add(team, 'bob', 'reviewer')
      t.same((await store.members(team)).get('bob'), 'reviewer', 'adding again replaces the role')
      t.equal((await store.list()).get(team), 2, 'and does not count twice')
      t.equal(await store.remove(team, 'alice'), true)
      t.equal(await store.remove(team, 'alice'), false, 'removed once only')
      t.equal(await store.remove(`none-${randomUUID()}`, 'alice'), false)
      t.same(await store.of('alice'), new Map([[club, undefined]]))
      t.equal(await store.remove(team, 'bob'), true)
      t.equal(await store.remove(club, 'alice'), true)
      t.same(await store.members(team), new Map(), 'an emptied group has no member')
      t.equal((await store.list()).has(team), false, 'and is listed no more')
      t.same(await store.of('alice'), new Map())
      await store.add(team, '__proto__', '__proto__')
      t.same(await store.members(team), new Map([['__proto__', '__proto__']]), 'names special in JavaScript are names')
      t.equal(await store.remove(team, '__proto__'), true)
      await adapter.regroup('alice')
      t.same(node.regroups, ['alice'], 'this node is told before regroup resolves')
    })

    if (options.shared) {
      t.test('added groups are shared, and regroup reaches every node', async (t) => {
        const a = await start(t)
        const b = await start(t)
        const staff = `staff-${randomUUID()}`
        await a.adapter.groups.add(staff, 'carol', 'admin')
        t.same(await b.adapter.groups.members(staff), new Map([['carol', 'admin']]), 'another node reads it')
        await a.adapter.regroup('carol')
        await until(() => b.node.regroups.includes('carol'), 2000, 'the other node to hear of carol')
        t.same(a.node.regroups, ['carol'], 'each node once')
        await a.adapter.close()
        t.same(await b.adapter.groups.of('carol'), new Map([[staff, 'admin']]), 'an added membership outlives the node that added it')
        t.equal(await b.adapter.groups.remove(staff, 'carol'), true, 'until removed, from any node')
      })
    }

    t.test('sessions: a record is taken once, only within its ttl', async (t) => {
      const { adapter } = await start(t)
      const key = `resume:${randomUUID()}`
      t.equal(await adapter.sessions.take(key), undefined, 'nothing under a key never saved')
      await adapter.sessions.save(key, '{"subscriptions":[]}', 5000)
      t.equal(await adapter.sessions.take(key), '{"subscriptions":[]}')
      t.equal(await adapter.sessions.take(key), undefined, 'taken once')
      const brief = `resume:${randomUUID()}`
      await adapter.sessions.save(brief, 'x', 50)
      await delay(150)
      t.equal(await adapter.sessions.take(brief), undefined, 'gone after its ttl')
    })

    if (options.shared) {
      t.test('sessions are shared: a record saved on one node is taken on another, once', async (t) => {
        const a = await start(t)
        const b = await start(t)
        const key = `resume:${randomUUID()}`
        await a.adapter.sessions.save(key, 'shared', 5000)
        const [first, second] = await Promise.all([b.adapter.sessions.take(key), a.adapter.sessions.take(key)])
        t.same([first, second].filter((r) => r !== undefined), ['shared'], 'one of two racing nodes has it')
      })
    }

    t.test('history: a stream starts at offset 0 on position(); appends take offsets 1, 2, 3… under its epoch, delivered here with their place', async (t) => {
      const { adapter, node } = await start(t)
      const topic = `history-${randomUUID()}`
      const policy = keeping()
      node.subscribers.set(topic, 2)
      await adapter.subscribe(topic)
      const begun = await adapter.history.position(topic, policy)
      t.equal(begun.offset, 0, 'a new stream is at offset 0')
      t.match(begun.epoch, /\S/, 'under an epoch')
      t.same(await adapter.history.position(topic, policy), begun, 'kept: asked again, the same position')
      const appended: Appended[] = []
      for (let n = 1; n <= 4; n++) appended.push(await adapter.append(topic, { payload: `{"n":${n}}`, origin: `conn-${n}`, skip: 'conn-x' }, policy))
      t.same(appended, [1, 2, 3, 4].map((offset) => ({ offset, epoch: begun.epoch, delivered: 2 })),
        'each the next offset, the same epoch, and the deliveries on this node')
      t.same(await adapter.history.position(topic, policy), { offset: 4, epoch: begun.epoch })
      t.same(node.of(topic).map(({ payload, origin, skip, offset, epoch }) => ({ payload, origin, skip, offset, epoch })),
        [1, 2, 3, 4].map((n) => ({ payload: `{"n":${n}}`, origin: `conn-${n}`, skip: 'conn-x', offset: n, epoch: begun.epoch })),
        'delivered on this node before append resolved, once each, in order, with offset and epoch')
      t.same(await adapter.history.read(topic, policy, undefined, 10), {
        offset: 4, epoch: begun.epoch, complete: true, entries: [1, 2, 3, 4].map((n) => ({ offset: n, payload: `{"n":${n}}` }))
      }, 'kept as published: the payload without offset and epoch')
      const elsewhere = `history-${randomUUID()}`
      t.same(await adapter.append(elsewhere, { payload: '{"n":1}' }, policy), { offset: 1, epoch: (await adapter.history.position(elsewhere, policy)).epoch, delivered: 0 },
        'a topic without local subscribers: its own stream, no delivery here')
      t.not((await adapter.history.position(elsewhere, policy)).epoch, begun.epoch, 'each stream has its own epoch')
      await adapter.unsubscribe(topic)
    })

    t.test('history: the last `size` messages are kept; a read after a position says whether it continues it without a gap', async (t) => {
      const { adapter } = await start(t)
      const topic = `history-${randomUUID()}`
      const policy = keeping({ size: 3 })
      for (let n = 1; n <= 5; n++) await adapter.append(topic, { payload: `{"n":${n}}` }, policy)
      const { epoch } = await adapter.history.position(topic, policy)
      const read = async (after: StreamPosition | undefined, limit: number): Promise<[number[], boolean]> => {
        const found = await adapter.history.read(topic, policy, after, limit)
        t.same([found.offset, found.epoch], [5, epoch], 'every read tells the position now')
        t.same(found.entries.map((e) => e.payload), found.entries.map((e) => `{"n":${e.offset}}`), 'each entry its own payload')
        return [found.entries.map((e) => e.offset), found.complete]
      }
      t.same(await read(undefined, 10), [[3, 4, 5], true], 'without a position: every kept message, 1 and 2 trimmed')
      t.same(await read(undefined, 2), [[4, 5], true], 'the last `limit`')
      t.same(await read({ epoch, offset: 2 }, 10), [[3, 4, 5], true], 'after 2: 3 is kept, nothing missed')
      t.same(await read({ epoch, offset: 2 }, 2), [[3, 4], true], 'the first `limit` after it')
      t.same(await read({ epoch, offset: 4 }, 10), [[5], true])
      t.same(await read({ epoch, offset: 5 }, 10), [[], true], 'nothing published since')
      t.same(await read({ epoch, offset: 1 }, 10), [[3, 4, 5], false], 'too old: 2 is gone')
      t.same(await read({ epoch, offset: 0 }, 1), [[3], false])
      t.same(await read({ epoch, offset: 6 }, 10), [[], false], 'ahead of the stream')
      t.same(await read({ epoch: `${epoch}0`, offset: 2 }, 10), [[], false], 'another epoch: its offsets mean nothing here')

      const quiet = `history-${randomUUID()}`
      const fresh = await adapter.history.read(quiet, policy, undefined, 10)
      t.same(fresh, { offset: 0, epoch: fresh.epoch, entries: [], complete: true }, 'a stream never published to')
      t.same(await adapter.history.read(quiet, policy, { epoch: fresh.epoch, offset: 0 }, 10), fresh, 'a read after its start is complete')
      t.same(await adapter.history.position(quiet, policy), { offset: 0, epoch: fresh.epoch }, 'the read started it')
    })

    t.test('history: a message is kept `ttl`; a stream `positionTtl` after its last append or position(), not after a read', async (t) => {
      const { adapter } = await start(t)
      // Each step waits 100 ms or more past the time it checks, and 400 ms or more short of it.
      const lifetime = keeping({ positionTtl: 1000 })

      async function messages (): Promise<void> {
        const topic = `history-${randomUUID()}`
        const policy = keeping({ ttl: 400 })
        await adapter.append(topic, { payload: '{"n":1}' }, policy)
        const { epoch } = await adapter.append(topic, { payload: '{"n":2}' }, policy)
        await delay(500)
        await adapter.append(topic, { payload: '{"n":3}' }, policy)
        const offsets = async (after?: number): Promise<[number[], boolean]> => {
          const found = await adapter.history.read(topic, policy, after === undefined ? undefined : { epoch, offset: after }, 10)
          return [found.entries.map((e) => e.offset), found.complete]
        }
        t.same(await offsets(), [[3], true], '1 and 2 are older than ttl')
        t.same(await offsets(2), [[3], true], 'after 2: nothing missed')
        t.same(await offsets(1), [[3], false], 'after 1: 2 expired')
        t.same(await offsets(0), [[3], false])
        await delay(500)
        t.same(await offsets(), [[], true], 'all expired')
        t.same(await offsets(3), [[], true], 'a subscriber at 3 missed nothing')
        t.same(await offsets(2), [[], false], 'one at 2 missed 3')
        t.same(await adapter.history.position(topic, policy), { offset: 3, epoch }, 'the position outlives the messages')
      }

      async function positions (): Promise<void> {
        const quiet = `history-${randomUUID()}`
        const first = await adapter.history.position(quiet, lifetime)
        await delay(600)
        t.same(await adapter.history.position(quiet, lifetime), first, 'within positionTtl: the same, kept again')
        await delay(600)
        t.same(await adapter.history.position(quiet, lifetime), first, 'past the first positionTtl, not past the second')
        await delay(600)
        t.same((await adapter.history.read(quiet, lifetime, undefined, 10)).epoch, first.epoch, 'a read finds it')
        await delay(600)
        const after = await adapter.history.position(quiet, lifetime)
        t.equal(after.offset, 0)
        t.not(after.epoch, first.epoch, 'positionTtl after position(), a read between: gone, started again under a new epoch')
      }

      async function appends (): Promise<void> {
        const busy = `history-${randomUUID()}`
        const one = await adapter.append(busy, { payload: '{"n":1}' }, lifetime)
        await delay(600)
        t.match(await adapter.append(busy, { payload: '{"n":2}' }, lifetime), { offset: 2, epoch: one.epoch })
        await delay(600)
        t.match(await adapter.append(busy, { payload: '{"n":3}' }, lifetime), { offset: 3, epoch: one.epoch }, 'each append keeps it positionTtl more')
        await delay(1200)
        const again = await adapter.append(busy, { payload: '{"n":4}' }, lifetime)
        t.equal(again.offset, 1, 'positionTtl after the last append: a new stream')
        t.not(again.epoch, one.epoch)
        t.same((await adapter.history.read(busy, lifetime, { epoch: one.epoch, offset: 3 }, 10)).complete, false, 'an old position does not continue it')
      }

      await Promise.all([messages(), positions(), appends()])
    })

    if (options.shared) {
      t.test('history: nodes appending at once to one topic: every node delivers every offset, in order, without a gap', async (t) => {
        const a = await start(t)
        const b = await start(t)
        const c = await start(t)
        const topic = `history-${randomUUID()}`
        const policy = keeping()
        a.node.subscribers.set(topic, 2)
        b.node.subscribers.set(topic, 3)
        await a.adapter.subscribe(topic)
        await b.adapter.subscribe(topic)
        const N = 40
        const sends = Array.from({ length: N }, (_, i) => [
          a.adapter.append(topic, { payload: `{"a":${i}}` }, policy), b.adapter.append(topic, { payload: `{"b":${i}}` }, policy)
        ]).flat()
        const fromC = c.adapter.append(topic, { payload: '{"c":0}' }, policy)
        const appended = await Promise.all([...sends, fromC])
        const { epoch } = appended[0]
        t.same(appended.map((p) => p.offset).sort((x, y) => x - y), Array.from({ length: 2 * N + 1 }, (_, i) => i + 1),
          'each append its own offset, 1 to 81')
        t.ok(appended.every((p) => p.epoch === epoch), 'under one epoch')
        t.same(appended.map((p) => p.delivered), [...Array(2 * N).fill(0).map((_, i) => i % 2 === 0 ? 2 : 3), 0],
          'each resolves with its own node\'s deliveries: 2 on a, 3 on b, none on c')
        await until(() => a.node.of(topic).length === 2 * N + 1 && b.node.of(topic).length === 2 * N + 1, 3000, 'every message on a and b')
        await flushed(t, a)
        await flushed(t, b)
        const payloadAt = new Map(appended.map((p, i) => [p.offset, i < 2 * N ? `{"${i % 2 === 0 ? 'a' : 'b'}":${Math.floor(i / 2)}}` : '{"c":0}']))
        const expected = [...payloadAt.keys()].sort((x, y) => x - y).map((offset) => [offset, epoch, payloadAt.get(offset)])
        for (const [name, started] of [['a', a], ['b', b]] as const) {
          t.same(started.node.of(topic).map((e) => [e.offset, e.epoch, e.payload]), expected,
            `${name} delivered every offset once, in order, each with the message that got it`)
        }
        t.same(c.node.of(topic), [], 'c has no subscriber: nothing delivered there')
        const kept = await c.adapter.history.read(topic, policy, { epoch, offset: 70 }, 100)
        t.same(kept.entries.map((e) => [e.offset, epoch, e.payload]), expected.slice(70), 'every node reads the same history')
        t.equal(kept.complete, true)
      })
    }

    t.test('nodes(): this node with its figures, every live node of a shared adapter, none once closed', async (t) => {
      const a = await start(t)
      const figures = { connections: 2, users: 1, startedAt: 1_000 }
      const seen = await a.adapter.nodes()
      const mine = seen.find((n) => n.nodeId === a.node.nodeId)
      t.match(mine, { nodeId: a.node.nodeId, ...figures }, 'this node, with the figures it gave')
      t.ok(Math.abs((mine?.lastSeen ?? 0) - Date.now()) < 5000, 'seen lately')
      if (!options.shared) {
        t.equal(seen.length, 1, 'alone')
        await a.adapter.close()
        t.same(await a.adapter.nodes(), [], 'none once closed')
        return
      }
      const b = await start(t)
      const ids = async (s: Started): Promise<string[]> => (await s.adapter.nodes()).map((n) => n.nodeId)
      t.ok((await ids(a)).includes(b.node.nodeId), 'a sees b')
      t.ok((await ids(b)).includes(a.node.nodeId), 'b sees a')
      await b.adapter.close()
      t.notOk((await ids(a)).includes(b.node.nodeId), 'a node that closed is gone')
    })

    t.test('healthy while running, not while closing nor after, each time with a reason; close is idempotent', async (t) => {
      const { adapter, node } = await start(t)
      t.same(await adapter.health(), { ok: true }, 'ok, and nothing else')
      const closing = adapter.close()
      const whileClosing = await adapter.health()
      t.match(whileClosing, { ok: false, reason: /\S/ }, 'not once close() was called')
      await Promise.all([closing, adapter.close()])
      await adapter.close()
      t.same(await adapter.health(), whileClosing, 'nor after, for the same reason')
      t.equal(await adapter.publish('room', { payload: '{}' }), 0, 'a publish after close delivers nothing')
      t.equal(node.deliveries.length, 0)
      const never = makeAdapter()
      await never.close()
      t.same(await never.health(), whileClosing, 'an adapter closed before init: the same reason')
    })

    t.test('through real servers: channel, direct, broadcast and presence', async (t) => {
      const permissions = { broadcast: true }
      const first = await startServer(t, { adapter: makeAdapter(), nodeId: `a-${randomUUID()}`, permissions })
      const second = options.shared ? await startServer(t, { adapter: makeAdapter(), nodeId: `b-${randomUUID()}`, permissions }) : first
      const alice = await connect(first.url({ userId: 'alice' }))
      const bob = await connect(second.url({ userId: 'bob' }))
      for (const c of [alice, bob]) t.equal((await c.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')

      t.equal((await bob.request({ type: 'publish', channel: 'lobby', data: 'hi' })).type, 'ack')
      t.match(await alice.next('message'), { channel: 'lobby', from: 'bob', data: 'hi' })
      // The echo may come before the ack, which `request` consumed past.
      await until(() => bob.all('message').length === 1, 2000, 'the echo to the publisher')
      t.match(bob.all('message')[0], { channel: 'lobby', from: 'bob', data: 'hi' })

      alice.send({ type: 'direct', to: 'bob', data: 'psst' })
      t.match(await bob.next('direct'), { from: 'alice', data: 'psst' })
      const sent = await first.app.connections.sendTo('bob', 'from the server')
      t.match(await bob.next('direct'), { data: 'from the server' })
      t.equal(sent, options.shared ? 0 : 1, 'sendTo counts the deliveries on its own node')

      await second.app.connections.broadcast('everyone')
      for (const c of [alice, bob]) t.match(await c.next('broadcast'), { data: 'everyone' })

      for (const server of new Set([first, second])) {
        t.same((await server.app.presence.list()).map((p) => p.userId).sort(), ['alice', 'bob'], 'presence of every node')
      }
      // The test probe counts what this process holds: with a shared adapter, nothing of it.
      const probe = internalsOf(first.app)
      if (options.shared) t.match(probe, { presenceUsers: -1, groupMemberships: -1, userGroups: -1, sharedSets: undefined })
      // A process that is the whole cluster reads subscriptions and connections from its hub
      // and directory: it writes no channel or user set.
      else t.same(probe.sharedSets, {}, 'no shared set written on a local adapter')
      for (const server of new Set([first, second])) {
        t.same(await server.app.channels.list(), [{ channel: 'lobby', subscribers: 2 }], 'every node\'s subscribers counted')
        t.same(await server.app.connections.count(), 2, 'every node\'s connections counted')
        t.same((await server.app.channels.subscribers('lobby')).map((s) => s.userId).sort(), ['alice', 'bob'], 'every node\'s subscribers listed')
      }
      await serversFlushed(new Set([first, second]), [alice, bob])
      for (const c of [alice, bob]) {
        t.equal(c.all('message').length, 1, 'one message each')
        t.equal(c.count((f) => f.type === 'broadcast' && f.data === 'everyone'), 1, 'one broadcast each')
        t.same(c.violations, [])
      }
      t.equal(bob.all('direct').length, 2)

      for (const server of new Set([first, second])) {
        const stats = await (await fetch(`${server.http}/ws/stats`)).json() as { adapter: string }
        t.equal(stats.adapter, name, `/ws/stats names the adapter '${name}'`)
      }

      await alice.close()
      await bob.close()
      await until(async () => await first.app.presence.count() === 0, 3000, 'presence emptied')
    })
  })
}
