'use strict'
// How the load generator speaks to each target, so every scenario is written once. A dialect has:
//   path(user)               the upgrade URL for that user id
//   hello                    a frame to send right after the upgrade, answered by a `connected` message (optional)
//   subscribe(channel)       a frame; subscribed(msg) recognises its answer
//   publish(channel, data), direct(to, data)   frames; presence(meta) too, where the target has presence
//   parse(text)              a received frame as a message shaped like PROTOCOL.md's ({ type, channel, from, data, … })
//   control(client, text)    answers a transport-level frame and returns true, so it is not counted as a delivery
//                            (optional; called only for frames of at most one byte, which no application message is)
//   retry                    how that target's clients wait between reconnection attempts, as a partial
//                            RetryPolicy of the SDK (lib/client/retry-policy.ts; its defaults fill the rest)

/** fastify-hauyna speaks PROTOCOL.md; the raw `ws` target implements the same subset of it. */
const protocolV1 = {
  path: (user) => `/ws?userId=${encodeURIComponent(user)}`,
  subscribe: (channel) => JSON.stringify({ type: 'subscribe', channel }),
  subscribed: (msg) => msg.type === 'subscribed',
  publish: (channel, data) => JSON.stringify({ type: 'publish', channel, data }),
  direct: (to, data) => JSON.stringify({ type: 'direct', to, data }),
  presence: (meta) => JSON.stringify({ type: 'presence', meta }),
  parse: JSON.parse
}
// The SDK's own defaults: 1 s doubling to 30 s, ± 10 %.
const hauyna = { ...protocolV1, retry: {} }
// Raw `ws` clients as naive code retries: every second, no backoff, no jitter.
const rawWs = { ...protocolV1, retry: { baseDelay: 1000, maxDelay: 1000, backoffMultiplier: 1, jitter: 0 } }

// Socket.IO 4 over a bare WebSocket: Engine.IO v4 packets (a digit, then the body) carrying Socket.IO
// packets ('40' connects the default namespace, '42' is an event: a JSON array [name, argument]).
const ENGINE_PING = '2'
const ENGINE_PONG = '3'
const socketIo = {
  path: (user) => `/socket.io/?EIO=4&transport=websocket&userId=${encodeURIComponent(user)}`,
  // Events sent before the namespace is connected are dropped by the server, hence the wait for '40{…}'.
  hello: '40',
  subscribe: (channel) => event('join', channel),
  subscribed: (msg) => msg.type === 'joined',
  publish: (room, data) => event('publish', { room, data }),
  direct: (to, data) => event('direct', { to, data }),
  parse: parseSocketIo,
  // socket.io-client's defaults: reconnectionDelay 1 s doubling to reconnectionDelayMax 5 s, randomizationFactor 0.5.
  retry: { baseDelay: 1000, maxDelay: 5000, backoffMultiplier: 2, jitter: 0.5 },
  control: (client, text) => {
    if (text !== ENGINE_PING) return false
    client.send(ENGINE_PONG)
    return true
  }
}

function event (name, argument) {
  return `42${JSON.stringify([name, argument])}`
}

function parseSocketIo (text) {
  if (text.startsWith('42')) {
    const [type, argument] = JSON.parse(text.slice(2))
    return { type, ...argument }
  }
  if (text.startsWith('40')) return { type: 'connected' }
  // The Engine.IO open packet ('0{…}') and anything else below Socket.IO: not a message to the app.
  return { type: 'engine.io', text }
}

const protocols = { hauyna, 'hauyna-redis': hauyna, 'hauyna+history': hauyna, 'hauyna-redis+history': hauyna, 'hauyna+auth': hauyna, 'hauyna+cap': hauyna, ws: rawWs, 'fastify-ws': rawWs, socketio: socketIo }

module.exports = { protocols }
