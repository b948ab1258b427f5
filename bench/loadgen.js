'use strict'
// The load generator process: opens lean clients, runs one scenario on command from run.js,
// and reports counts. Every loop is bounded in count and in time. Scenarios are written once;
// each target's dialect comes from bench/protocols.js.
const { encodeText } = require('./lean-client')
const { protocols } = require('./protocols')
const { subscriber: subscribeClient, openUntil } = require('./subscriber')
const { Fleet } = require('./reconnecting')

const port = Number(process.argv[2])
const proto = protocols[process.argv[3]]
// The publisher's server: another node than the subscribers' in the cross-node runs.
const publisherPort = Number(process.argv[4] ?? port)
const now = () => performance.timeOrigin + performance.now()

/** A client of user `u${i}` subscribed to `channel` (see bench/subscriber.js). */
const subscriber = (i, channel, options) => subscribeClient(port, proto, `u${i}`, channel, options)
const publisherClient = (channel, options) => subscribeClient(publisherPort, proto, 'upub', channel, options)

async function openMany (count, make, concurrency) {
  const { clients, failure } = await openUntil(count, make, { concurrency })
  if (failure) {
    for (const c of clients) c.destroy()
    throw new Error(failure)
  }
  return clients
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
// The load generator's own CPU between 'ready' and 'measured', reported beside the server's.
let cpuMark
let loadCpu
const ask = (type) => new Promise((resolve) => {
  if (type === 'ready') cpuMark = process.cpuUsage()
  if (type === 'measured') loadCpu = process.cpuUsage(cpuMark)
  process.send({ type })
  process.once('message', resolve)
})

/**
 * One publisher, `subscribers` subscribers of one channel. At most `window` messages are in
 * flight, reckoned by the first subscriber's deliveries (not the publisher's own echo, which a
 * node on the Redis adapter hands back before the message has crossed to the other node).
 */
async function fanout ({ subscribers, seconds, window = 8 }) {
  let inFlight = 0
  let running = true
  const pace = { onData: () => { inFlight--; if (running) pump() } }
  const subs = await openMany(subscribers, (i) => subscriber(i, 'bench', i === 0 ? pace : undefined))
  const publisher = await publisherClient('bench')
  const pump = () => {
    while (inFlight < window) { inFlight++; publisher.send(proto.publish('bench', { text: 'hello fan-out' })) }
  }
  const delivered = () => subs.reduce((n, c) => n + c.received, 0)
  return measureDeliveries([...subs, publisher], seconds, pump, delivered, () => { running = false })
}

async function latency ({ subscribers, rate, seconds }) {
  const samples = []
  const subs = await openMany(subscribers, (i) => subscriber(i, 'bench', {
    decodeAll: true,
    onData: (msg) => { if (samples.length < 2_000_000) samples.push(now() - msg.data.t) }
  }))
  const publisher = await publisherClient('bench')
  const received = () => subs.reduce((n, c) => n + c.received, 0)
  await ask('ready')
  // Greetings and subscription answers differ per target and are no deliveries.
  const before = received()
  const total = rate * seconds
  const started = now()
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate
    const wait = due - now()
    if (wait > 0) await sleep(wait)
    publisher.send(proto.publish('bench', { t: now() }))
  }
  await sleep(500)
  const delivered = received() - before
  await ask('measured')
  for (const c of [...subs, publisher]) c.destroy()
  samples.sort((a, b) => a - b)
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]
  return { delivered, expected: total * subscribers, p50: pct(0.5), p99: pct(0.99), max: samples[samples.length - 1] }
}

async function memory ({ connections }) {
  await ask('ready')
  const clients = await openMany(connections, (i) => subscriber(i, `idle-${i % 100}`))
  await sleep(1000)
  await ask('measured')
  for (const c of clients) c.destroy()
  return { connections: clients.length }
}

async function connectRate ({ connections }) {
  await ask('ready')
  const started = now()
  const clients = await openMany(connections, (i) => subscriber(i, `c-${i % 50}`), 500)
  const elapsed = (now() - started) / 1000
  await ask('measured')
  for (const c of clients) c.destroy()
  return { connections: clients.length, elapsed, perSecond: clients.length / elapsed }
}

/** `presence.list()` over `users` present users, timed in the server by run.js. */
async function presenceList ({ users }) {
  const clients = await openMany(users, (i) => subscriber(i, `idle-${i % 100}`))
  await ask('ready')
  await ask('measured')
  for (const c of clients) c.destroy()
  return { users: clients.length }
}

/** One user's (umover) presence updates at `rate`/s, seen as `presence_diff` by `watchers` in a presence channel. */
async function presenceFanout ({ watchers, rate, seconds }) {
  const samples = []
  const subs = await openMany(watchers, (i) => subscriber(i, 'presence:room', {
    decodeAll: true,
    onData: (msg) => { if (msg.type === 'presence_diff' && msg.updates?.umover && samples.length < 2_000_000) samples.push(now() - msg.updates.umover.meta.t) }
  }))
  const mover = await subscriber('mover', 'presence:room')
  await ask('ready')
  const total = rate * seconds
  const started = now()
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - now()
    if (wait > 0) await sleep(wait)
    mover.send(proto.presence({ t: now() }))
  }
  await sleep(500)
  await ask('measured')
  for (const c of [...subs, mover]) c.destroy()
  samples.sort((a, b) => a - b)
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]
  return { delivered: samples.length, expected: total * watchers, p50: pct(0.5), p99: pct(0.99), max: samples[samples.length - 1] }
}

/**
 * Scenario E, many channels: `rooms` channels of `members` subscribers each (chat rooms).
 * Publish k comes from client k mod N, in turn over all clients, into that client's own room,
 * and reaches every member, the sender too (hauyna's default echo; the others' rooms do the
 * same). So the server routes many small fan-outs over all its connections instead of one
 * big one. At most `window` publishes are in flight, reckoned in deliveries, which keeps the
 * server busy without building unbounded queues; frames are encoded once, so that the load
 * generator's core is not the limit.
 */
async function channels ({ rooms, members, seconds, window = 64 }) {
  const count = rooms * members
  let delivered = 0
  let sent = 0
  let running = true
  const onData = () => { delivered++; if (running) pump() }
  const clients = await openMany(count, (i) => subscriber(i, `room-${i % rooms}`, { onData }))
  const frames = Array.from({ length: rooms }, (_, r) => encodeText(proto.publish(`room-${r}`, { text: 'hello room' })))
  const pump = () => {
    while (sent * members - delivered < window * members) {
      clients[sent % count].write(frames[sent % rooms])
      sent++
    }
  }
  return measureDeliveries(clients, seconds, pump, () => delivered, () => { running = false })
}

/**
 * Scenario E, direct messages: `users` users with one connection each. Message k goes from
 * user k mod N to the user half-way round (each user hears from exactly one other), through
 * the server's addressing by user id, to that one connection. Window and pre-encoded frames
 * as in `channels`. Each client also joins a channel first: its answer proves the server has
 * registered the user, on every target, before any message is addressed to it.
 */
async function direct ({ users, seconds, window = 256 }) {
  let delivered = 0
  let sent = 0
  let running = true
  const onData = () => { delivered++; if (running) pump() }
  const clients = await openMany(users, (i) => subscriber(i, `dm-${i % 100}`, { onData }))
  const frames = clients.map((_, i) => encodeText(proto.direct(`u${(i + Math.floor(users / 2)) % users}`, { text: 'hello direct' })))
  const pump = () => {
    while (sent - delivered < window) {
      clients[sent % users].write(frames[sent % users])
      sent++
    }
  }
  return measureDeliveries(clients, seconds, pump, () => delivered, () => { running = false })
}

/** Runs `pump` for `seconds` between 'ready' and 'measured' and counts what arrived meanwhile. */
async function measureDeliveries (clients, seconds, pump, deliveries, stop) {
  await ask('ready')
  const before = deliveries()
  const started = now()
  pump()
  await sleep(seconds * 1000)
  stop()
  const delivered = deliveries() - before
  const elapsed = (now() - started) / 1000
  await ask('measured')
  for (const c of clients) c.destroy()
  return { delivered, elapsed, perSecond: delivered / elapsed }
}

/**
 * Scenario G, scale: this shard's `count` connections (users from `first` on), opened until
 * the count, the first failure or `seconds`. Source addresses rotate over 127.0.0.1 to
 * 127.0.0.`addresses`, each with its own ephemeral port range, so ports never run out first.
 * run.js starts as many shards as the file-descriptor limit per process requires.
 */
async function scale ({ count, first, addresses, seconds }) {
  await ask('ready')
  const started = now()
  const { clients, failure } = await openUntil(count, (i) => subscriber(first + i, `idle-${i % 100}`, {
    localAddress: `127.0.0.${1 + ((first + i) % addresses)}`,
    timeout: 10_000
  }), { deadline: started + seconds * 1000 })
  const elapsed = (now() - started) / 1000
  await ask('measured')
  for (const c of clients) c.destroy()
  return { connections: clients.length, elapsed, failure }
}

/**
 * The reconnect storm: `clients` subscribers of one channel, from source addresses as in
 * `scale`. Between 'ready' and 'go' run.js kills the server and starts a new one on the same
 * port; every client comes back as its target's client would (bench/reconnecting.js). The
 * 'go' says when the server was killed; the storm ends when all are back, or `seconds` after.
 */
async function storm ({ clients, seconds, addresses }) {
  const fleet = new Fleet((i, timeout) => subscriber(i, 'storm', { localAddress: `127.0.0.${1 + (i % addresses)}`, timeout }), proto.retry)
  await fleet.start(clients)
  const { killedAt } = await ask('ready')
  await fleet.allBack(killedAt + seconds * 1000)
  await ask('measured')
  fleet.stop()
  return fleet.result(killedAt)
}

const scenarios = { fanout, latency, memory, connectRate, presenceList, presenceFanout, channels, direct, scale, storm }

process.once('message', async ({ scenario, params }) => {
  try {
    const result = await scenarios[scenario](params)
    process.send({ type: 'result', result, cpu: loadCpu })
  } catch (error) {
    process.send({ type: 'error', message: error.message })
  }
  setTimeout(() => process.exit(0), 100)
})
