'use strict'
// Benchmark harness: for each scenario and target, a fresh server process and a separate
// load generator process (pinned to different cores with taskset when available), several
// runs, median and range, and the ratio to raw `ws` measured in the same run.
const { fork, execFileSync } = require('node:child_process')
const { mkdirSync, writeFileSync } = require('node:fs')
const os = require('node:os')
const path = require('node:path')

const quick = process.argv.includes('--quick')
const RUNS = 3
const TARGETS = ['ws', 'hauyna']
const scenarios = quick
  ? [
      { name: 'fan-out 1k', scenario: 'fanout', params: { subscribers: 1000, seconds: 2 } },
      { name: 'latency 50/s × 1k', scenario: 'latency', params: { subscribers: 1000, rate: 50, seconds: 2 } },
      { name: 'memory 2k idle', scenario: 'memory', params: { connections: 2000 } },
      { name: 'connect 2k', scenario: 'connectRate', params: { connections: 2000 } },
      { name: 'presence.list() 2k users', scenario: 'presenceList', params: { users: 2000 }, targets: ['hauyna'], serverCall: 'presenceList' },
      { name: 'presence update 50/s × 1k watchers', scenario: 'presenceFanout', params: { watchers: 1000, rate: 50, seconds: 2 }, targets: ['hauyna'] }
    ]
  : [
      { name: 'fan-out 1k', scenario: 'fanout', params: { subscribers: 1000, seconds: 5 } },
      { name: 'fan-out 5k', scenario: 'fanout', params: { subscribers: 5000, seconds: 5 } },
      { name: 'latency 50/s × 1k', scenario: 'latency', params: { subscribers: 1000, rate: 50, seconds: 5 } },
      { name: 'memory 10k idle', scenario: 'memory', params: { connections: 10000 } },
      { name: 'connect 5k', scenario: 'connectRate', params: { connections: 5000 } },
      { name: 'presence.list() 10k users', scenario: 'presenceList', params: { users: 10000 }, targets: ['hauyna'], serverCall: 'presenceList' },
      { name: 'presence update 50/s × 1k watchers', scenario: 'presenceFanout', params: { watchers: 1000, rate: 50, seconds: 5 }, targets: ['hauyna'] }
    ]

function hasTaskset () {
  try { execFileSync('taskset', ['-V'], { stdio: 'ignore' }); return os.cpus().length >= 2 } catch { return false }
}
const pin = hasTaskset()

function start (file, args, core, execArgv = []) {
  const options = { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv }
  if (!pin) return fork(file, args, options)
  return fork(file, args, { ...options, execPath: 'taskset', execArgv: ['-c', String(core), process.execPath, ...execArgv] })
}

function once (child, type) {
  return new Promise((resolve, reject) => {
    const onMessage = (msg) => { if (msg.type === type || msg.type === 'error') { child.off('message', onMessage); msg.type === 'error' ? reject(new Error(msg.message)) : resolve(msg) } }
    child.on('message', onMessage)
    child.once('exit', (code) => reject(new Error(`process exited (${code}) waiting for ${type}`)))
  })
}

let probeId = 0
async function probe (server) {
  const id = ++probeId
  const reply = once(server, 'probe')
  server.send({ type: 'probe', id })
  return reply
}

/** The median of five timed calls the target answers itself (e.g. presence.list()). */
async function callServer (server, name) {
  const results = []
  for (let i = 0; i < 5; i++) {
    const reply = once(server, 'called')
    server.send({ type: 'call', name })
    results.push((await reply).result)
  }
  return results.sort((a, b) => a.ms - b.ms)[2]
}

async function runOnce (target, { scenario, params, serverCall }) {
  const server = start(path.join(__dirname, 'targets', `${target}.js`), [], 0, ['--expose-gc'])
  const { port } = await once(server, 'listening')
  const load = start(path.join(__dirname, 'loadgen.js'), [String(port)], 1)
  const watchdog = setTimeout(() => { server.kill(); load.kill() }, 120_000)
  try {
    load.send({ scenario, params })
    await once(load, 'ready')
    const called = serverCall === undefined ? undefined : await callServer(server, serverCall)
    const before = await probe(server)
    load.send({ type: 'go' })
    await once(load, 'measured')
    const after = await probe(server)
    const result = once(load, 'result')
    load.send({ type: 'go' })
    const { result: r, cpu } = await result
    const serverCpuUs = (after.cpu.user + after.cpu.system) - (before.cpu.user + before.cpu.system)
    return { ...r, called, serverCpuUs, loadCpuUs: cpu.user + cpu.system, rssDelta: after.rss - before.rss, heapDelta: after.heap - before.heap }
  } finally {
    clearTimeout(watchdog)
    server.send({ type: 'stop' })
    load.kill()
  }
}

/** The figure each scenario is judged by; `higher` says which direction is better. */
const figures = {
  fanout: [['delivered msg/s', (r) => r.perSecond, true], ['server CPU µs/delivery', (r) => r.serverCpuUs / r.delivered, false], ['load-gen CPU %', (r) => r.loadCpuUs / 1e4 / r.elapsed, false]],
  latency: [['p50 ms', (r) => r.p50, false], ['p99 ms', (r) => r.p99, false], ['max ms', (r) => r.max, false], ['server CPU µs/delivery', (r) => r.serverCpuUs / r.delivered, false], ['delivered/expected', (r) => r.delivered / r.expected, true]],
  memory: [['RSS KiB/connection', (r) => r.rssDelta / 1024 / r.connections, false], ['heap KiB/connection', (r) => r.heapDelta / 1024 / r.connections, false]],
  connectRate: [['connections/s', (r) => r.perSecond, true]],
  presenceList: [['list() ms', (r) => r.called.ms, false], ['users listed', (r) => r.called.users, true]],
  presenceFanout: [['diff p50 ms', (r) => r.p50, false], ['diff p99 ms', (r) => r.p99, false], ['server CPU µs/diff delivered', (r) => r.serverCpuUs / r.delivered, false], ['delivered/expected', (r) => r.delivered / r.expected, true]]
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const fmt = (x) => (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2))
const cell = (s) => (s === undefined ? '—' : `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`)

async function main () {
  const rows = []
  const raw = {}
  for (const s of scenarios) {
    raw[s.name] = {}
    const targets = s.targets ?? TARGETS
    for (const target of targets) {
      raw[s.name][target] = []
      for (let run = 0; run < RUNS; run++) {
        const result = await runOnce(target, s)
        raw[s.name][target].push(result)
        process.stderr.write(`${s.name} ${target} run ${run + 1}: ${JSON.stringify(result)}\n`)
      }
    }
    for (const [label, pick, higher] of figures[s.scenario]) {
      const stats = Object.fromEntries(targets.map((t) => {
        const xs = raw[s.name][t].map(pick)
        return [t, { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) }]
      }))
      rows.push({ scenario: s.name, figure: label, higherIsBetter: higher, ...stats, ratio: stats.ws && stats.hauyna.median / stats.ws.median })
    }
  }
  const machine = `${os.cpus()[0].model}, ${os.cpus().length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}${pin ? ', server and load generator pinned to separate cores' : ''}`
  const table = ['| scenario | figure | raw ws median (range) | fastify-hauyna median (range) | hauyna ÷ ws |', '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.scenario} | ${r.figure} | ${cell(r.ws)} | ${cell(r.hauyna)} | ${r.ratio === undefined ? '— (hauyna only)' : r.ratio.toFixed(2) + '×'} |`)].join('\n')
  const dir = path.join(__dirname, 'results')
  mkdirSync(dir, { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  const name = quick ? 'latest-quick' : 'latest'
  writeFileSync(path.join(dir, `${name}.json`), JSON.stringify({ date: new Date().toISOString(), machine, quick, runs: RUNS, rows, raw }, null, 2))
  writeFileSync(path.join(dir, `${name}.md`), `# Benchmark ${stamp}${quick ? ' (quick)' : ''}\n\n${machine}; ${RUNS} runs each, fresh server process per run.\n\n${table}\n`)
  console.log(`\n${machine}\n\n${table}\n\nwritten to bench/results/${name}.{json,md}`)
}

main().catch((error) => { console.error(error); process.exit(1) })
