'use strict'
// The load generator process: opens lean clients, runs one scenario on command from run.js,
// and reports counts. Every loop is bounded in count and in time.
const { LeanClient } = require('./lean-client')

const port = Number(process.argv[2])
const now = () => performance.timeOrigin + performance.now()

function subscriber (i, channel, { decodeAll = false, onData } = {}) {
  return new Promise((resolve, reject) => {
    let subscribed = false
    const client = new LeanClient(port, `/ws?userId=u${i}`, {
      decode: true,
      onMessage: (msg) => {
        if (!subscribed && msg.type === 'subscribed') {
          subscribed = true
          client.decode = decodeAll
          resolve(client)
        } else if (subscribed && onData) onData(msg)
      }
    })
    client.ready.then(() => client.send({ type: 'subscribe', channel }), reject)
    setTimeout(() => reject(new Error(`subscriber ${i} not subscribed within 30 s`)), 30_000).unref()
  })
}

async function openMany (count, make, concurrency = 250) {
  const clients = []
  for (let i = 0; i < count; i += concurrency) {
    const batch = []
    for (let j = i; j < Math.min(count, i + concurrency); j++) batch.push(make(j))
    clients.push(...await Promise.all(batch))
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

async function fanout ({ subscribers, seconds, window = 8 }) {
  const subs = await openMany(subscribers, (i) => subscriber(i, 'bench'))
  let inFlight = 0
  let running = true
  const publisher = await subscriber('pub', 'bench', {
    decodeAll: true,
    onData: () => { inFlight--; if (running) pump() }
  })
  const pump = () => {
    while (inFlight < window) { inFlight++; publisher.send({ type: 'publish', channel: 'bench', data: { text: 'hello fan-out' } }) }
  }
  await ask('ready')
  const before = subs.reduce((n, c) => n + c.received, 0)
  const started = now()
  pump()
  await sleep(seconds * 1000)
  running = false
  const delivered = subs.reduce((n, c) => n + c.received, 0) - before
  const elapsed = (now() - started) / 1000
  await ask('measured')
  for (const c of [...subs, publisher]) c.destroy()
  return { delivered, elapsed, perSecond: delivered / elapsed }
}

async function latency ({ subscribers, rate, seconds }) {
  const samples = []
  const subs = await openMany(subscribers, (i) => subscriber(i, 'bench', {
    decodeAll: true,
    onData: (msg) => { if (samples.length < 2_000_000) samples.push(now() - msg.data.t) }
  }))
  const publisher = await subscriber('pub', 'bench')
  await ask('ready')
  const total = rate * seconds
  const started = now()
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate
    const wait = due - now()
    if (wait > 0) await sleep(wait)
    publisher.send({ type: 'publish', channel: 'bench', data: { t: now() } })
  }
  await sleep(500)
  const delivered = subs.reduce((n, c) => n + c.received, 0)
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
    mover.send({ type: 'presence', meta: { t: now() } })
  }
  await sleep(500)
  await ask('measured')
  for (const c of [...subs, mover]) c.destroy()
  samples.sort((a, b) => a - b)
  const pct = (p) => samples[Math.min(samples.length - 1, Math.floor(samples.length * p))]
  return { delivered: samples.length, expected: total * watchers, p50: pct(0.5), p99: pct(0.99), max: samples[samples.length - 1] }
}

const scenarios = { fanout, latency, memory, connectRate, presenceList, presenceFanout }

process.once('message', async ({ scenario, params }) => {
  try {
    const result = await scenarios[scenario](params)
    process.send({ type: 'result', result, cpu: loadCpu })
  } catch (error) {
    process.send({ type: 'error', message: error.message })
  }
  setTimeout(() => process.exit(0), 100)
})
