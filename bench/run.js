'use strict'
// Benchmark harness: for each scenario and target, a fresh server process and a separate
// load generator process (pinned to different cores with taskset when available), several
// runs, median and range, and the ratio to raw `ws` measured in the same run.
//   node bench/run.js [--quick] [--only "scenario name"]…
// --only runs the named scenarios of the chosen mode and prints their table without writing
// bench/results, so a partial run never replaces a whole one. BENCH_SERVER_FLAGS adds Node
// flags to the target servers (profile with "--cpu-prof --cpu-prof-dir=DIR").
const { fork, execFileSync } = require('node:child_process')
const { mkdirSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const quick = process.argv.includes('--quick')
const only = process.argv.flatMap((arg, i) => (arg === '--only' ? [process.argv[i + 1]] : []))
// One run per target in quick mode keeps it under two minutes; medians and ranges need the full run.
const RUNS = quick ? 1 : 3
// BENCH_TARGETS adds 'fastify-ws' (a hand-written @fastify/websocket loop: Fastify's own share of the cost).
const LABELS = {
  ws: 'raw ws',
  hauyna: 'fastify-hauyna',
  socketio: 'Socket.IO 4',
  'fastify-ws': '@fastify/websocket loop',
  'hauyna-redis': 'hauyna, 2 nodes on Redis',
  'hauyna+history': 'hauyna, history on',
  'hauyna-redis+history': 'hauyna, 2 nodes on Redis, history on',
  'hauyna+auth': 'hauyna, authenticate 100 ms',
  'hauyna+cap': 'hauyna, authenticate 100 ms, maxPendingUpgrades 256'
}
const TARGETS = (process.env.BENCH_TARGETS ?? 'ws,hauyna,socketio').split(',')
for (const target of TARGETS) {
  if (!(target in LABELS)) throw new Error(`BENCH_TARGETS: unknown target ${target}; known: ${Object.keys(LABELS).join(', ')}`)
}
// Targets of two server processes: the publisher on the first node, the subscribers on the second.
const TWO_NODES = new Set(['hauyna-redis'])
// Loopback source addresses the many-connection scenarios spread over, so ephemeral ports never run out.
const SOURCE_ADDRESSES = 64
const REDIS_PORT = Number(new URL(process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379)

/** Redis's own CPU time so far in µs, or undefined when no Redis answers on REDIS_PORT. */
function redisCpuUs () {
  try {
    const info = execFileSync('redis-cli', ['-p', String(REDIS_PORT), 'INFO', 'cpu'], { encoding: 'utf8', timeout: 2000 })
    const read = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)?.[1])
    const total = read('used_cpu_sys') + read('used_cpu_user')
    return Number.isFinite(total) ? total * 1e6 : undefined
  } catch {
    return undefined
  }
}
// The cross-node rows run only where a Redis answers; the report says when they did not.
const crossNode = TARGETS.includes('hauyna') && redisCpuUs() !== undefined ? ['hauyna-redis'] : []
// Scenarios marked `history` also run hauyna with channel history on (every channel keeps 100
// messages), on one node and, where Redis answers, on two: the cost of history, in the same run.
const withHistory = TARGETS.includes('hauyna') ? ['hauyna+history', ...crossNode.map((t) => `${t}+history`)] : []
// Scenarios marked `cap` also run hauyna with an `authenticate` that takes 100 ms, without and
// with at most 256 upgrades handled at once (maxPendingUpgrades): what the cap changes when
// handshakes overlap.
const withCap = TARGETS.includes('hauyna') ? ['hauyna+auth', 'hauyna+cap'] : []
// Scale's idle window: 11 s of idleness holds two heartbeat rounds of hauyna, pinging every 5 s
// for it (30 s by default), with the event-loop delay sampled on every target.
const IDLE = { serverArgs: ['--loop-delay', '--heartbeat=5000'], idleSeconds: 11 }
const all = quick
  ? [
      { name: 'fan-out 1k', scenario: 'fanout', params: { subscribers: 1000, seconds: 2 }, crossNode: true, history: true },
      { name: 'latency 50/s × 1k', scenario: 'latency', params: { subscribers: 1000, rate: 50, seconds: 2 }, crossNode: true },
      { name: 'memory 2k idle', scenario: 'memory', params: { connections: 2000 } },
      { name: 'connect 2k', scenario: 'connectRate', params: { connections: 2000 } },
      { name: 'presence.list() 2k users', scenario: 'presenceList', params: { users: 2000 }, targets: ['hauyna'], serverCall: 'presenceList' },
      { name: 'presence update 50/s × 1k watchers', scenario: 'presenceFanout', params: { watchers: 1000, rate: 50, seconds: 2 }, targets: ['hauyna'] },
      { name: 'channels 200 × 10', scenario: 'channels', params: { rooms: 200, members: 10, seconds: 2 } },
      { name: 'direct 2k users', scenario: 'direct', params: { users: 2000, seconds: 2 } },
      { name: 'reconnect storm 2k', scenario: 'storm', params: { clients: 2000, seconds: 60, addresses: SOURCE_ADDRESSES }, cap: true }
    ]
  : [
      { name: 'fan-out 1k', scenario: 'fanout', params: { subscribers: 1000, seconds: 5 }, crossNode: true, history: true },
      { name: 'fan-out 5k', scenario: 'fanout', params: { subscribers: 5000, seconds: 5 }, history: true },
      { name: 'latency 50/s × 1k', scenario: 'latency', params: { subscribers: 1000, rate: 50, seconds: 5 }, crossNode: true, history: true },
      { name: 'memory 10k idle', scenario: 'memory', params: { connections: 10000 } },
      { name: 'connect 5k', scenario: 'connectRate', params: { connections: 5000 } },
      { name: 'connect 10k', scenario: 'connectRate', params: { connections: 10000 } },
      { name: 'presence.list() 10k users', scenario: 'presenceList', params: { users: 10000 }, targets: ['hauyna'], serverCall: 'presenceList' },
      { name: 'presence update 50/s × 1k watchers', scenario: 'presenceFanout', params: { watchers: 1000, rate: 50, seconds: 5 }, targets: ['hauyna'] },
      { name: 'channels 1k × 10', scenario: 'channels', params: { rooms: 1000, members: 10, seconds: 5 } },
      { name: 'direct 10k users', scenario: 'direct', params: { users: 10000, seconds: 5 } },
      { name: 'reconnect storm 10k', scenario: 'storm', params: { clients: 10000, seconds: 60, addresses: SOURCE_ADDRESSES }, cap: true },
      { name: 'scale 5k', scenario: 'scale', params: { connections: 5000, seconds: 90 }, ...IDLE },
      { name: 'scale 50k', scenario: 'scale', params: { connections: 50000, seconds: 90 }, ...IDLE }
    ]
const scenarios = only.length === 0 ? all : all.filter((s) => only.includes(s.name))
if (scenarios.length !== new Set(only).size && only.length > 0) {
  console.error(`--only: unknown scenario in ${JSON.stringify(only)}; this mode has: ${all.map((s) => JSON.stringify(s.name)).join(', ')}`)
  process.exit(2)
}

function hasTaskset () {
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return os.cpus().length >= 2 } catch { return false }
}
const pin = hasTaskset()
const serverFlags = (process.env.BENCH_SERVER_FLAGS ?? '').split(' ').filter(Boolean)

/** Starts a Node process on `core`, with its soft file-descriptor limit raised to `fdLimit` if given. */
function start (file, args, core, { execArgv = [], fdLimit } = {}) {
  const wrapper = [
    ...(fdLimit === undefined ? [] : ['sh', '-c', 'ulimit -n "$0" && exec "$@"', String(fdLimit)]),
    ...(pin ? ['taskset', '-c', String(core)] : [])
  ]
  const options = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }
  if (wrapper.length === 0) return fork(file, args, { ...options, execArgv })
  return fork(file, args, { ...options, execPath: wrapper[0], execArgv: [...wrapper.slice(1), process.execPath, ...execArgv] })
}

function once (child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => {
      if (msg.type !== type && msg.type !== 'error') return
      child.off('message', onMessage)
      child.off('exit', onExit)
      msg.type === 'error' ? reject(new Error(msg.message)) : resolve(msg)
    }
    const onExit = (code) => reject(new Error(`process exited (${code}) waiting for ${type}`))
    child.on('message', onMessage)
    child.once('exit', onExit)
  })
}

const allOnce = (children, type) => Promise.all(children.map((child) => once(child, type)))

/** Resolves once the child has exited, killing it after `ms`, so no run overlaps the next. */
function exited (child, ms = 15_000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), ms)
    child.once('exit', () => { clearTimeout(timer); resolve() })
  })
}

let probeId = 0
/** The server's CPU and memory (and event-loop delay, if it samples it; `reset` starts the samples again). */
async function probe (server, reset = false) {
  const id = ++probeId
  const reply = once(server, 'probe')
  server.send({ type: 'probe', id, reset })
  return reply
}

/** A call the target answers itself; undefined if it has no such call. */
async function call (server, name) {
  const reply = once(server, 'called')
  server.send({ type: 'call', name })
  return (await reply).result
}

/** The median of five timed calls the target answers itself (e.g. presence.list()). */
async function callServer (server, name) {
  const results = []
  for (let i = 0; i < 5; i++) results.push(await call(server, name))
  return results[0] === undefined ? undefined : results.sort((a, b) => a.ms - b.ms)[2]
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Scale's idle window, every connection open: `seconds` of idleness, over which the event-loop
 * delay is sampled and the heartbeat's rounds timed; then one stats collection and one
 * presence.list() (medians of five). Targets without a heartbeat or those calls have none.
 */
async function holdIdle (server, seconds) {
  await call(server, 'sweep')
  await probe(server, true)
  await sleep(seconds * 1000)
  const { loop } = await probe(server)
  const sweep = await call(server, 'sweep')
  return { loop, sweep, stats: await callServer(server, 'stats'), list: await callServer(server, 'presenceList') }
}

// Descriptors a Node process needs besides its sockets: stdio, IPC, epoll, the listener, …
const FD_RESERVE = 100
// Connections per load generator process in scenario G.
const SHARD_SIZE = 15_000

function hardFdLimit () {
  return Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim())
}

/**
 * Scenario G needs more descriptors than a process gets by default: every process runs with
 * its soft limit raised to the hard one, and the connections are split over enough load
 * generator processes that none of them is the limit. The attempt stops FD_RESERVE short of
 * the server's limit: a server out of descriptors cannot even read its own RSS for the probe.
 */
function scalePlan ({ connections, seconds }) {
  const fdLimit = hardFdLimit()
  const attempted = Math.min(connections, fdLimit - FD_RESERVE)
  const shards = Math.ceil(attempted / Math.min(SHARD_SIZE, fdLimit - FD_RESERVE))
  const share = Math.ceil(attempted / shards)
  const loads = Array.from({ length: shards }, (_, k) => ({
    count: Math.min(share, attempted - k * share), first: k * share, addresses: SOURCE_ADDRESSES, seconds
  }))
  return { fdLimit, loads, notes: { asked: connections, attempted, fdLimit } }
}

/** Scenario G's shards as one result: connections added up, the longest time, the first failure. */
function mergeShards (results) {
  return {
    connections: results.reduce((n, r) => n + r.connections, 0),
    elapsed: Math.max(...results.map((r) => r.elapsed)),
    failure: results.find((r) => r.failure)?.failure ?? null
  }
}

/**
 * The target's server processes on core 0: one, or two nodes sharing a run-specific Redis key
 * prefix. The load generator's subscribers go to the last, its publisher to the first.
 */
function startServers (target, fdLimit, extraArgs = []) {
  const [base, variant] = target.split('+')
  const file = path.join(__dirname, 'targets', `${base}.js`)
  const twoNodes = TWO_NODES.has(base)
  const args = [...(twoNodes ? [`${process.pid}-${++probeId}`] : []), ...(variant === undefined ? [] : [`--${variant}`]), ...extraArgs]
  return Array.from({ length: twoNodes ? 2 : 1 }, () => start(file, args, 0, { execArgv: ['--expose-gc', ...serverFlags], fdLimit }))
}

/** CPU and memory of all the target's servers at one moment, and Redis's CPU for two-node targets. */
async function probeAll (servers) {
  const replies = await Promise.all(servers.map(probe))
  return {
    cpuUs: replies.reduce((n, r) => n + r.cpu.user + r.cpu.system, 0),
    rss: replies.reduce((n, r) => n + r.rss, 0),
    heap: replies.reduce((n, r) => n + r.heap, 0),
    redisUs: servers.length > 1 ? redisCpuUs() : undefined,
    maxRss: replies.reduce((n, r) => n + r.maxRss, 0),
    loop: replies[0].loop
  }
}

const now = () => performance.timeOrigin + performance.now()

/**
 * The reconnect storm's blow: the (single) server is killed with SIGKILL, as in a crash (no
 * close frames, no drain), and a fresh one is started on the same port, sampling its event-loop
 * delay from listening on. Returns when it was killed, the seconds until the new one listened,
 * and the new one's CPU when it did.
 */
async function restart (servers, target, fdLimit, port) {
  const killedAt = now()
  servers[0].kill('SIGKILL')
  await exited(servers[0])
  servers[0] = startServers(target, fdLimit, [`--port=${port}`, '--loop-delay'])[0]
  const { cpu } = await once(servers[0], 'listening')
  return { killedAt, restartS: (now() - killedAt) / 1000, cpuUs: cpu.user + cpu.system }
}

/** The load generators' parameters, and the descriptor limit of every process where many sockets are opened. */
function planOf ({ scenario, params }) {
  if (scenario === 'scale') return scalePlan(params)
  return scenario === 'storm' ? { fdLimit: hardFdLimit(), loads: [params] } : { loads: [params] }
}

async function runOnce (target, { scenario, params, serverCall, serverArgs, idleSeconds }) {
  const plan = planOf({ scenario, params })
  const servers = startServers(target, plan.fdLimit, serverArgs)
  const loads = []
  const watchdog = setTimeout(() => { for (const child of [...servers, ...loads]) child.kill() }, 150_000)
  try {
    const ports = (await allOnce(servers, 'listening')).map((m) => String(m.port))
    for (const shard of plan.loads) {
      const load = start(path.join(__dirname, 'loadgen.js'), [ports[ports.length - 1], target, ports[0]], 1, { fdLimit: plan.fdLimit })
      load.send({ scenario, params: shard })
      loads.push(load)
    }
    await allOnce(loads, 'ready')
    const called = serverCall === undefined ? undefined : await callServer(servers[0], serverCall)
    const before = await probeAll(servers)
    const storm = scenario === 'storm' ? await restart(servers, target, plan.fdLimit, ports[0]) : undefined
    for (const load of loads) load.send({ type: 'go', killedAt: storm?.killedAt })
    await allOnce(loads, 'measured')
    const after = await probeAll(servers)
    const idle = idleSeconds === undefined ? undefined : await holdIdle(servers[0], idleSeconds)
    const results = allOnce(loads, 'result')
    for (const load of loads) load.send({ type: 'go' })
    const replies = await results
    const r = replies.length === 1 ? replies[0].result : mergeShards(replies.map((reply) => reply.result))
    const loadCpuUs = replies.reduce((n, { cpu }) => n + cpu.user + cpu.system, 0)
    const redisCpuUsed = before.redisUs === undefined || after.redisUs === undefined ? undefined : after.redisUs - before.redisUs
    return {
      ...r, ...plan.notes, called, serverCpuUs: after.cpuUs - (storm?.cpuUs ?? before.cpuUs), loadCpuUs, redisCpuUs: redisCpuUsed,
      rss: after.rss, rssDelta: after.rss - before.rss, heapDelta: after.heap - before.heap,
      ...(storm && { restartS: storm.restartS, maxRss: after.maxRss, loop: after.loop }), idle
    }
  } finally {
    clearTimeout(watchdog)
    for (const server of servers) if (server.connected) server.send({ type: 'stop' })
    for (const load of loads) load.kill()
    await Promise.all([...servers, ...loads].map((child) => exited(child)))
  }
}

const throughput = [['delivered msg/s', (r) => r.perSecond, true], ['server CPU µs/delivery', (r) => r.serverCpuUs / r.delivered, false], ['load-gen CPU %', (r) => r.loadCpuUs / 1e4 / r.elapsed, false]]
// Only two-node targets have it; the other targets' cells stay empty.
const redisCpu = ['Redis CPU µs/delivery', (r) => (r.redisCpuUs === undefined ? undefined : r.redisCpuUs / r.delivered), false]

/** A figure of the heartbeat rounds timed in scale's idle window; undefined for targets without a heartbeat. */
const sweepFigure = (r, pick) => (r.idle.sweep?.rounds.length ? pick(r.idle.sweep) : undefined)

/** The figure each scenario is judged by; `higher` says which direction is better. */
const figures = {
  fanout: [...throughput, redisCpu],
  latency: [['p50 ms', (r) => r.p50, false], ['p99 ms', (r) => r.p99, false], ['max ms', (r) => r.max, false], ['server CPU µs/delivery', (r) => r.serverCpuUs / r.delivered, false], ['delivered/expected', (r) => r.delivered / r.expected, true], redisCpu],
  memory: [['RSS KiB/connection', (r) => r.rssDelta / 1024 / r.connections, false], ['heap KiB/connection', (r) => r.heapDelta / 1024 / r.connections, false]],
  connectRate: [['connections/s', (r) => r.perSecond, true], ['server CPU µs/connection', (r) => r.serverCpuUs / r.connections, false], ['load-gen CPU µs/connection', (r) => r.loadCpuUs / r.connections, false]],
  presenceList: [['list() ms', (r) => r.called.ms, false], ['users listed', (r) => r.called.users, true]],
  presenceFanout: [['diff p50 ms', (r) => r.p50, false], ['diff p99 ms', (r) => r.p99, false], ['server CPU µs/diff delivered', (r) => r.serverCpuUs / r.delivered, false], ['delivered/expected', (r) => r.delivered / r.expected, true]],
  channels: throughput,
  direct: throughput,
  storm: [
    ['server restart s', (r) => r.restartS, false],
    ['s to 99 % back', (r) => r.t99, false],
    ['s to 100 % back', (r) => r.t100, false],
    ...['refused', '503', 'reset', 'timeout', 'other'].map((kind) => [`failed handshakes: ${kind}`, (r) => r.failures[kind] ?? 0, false]),
    ['peak server RSS MiB', (r) => r.maxRss / 2 ** 20, false],
    ['event-loop delay max ms', (r) => r.loop.maxMs, false],
    ['event-loop delay p99 ms', (r) => r.loop.p99Ms, false],
    ['server CPU s', (r) => r.serverCpuUs / 1e6, false]
  ],
  scale: [
    ['connections held', (r) => r.connections, true],
    ['server RSS MiB', (r) => r.rss / 2 ** 20, false],
    ['RSS KiB/connection', (r) => r.rssDelta / 1024 / r.connections, false],
    ['heap KiB/connection', (r) => r.heapDelta / 1024 / r.connections, false],
    ['connections/s', (r) => r.connections / r.elapsed, true],
    ['idle event-loop delay max ms', (r) => r.idle.loop.maxMs, false],
    ['idle event-loop delay p99 ms', (r) => r.idle.loop.p99Ms, false],
    ['heartbeat sweep ms/tick', (r) => sweepFigure(r, (sweep) => median(sweep.rounds)), false],
    ['heartbeat sweep CPU ms/tick', (r) => sweepFigure(r, (sweep) => median(sweep.roundsCpu)), false],
    ['heartbeat sweep CPU µs/connection', (r) => sweepFigure(r, (sweep) => (median(sweep.roundsCpu) * 1000) / r.connections), false],
    ['longest heartbeat slice ms', (r) => sweepFigure(r, (sweep) => sweep.sliceMaxMs), false],
    ['stats() ms', (r) => r.idle.stats?.ms, false],
    ['presence.list() ms', (r) => r.idle.list?.ms, false]
  ]
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
// Whole numbers (counts) as they are; the rest to three significant figures or so.
const fmt = (x) => (Number.isInteger(x) || Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2))
const cell = (s) => (s === undefined ? '—' : s.min === s.max ? fmt(s.median) : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`)
// No ratio to a raw ws figure of 0 (failed handshakes of a kind it never had).
const ratioCell = (x) => (x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`)

/** Why each scale run stopped where it did, one line per target. */
function scaleNotes (s, runs) {
  return Object.entries(runs).map(([target, results]) => {
    const reasons = [...new Set(results.map((r) => r.failure ??
      (r.attempted < r.asked ? `capped ${FD_RESERVE} short of the descriptor limit (${r.fdLimit}, the hard limit)` : 'reached the number asked')))]
    return `- ${s.name}, ${target}: ${results.map((r) => r.connections).join(' / ')} of ${results[0].asked} connections; stopped: ${reasons.join('; ')}`
  })
}

/** How many clients came back in each storm run, and the reasons of its failed handshakes. */
function stormNotes (s, runs) {
  return Object.entries(runs).map(([target, results]) => {
    const backs = results.map((r) => (r.t100 === undefined ? `${r.back} of ${r.clients} (not all back after ${s.params.seconds} s)` : `${r.back} of ${r.clients}`))
    const reasons = results.map((r) => Object.entries(r.reasons).map(([reason, n]) => `${reason} ${n}`).join(', ') || 'none')
    return `- ${s.name}, ${target}: back ${backs.join(' / ')}; failed handshakes: ${reasons.join(' / ')}`
  })
}

/** One column per target, each but raw ws followed by its ratio to raw ws. */
function table (rows) {
  const stat = RUNS > 1 ? ' median (range)' : ''
  const others = [...TARGETS, ...crossNode, ...withHistory, ...withCap].filter((t) => t !== 'ws' && rows.some((r) => r[t] !== undefined))
  const head = [`raw ws${stat}`, ...others.flatMap((t) => [`${LABELS[t]}${stat}`, `${t === 'hauyna' ? 'hauyna' : LABELS[t]} ÷ ws`])]
  const line = (r) => [cell(r.ws), ...others.flatMap((t) => [cell(r[t]), ratioCell(r.ratio[t])])]
  return [`| scenario | figure | ${head.join(' | ')} |`, `|---|---|${head.map(() => '---|').join('')}`,
    ...rows.map((r) => `| ${r.scenario} | ${r.figure} | ${line(r).join(' | ')} |`)].join('\n')
}

async function main () {
  const rows = []
  const raw = {}
  const notes = []
  for (const s of scenarios) {
    raw[s.name] = {}
    const targets = s.targets ?? [...TARGETS, ...(s.crossNode ? crossNode : []), ...(s.history ? withHistory.filter((t) => s.crossNode || !t.startsWith('hauyna-redis')) : []), ...(s.cap ? withCap : [])]
    for (const target of targets) raw[s.name][target] = []
    // Targets take turns run by run, so a drift in the machine's speed reaches them all alike.
    for (let run = 0; run < RUNS; run++) {
      for (const target of targets) {
        const result = await runOnce(target, s)
        raw[s.name][target].push(result)
        process.stderr.write(`${s.name} ${target} run ${run + 1}: ${JSON.stringify(result)}\n`)
      }
    }
    for (const [label, pick, higher] of figures[s.scenario]) {
      const stats = Object.fromEntries(targets.flatMap((t) => {
        const xs = raw[s.name][t].map(pick)
        return xs.includes(undefined) ? [] : [[t, { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }]]
      }))
      const ratio = Object.fromEntries(targets.filter((t) => t !== 'ws' && stats.ws && stats[t]).map((t) => [t, stats[t].median / stats.ws.median]))
      rows.push({ scenario: s.name, figure: label, higherIsBetter: higher, ...stats, ratio })
    }
    if (s.scenario === 'scale') notes.push(...scaleNotes(s, raw[s.name]))
    if (s.scenario === 'storm') notes.push(...stormNotes(s, raw[s.name]))
  }
  const machine = `${os.cpus()[0].model}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${pin ? ', server and load generator pinned to separate cores' : ''}`
  const report = [table(rows), ...(notes.length ? ['', ...notes] : [])].join('\n')
  console.log(`\n${machine}\n\n${report}`)
  if (only.length > 0) return
  const dir = path.join(__dirname, 'results')
  mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const name = quick ? 'latest-quick' : 'latest'
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ date: new Date().toISOString(), machine, quick, runs: RUNS, rows, notes, raw }, null, 2))
  writeFileSync(path.join(dir, `${name}.md`), `# Benchmark ${stamp}${quick ? ' (quick)' : ''}\n\n${machine}; ${RUNS} run${RUNS > 1 ? 's' : ''} per target, fresh server process per run.\n\n${report}\n`)
  console.log(`\nwritten to bench/results/${name}.{json,md}`)
}

main().catch((error) => { console.error(error); process.exit(1) })
