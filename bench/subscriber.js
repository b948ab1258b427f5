'use strict'
// Opening subscribed lean clients, shared by the load generator and the stress suite.
const { LeanClient } = require('./lean-client')

/**
 * A client of `user` on `port` speaking `proto` (bench/protocols.js), resolved once subscribed
 * to `channel`. Until then every frame is decoded; afterwards only with `decodeAll`, and
 * `onData` gets each delivery (parsed, or null).
 */
function subscriber (port, proto, user, channel, { decodeAll = false, onData, localAddress, timeout = 30_000, onClose } = {}) {
  return new Promise((resolve, reject) => {
    let subscribed = false
    const client = new LeanClient(port, proto.path(user), {
      decode: true,
      control: proto.control,
      localAddress,
      onClose,
      onMessage: (text) => {
        if (subscribed) {
          if (onData) onData(client.decode ? proto.parse(text) : null)
          return
        }
        const msg = proto.parse(text)
        if (proto.subscribed(msg)) {
          subscribed = true
          client.decode = decodeAll
          resolve(client)
        } else if (proto.hello && msg.type === 'connected') client.send(proto.subscribe(channel))
      }
    })
    // `retryAfter`: the milliseconds a refused upgrade's Retry-After asked for.
    const fail = (reason, retryAfter) => {
      if (subscribed) return
      client.destroy()
      reject(Object.assign(new Error(reason), { retryAfter }))
    }
    client.ready.then(() => client.send(proto.hello ?? proto.subscribe(channel)), (error) => fail(error.code ?? error.message, error.retryAfter))
    // A server out of file descriptors accepts and closes at once: fail then, not at the timeout.
    client.socket.once('close', () => fail('closed before subscribed'))
    setTimeout(() => fail(`not subscribed within ${timeout / 1000} s`), timeout).unref()
  })
}

/**
 * Opens `count` clients, `concurrency` at a time, until the first failure or `deadline`;
 * resolves to the clients opened and why it stopped early (`failure`, null if it did not).
 */
async function openUntil (count, make, { concurrency = 250, deadline = Infinity } = {}) {
  const now = () => performance.timeOrigin + performance.now()
  const clients = []
  for (let i = 0; i < count; i += concurrency) {
    if (now() > deadline) return { clients, failure: 'time budget spent' }
    const batch = []
    for (let j = i; j < Math.min(count, i + concurrency); j++) batch.push(make(j))
    const settled = await Promise.allSettled(batch)
    for (const s of settled) if (s.status === 'fulfilled') clients.push(s.value)
    const failed = settled.find((s) => s.status === 'rejected')
    if (failed) return { clients, failure: failed.reason.message }
  }
  return { clients, failure: null }
}

module.exports = { subscriber, openUntil }
