import t, { type Test } from 'tap'
import { type ChildProcess, fork } from 'node:child_process'
import { join } from 'node:path'
import { monitorEventLoopDelay, performance } from 'node:perf_hooks'
import Fastify from 'fastify'
import hauyna, { type HauynaOptions, type PresenceEntry, type PresenceStore } from '../lib/index'
import { CleanupQueue } from '../lib/util/cleanup-queue'
import type { Command, Report } from './fixtures/mass-clients'
import { connect, expectInvalidOptions, startServer, until } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'
import { internalsOf } from '../lib/plugin'

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** Resolves `'timeout'` if `promise` has not settled within `ms` (a liveness bound, not a timing check). */
function within<T> (promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

t.test('the queue: bounded batches, one per turn, in order; a full queue runs jobs at once', async (t) => {
  const order: number[] = []
  const queue = new CleanupQueue<number>({ batchSize: 3, queueSize: 5, interval: 0, maxRetries: 0 },
    [function record (n: number) { order.push(n) }], () => {})
  for (let i = 0; i < 10; i++) queue.enqueue(i)
  // 0–2 start at once (this turn's budget), 3–7 wait (queueSize 5), 8 and 9 overflow and run at once.
  t.same(order, [0, 1, 2, 8, 9])
  t.match(queue.metrics(), { queueSize: 5, overflow: 2 })
  await nextTurn()
  t.same(order, [0, 1, 2, 8, 9, 3, 4, 5], 'one batch of 3 in the next turn')
  await queue.drain()
  t.same(order, [0, 1, 2, 8, 9, 3, 4, 5, 6, 7], 'then the rest, first in first out')
  t.match(queue.metrics(), { processed: 10, errors: 0, retries: 0, overflow: 2, queueSize: 0 })
  t.ok(queue.metrics().avgProcessTimeMs > 0)

  // An idle queue's budget is back: a lone job runs at once again.
  queue.enqueue(10)
  t.equal(order.at(-1), 10)
  await queue.drain()
  t.equal(queue.metrics().processed, 11)
})

t.test('the queue: a failing step is retried in a later batch, then counted and skipped', async (t) => {
  const attempts = new Map<string, number>()
  const released: string[] = []
  const failures: Array<[string, string, string]> = []
  const queue = new CleanupQueue<string>({ batchSize: 10, queueSize: 100, interval: 0, maxRetries: 2 }, [
    function flaky (job: string) {
      const n = (attempts.get(job) ?? 0) + 1
      attempts.set(job, n)
      // `recovers` fails twice then works; `broken` never works.
      if (job === 'broken' || n <= 2) throw new Error(`${job} attempt ${n}`)
    },
    function release (job: string) { released.push(job) }
  ], (error, job, step) => { failures.push([(error as Error).message, job, step]) })
  queue.enqueue('recovers')
  queue.enqueue('broken')
  t.equal(released.length, 0, 'nothing released before the retries')
  await queue.drain()
  t.same(Object.fromEntries(attempts), { recovers: 3, broken: 3 }, 'one try and maxRetries retries at most')
  t.same(failures, [['broken attempt 3', 'broken', 'flaky']], 'the step that gave up is reported by name')
  t.same(released.sort(), ['broken', 'recovers'], 'the later steps still ran: nothing leaks')
  t.match(queue.metrics(), { processed: 2, errors: 1, retries: 4, queueSize: 0 })
})

t.test('the queue: a failure sink that throws does not stop the job', async (t) => {
  const ran: string[] = []
  const steps: string[] = []
  const queue = new CleanupQueue<string>({ batchSize: 10, queueSize: 10, interval: 0, maxRetries: 0 }, [
    () => { throw new Error('step failed') },
    function after (job: string) { ran.push(job) }
  ], (_error, _job, step) => {
    steps.push(step)
    throw new Error('the sink failed too')
  })
  queue.enqueue('a')
  await queue.drain()
  t.same(ran, ['a'])
  t.same(steps, ['step 0'], 'an anonymous step is named by its position')
  t.match(queue.metrics(), { processed: 1, errors: 1 })
})

t.test('the queue: interval spaces the batches, and drain does not wait for it', async (t) => {
  let done = 0
  const queue = new CleanupQueue<number>({ batchSize: 1, queueSize: 10, interval: 60_000, maxRetries: 0 },
    [function count () { done++ }], () => {})
  for (let i = 0; i < 3; i++) queue.enqueue(i)
  await nextTurn()
  await nextTurn()
  t.equal(done, 2, 'one at once, one batch, then a minute to wait')
  t.equal(queue.metrics().queueSize, 1)
  t.equal(await within(queue.drain(), 5000), undefined, 'drain ran the waiting batch at once')
  t.equal(done, 3)
})

/** The memory presence store, except that `remove` fails while `failures` lasts. */
class FlakyPresence implements PresenceStore {
  failures = 0
  constructor (private readonly inner: PresenceStore) {}
  set (userId: string, entry: PresenceEntry): Promise<number> { return this.inner.set(userId, entry) }
  get (userId: string): Promise<PresenceEntry[]> { return this.inner.get(userId) }
  all (): Promise<Map<string, PresenceEntry[]>> { return this.inner.all() }
  count (): Promise<number> { return this.inner.count() }
  async remove (userId: string, connectionId: string): Promise<number> {
    if (this.failures > 0) {
      this.failures--
      throw new Error('presence store unreachable')
    }
    return this.inner.remove(userId, connectionId)
  }
}

/** A real adapter around the memory adapter whose presence store can fail. */
class FlakyAdapter extends WrappedAdapter {
  override readonly presence = new FlakyPresence(this.inner.presence)

  constructor () { super('flaky') }
}

t.test('disconnect cleanup retries a failing adapter, then reports it and releases the rest', async (t) => {
  const adapter = new FlakyAdapter()
  const server = await startServer(t, { adapter, cleanup: { maxRetries: 2 } })
  const { app } = server
  const errors: Array<{ message: string, userId?: string }> = []
  const disconnects: string[] = []
  app.events.on('error', (error, conn) => { errors.push({ message: error.message, userId: conn?.userId }) })
  app.events.on('disconnect', (conn) => { disconnects.push(conn.userId) })

  // Fails twice, within maxRetries: cleaned up completely.
  const alice = await connect(server.url({ userId: 'alice' }))
  await alice.request({ type: 'subscribe', channel: 'lobby' })
  adapter.presence.failures = 2
  await alice.close()
  await until(() => disconnects.includes('alice'), 3000, 'alice cleaned up')
  t.match((await app.hauyna.stats()).cleanup, { processed: 1, retries: 2, errors: 0, queueSize: 0 })
  t.equal(await app.presence.count(), 0)
  t.same(errors, [])

  // Fails for good: the step is given up after the retries, reported, and the rest still runs.
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'lobby' })
  adapter.presence.failures = Infinity
  await bob.close()
  await until(() => disconnects.includes('bob'), 3000, 'bob cleaned up')
  const stats = await app.hauyna.stats()
  t.match(stats.cleanup, { processed: 2, retries: 4, errors: 1, queueSize: 0 })
  t.match(stats, { connections: 0, topics: 0, channels: { count: 0 } }, 'subscriptions and topics released')
  t.same(errors, [{ message: 'presence store unreachable', userId: 'bob' }], 'reported once, with the connection')
  t.equal(disconnects.filter((u) => u === 'bob').length, 1, '`disconnect` emitted once')
  adapter.presence.failures = 0
})

t.test('shutdown drains the cleanup queue before it resolves', async (t) => {
  const app = Fastify({ logger: false })
  // One cleanup per batch and a minute between batches: without the drain, most would still wait.
  await app.register(hauyna, { cleanup: { batchSize: 1, interval: 60_000 } })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const clients = await Promise.all(['a', 'b', 'c', 'd', 'e'].map((u) => connect(`ws://127.0.0.1:${port}/ws?userId=${u}`)))
  for (const c of clients) await c.request({ type: 'subscribe', channel: 'lobby' })
  for (const conn of [...app.connections.values()]) conn.socket.terminate()
  await until(async () => (await app.connections.count()) === 0, 3000, 'all closed')
  const waiting = (await app.hauyna.stats()).cleanup
  t.ok(waiting.queueSize > 0, `cleanups are waiting (${waiting.queueSize})`)
  t.ok((await app.channels.list()).length > 0, 'so the channel is still held')

  t.equal(await within(app.close(), 10_000), undefined, 'close resolved')
  const stats = await app.hauyna.stats()
  t.match(stats, { connections: 0, topics: 0, presence: 0, channels: { count: 0 }, cleanup: { processed: 5, queueSize: 0 } })
})

t.test('cleanup options are validated', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['batchSize 0', { cleanup: { batchSize: 0 } }, 'cleanup.batchSize'],
    ['queueSize negative', { cleanup: { queueSize: -1 } }, 'cleanup.queueSize'],
    ['interval fractional', { cleanup: { interval: 0.5 } }, 'cleanup.interval'],
    ['maxRetries a string', { cleanup: { maxRetries: '3' } }, 'cleanup.maxRetries'],
    ['cleanup not an object', { cleanup: 50 }, 'cleanup']
  ]
  await expectInvalidOptions(t, cases)
  // queueSize 0 is allowed: no waiting at all, every cleanup at once.
  const server = await startServer(t, { cleanup: { queueSize: 0, batchSize: 1 } })
  const clients = await Promise.all(['a', 'b', 'c'].map((u) => connect(server.url({ userId: u }))))
  await Promise.all(clients.map((c) => c.close()))
  await until(async () => (await server.app.hauyna.stats()).cleanup.processed === 3, 3000, 'cleaned up')
  t.equal((await server.app.hauyna.stats()).cleanup.queueSize, 0)
})

const SOCKETS = 5_000
const CHANNELS = 100


/** Sends `command` to the client process and waits for its report `event`. */
function ask<E extends Report['event']> (child: ChildProcess, command: Command, event: E, timeout: number): Promise<Extract<Report, { event: E }>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" from the client process within ${timeout} ms`)), timeout)
    const onMessage = (report: Report): void => {
      if (report.event !== event) return
      clearTimeout(timer)
      child.off('message', onMessage)
      resolve(report as Extract<Report, { event: E }>)
    }
    child.on('message', onMessage)
    child.send(command)
  })
}

const ms = (ns: number): string => (ns / 1e6).toFixed(1)

/**
 * Opens SOCKETS connections from a child process (each subscribed to one of CHANNELS channels,
 * 4 per user, users in 20 groups), drops them all at once, and checks that every map empties.
 * Reports the longest event-loop block while the server cleans up; asserts nothing about time.
 */
async function massDisconnect (t: Test, options: HauynaOptions): Promise<void> {
  const server = await startServer(t, {
    ...options,
    authenticate: (request) => {
      const { userId, group } = request.query as { userId: string, group: string }
      return { id: userId, groups: [group] }
    },
    rateLimit: false
  })
  const { app } = server
  let disconnects = 0
  app.events.on('disconnect', () => { disconnects++ })

  const child = fork(join(__dirname, 'fixtures', 'mass-clients.ts'), [], {
    cwd: join(__dirname, '..'), execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  t.teardown(() => { if (child.connected) child.disconnect() })

  const opening = performance.now()
  const opened = await ask(child, { cmd: 'open', url: server.url(), count: SOCKETS, channels: CHANNELS, users: SOCKETS / 4, groups: 20, concurrency: 100 }, 'opened', 45_000)
  t.comment(`opened and subscribed ${opened.open} sockets in ${(performance.now() - opening).toFixed(0)} ms`)
  t.same(opened.failures, [])
  t.equal(opened.open, SOCKETS)
  const full = await app.hauyna.stats()
  t.match(full, { connections: SOCKETS, users: SOCKETS / 4, channels: { count: CHANNELS }, groups: 20, presence: SOCKETS / 4 })
  const processedBefore = full.cleanup.processed

  const delay = monitorEventLoopDelay({ resolution: 10 })
  delay.enable()
  const dropping = performance.now()
  await ask(child, { cmd: 'terminate' }, 'terminated', 10_000)
  await until(async () => {
    const s = await app.hauyna.stats()
    return s.connections === 0 && s.cleanup.processed - processedBefore === SOCKETS && s.cleanup.queueSize === 0
  }, 30_000, 'every cleanup done')
  const elapsed = performance.now() - dropping
  delay.disable()

  const stats = await app.hauyna.stats()
  t.comment(`mass disconnect of ${SOCKETS} (cleanup ${JSON.stringify(options.cleanup ?? 'defaults')}): done in ${elapsed.toFixed(0)} ms; ` +
    `event-loop delay max ${ms(delay.max)} ms, p99 ${ms(delay.percentile(99))} ms, mean ${ms(delay.mean)} ms; ` +
    `cleanup avg ${stats.cleanup.avgProcessTimeMs.toFixed(3)} ms, overflow ${stats.cleanup.overflow}`)
  t.match(stats, { connections: 0, users: 0, topics: 0, channels: { count: 0, top: [] }, groups: 0, presence: 0 })
  t.same(stats.states, { connected: 0, idle: 0, disconnected: 0, reconnecting: 0, error: 0 })
  t.match(stats.cleanup, { errors: 0, queueSize: 0 })
  t.equal(stats.cleanup.processed - processedBefore, SOCKETS, 'every departure went through the cleanup')
  t.equal(disconnects, SOCKETS, 'one `disconnect` event each')
  t.match(internalsOf(app), {
    connectionsById: 0, connectionsByUser: 0, hubTopics: 0, groupMemberships: 0, userGroups: 0, presenceUsers: 0
  })
  t.same(internalsOf(app).sharedSets, {}, 'no shared set is left')
  if (options.cleanup?.queueSize === 0) t.ok(stats.cleanup.overflow > 0, 'with no room to wait, cleanups overflowed and ran at once')
  else t.equal(stats.cleanup.overflow, 0, 'the default queue had room for the whole burst')
}

t.test(`mass disconnect: ${SOCKETS} sockets dropped at once leave every map empty`, async (t) => {
  await massDisconnect(t, {})
})

t.test(`mass disconnect without queueing (queueSize 0), for comparison`, async (t) => {
  await massDisconnect(t, { cleanup: { queueSize: 0 } })
})
