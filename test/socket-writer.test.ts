import t from 'tap'
import WebSocket from 'ws'
import { connect, startServer, until } from './helpers'

// Frames written straight to TCP must never overtake what `ws` still holds: a Blob that `ws`
// is reading, or a message it is compressing. Both paths are checked through what arrives.

/** Every message of a plain `ws` client, text decoded, in arrival order. */
function recorder (ws: WebSocket): string[] {
  const received: string[] = []
  ws.on('message', (data, isBinary) => { received.push(isBinary ? `binary:${data.toString()}` : JSON.parse(data.toString()).type) })
  return received
}

t.test('a frame sent while ws reads a Blob waits behind it', async (t) => {
  const server = await startServer(t)
  const ws = new WebSocket(server.url({ userId: 'alice' }))
  const received = recorder(ws)
  t.teardown(() => ws.terminate())
  await until(() => received.includes('connected'), 3000, 'connected')
  const conn = server.app.connections.byUser('alice')[0]
  // The app uses the socket directly: ws reads the Blob asynchronously, its sender is busy.
  conn.socket.send(new Blob(['first']))
  t.ok(conn.send({ type: 'direct', from: null, data: 'second', ts: new Date().toISOString() }))
  await until(() => received.length === 3, 3000, 'both frames')
  t.same(received, ['connected', 'binary:first', 'direct'])
})

t.test('with permessage-deflate every frame goes through ws, in order', async (t) => {
  const server = await startServer(t, { websocket: { perMessageDeflate: { threshold: 0 } } })
  const client = await connect(server.url({ userId: 'alice' }), { perMessageDeflate: true })
  await client.request({ type: 'subscribe', channel: 'room' })
  // Large and small messages interleaved: compression is asynchronous, delivery order is not.
  for (let n = 0; n < 50; n++) await server.app.channels.broadcastTo('room', { n, pad: n % 2 === 0 ? 'x'.repeat(20_000) : '' })
  await until(() => client.all('message').length === 50, 5000, '50 messages')
  t.same(client.all('message').map((f) => f.data.n), [...Array(50).keys()])
  t.same(client.violations, [])
})

t.test('frames of every header length arrive whole: 7-bit, 16-bit and 64-bit lengths, multi-byte text', async (t) => {
  const server = await startServer(t)
  const client = await connect(server.url({ userId: 'alice' }))
  await client.request({ type: 'subscribe', channel: 'room' })
  // Payloads of exactly 125, 126, 65535 and 65536 bytes (each header length's edge), then
  // characters of two and three UTF-8 bytes, so that bytes and characters differ.
  const overhead = JSON.stringify({ type: 'message', channel: 'room', from: null, data: '', ts: new Date().toISOString() }).length
  const edges = [125, 126, 65_535, 65_536].map((bytes) => 'a'.repeat(bytes - overhead))
  const texts = [...edges, ...[40, 32_700, 70_000].flatMap((n) => ['é'.repeat(n), '€'.repeat(n)])]
  for (const text of texts) await server.app.channels.broadcastTo('room', text)
  await until(() => client.all('message').length === texts.length, 5000, 'every message')
  t.same(client.all('message').map((f) => f.data), texts, 'each text as sent, in order')
  t.same(client.violations, [])
})
