'use strict'
// Shared by every target: report the port, then answer CPU and memory probes and the
// target's own named calls over IPC.
function serve (start) {
  start().then(({ port, close, calls = {} }) => {
    process.send({ type: 'listening', port })
    process.on('message', (msg) => {
      if (msg.type === 'probe') {
        global.gc?.()
        process.send({ type: 'probe', id: msg.id, cpu: process.cpuUsage(), rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed })
      } else if (msg.type === 'call') {
        Promise.resolve(calls[msg.name]()).then((result) => process.send({ type: 'called', result }))
      } else if (msg.type === 'stop') {
        Promise.resolve(close()).finally(() => process.exit(0))
      }
    })
  }).catch((error) => { console.error(error); process.exit(1) })
}
/** With --history: every channel but presence:* keeps its last 100 messages for 5 minutes. */
function historyPolicies () {
  return process.argv.includes('--history') ? { '*': { history: { size: 100, ttl: 300_000 } } } : {}
}

module.exports = { serve, historyPolicies }
