import t from 'tap'
import type { HauynaError } from '../lib/client/index'
import { OutgoingQueue } from '../lib/client/outgoing-queue'
import { createClient, record } from './client-helpers'
import { connect, startServer, until } from './helpers'

t.test('drop_oldest: a full queue evicts its head, reports it, and rejects its promise', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }), { maxQueueSize: 2, overflowStrategy: 'drop_oldest' })
  const dropped = record(client, 'dropped')
  const received: unknown[] = []
  client.subscribe('room', (m) => received.push(m.data))
  const sends = [1, 2, 3].map((n) => client.publish('room', n))
  t.equal(client.status().queueSize, 2)
  const first = await sends[0].catch((e: HauynaError) => e) as HauynaError
  t.match(first, { code: 'dropped', sent: false })
  t.same(dropped.map(([d]) => [d.message.type, d.message.data, d.reason]), [['publish', 1, 'overflow']])

  await client.start()
  await Promise.all(sends.slice(1))
  await until(() => received.length === 2, 2000, 'two messages')
  t.same(received, [2, 3], 'the newest two, in order')
})

t.test('drop_newest: a full queue refuses the newcomer', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }), { maxQueueSize: 2, overflowStrategy: 'drop_newest' })
  const dropped = record(client, 'dropped')
  const received: unknown[] = []
  client.subscribe('room', (m) => received.push(m.data))
  const sends = [1, 2, 3].map((n) => client.publish('room', n))
  await t.rejects(sends[2], { code: 'dropped', sent: false })
  t.same(dropped.map(([d]) => d.message.data), [3])

  await client.start()
  await Promise.all(sends.slice(0, 2))
  await until(() => received.length === 2, 2000, 'two messages')
  t.same(received, [1, 2], 'the oldest two, in order')
})

t.test('maxQueueSize 0 queues nothing', async (t) => {
  const server = await startServer(t)
  const client = createClient(t, server.url({ userId: 'alice' }), { maxQueueSize: 0 })
  const dropped = record(client, 'dropped')
  await t.rejects(client.publish('room', 1), { code: 'dropped' })
  t.equal(dropped.length, 1)
  t.equal(client.status().queueSize, 0)
})

t.test('a request that times out while queued is taken out and never sent', async (t) => {
  const server = await startServer(t)
  const bob = await connect(server.url({ userId: 'bob' }))
  await bob.request({ type: 'subscribe', channel: 'room' })
  const client = createClient(t, server.url({ userId: 'alice' }))
  client.subscribe('room', () => {})
  const expired = await client.publish('room', 'stale', { timeout: 20 }).catch((e: HauynaError) => e) as HauynaError
  t.match(expired, { code: 'timeout', sent: false })
  t.equal(client.status().queueSize, 0)

  await client.start()
  await client.publish('room', 'fresh')
  await until(() => bob.all('message').length === 1, 2000, 'the fresh message')
  t.same(bob.all('message').map((m) => m.data), ['fresh'], 'the expired message was never sent')
})

t.test('the queue itself: order, bounds, removal', async (t) => {
  const queue = new OutgoingQueue<number>(3, 'drop_oldest')
  t.equal(queue.push(1), undefined)
  queue.push(2)
  queue.push(3)
  t.equal(queue.push(4), 1, 'the head gives way')
  t.equal(queue.size, 3)
  t.equal(queue.remove(3), true)
  t.equal(queue.remove(3), false)
  t.equal(queue.peek(), 2)
  t.equal(queue.shift(), 2)
  t.same(queue.clear(), [4])
  t.equal(queue.size, 0)
  t.throws(() => new OutgoingQueue(1.5, 'drop_oldest'), RangeError)
})
