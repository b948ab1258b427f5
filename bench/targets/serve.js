'use strict'
// Shared by every target: report the port, then answer CPU and memory probes over IPC.
function serve (start) {
  start().then(({ port, close }) => {
    process.send({ type: 'listening', port })
    process.on('message', (msg) => {
      if (msg.type === 'probe') {
        global.gc?.()
        process.send({ type: 'probe', id: msg.id, cpu: process.cpuUsage(), rss: process.memoryUsage().rss, heap: process.memoryUsage().heapUsed })
      } else if (msg.type === 'stop') {
        Promise.resolve(close()).finally(() => process.exit(0))
      }
    })
  }).catch((error) => { console.error(error); process.exit(1) })
}
module.exports = { serve }
