'use strict'
// Shared by every target: report the port, then answer CPU and memory probes and the
// target's own named calls over IPC.
//   --port=N      listen on N (a restarted server takes its predecessor's port); 0 by default
//   --loop-delay  sample the event loop's delay from listening on, reported by every probe
//                 (a probe with `reset` starts the samples again)
// A call the target does not have is answered with an undefined result.
const { monitorEventLoopDelay } = require('node:perf_hooks')

/** The value of `--name=value` in argv, if given. */
const option = (name) => process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3)
const listenPort = () => Number(option('port') ?? 0)

function serve (start) {
  start().then(({ port, close, calls = {} }) => {
    const loop = process.argv.includes('--loop-delay') ? monitorEventLoopDelay({ resolution: 1 }) : undefined
    loop?.enable()
    process.send({ type: 'listening', port, cpu: process.cpuUsage() })
    process.on('message', (msg) => {
      if (msg.type === 'probe') {
        process.send({ type: 'probe', id: msg.id, ...measure(loop) })
        if (msg.reset) loop?.reset()
      } else if (msg.type === 'call') {
        Promise.resolve(calls[msg.name]?.()).then((result) => process.send({ type: 'called', result }))
      } else if (msg.type === 'stop') {
        Promise.resolve(close()).finally(() => process.exit(0))
      }
    })
  }).catch((error) => { console.error(error); process.exit(1) })
}

/**
 * CPU, memory after a collection, the peak RSS of the process's life, and the event-loop delay
 * (ms, sampled every 1 ms, so an idle loop shows about 1) if sampled.
 */
function measure (loop) {
  global.gc?.()
  const { rss, heapUsed } = process.memoryUsage()
  const delay = loop && { maxMs: loop.max / 1e6, p99Ms: loop.percentile(99) / 1e6 }
  return { cpu: process.cpuUsage(), rss, heap: heapUsed, maxRss: process.resourceUsage().maxRSS * 1024, loop: delay }
}

/** With --history: every channel but presence:* keeps its last 100 messages for 5 minutes. */
function historyPolicies () {
  return process.argv.includes('--history') ? { '*': { history: { size: 100, ttl: 300_000 } } } : {}
}

module.exports = { serve, option, listenPort, historyPolicies }
