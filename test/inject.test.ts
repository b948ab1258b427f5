import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import t from 'tap'
import type { WebSocket } from 'ws'
import hauyna from '../lib/index'
import { within } from './helpers'

// Testing an app the Fastify way: `app.injectWS()` upgrades without a listening server.

interface Frame { type: string, [key: string]: unknown }

/** Every frame `ws` receives, and a wait for the next one of a type. */
function frames (ws: WebSocket): { all: Frame[], next: (type: string) => Promise<Frame> } {
  const all: Frame[] = []
  const waiting: Array<{ type: string, resolve: (frame: Frame) => void }> = []
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as Frame
    all.push(frame)
    const i = waiting.findIndex((w) => w.type === frame.type)
    if (i >= 0) waiting.splice(i, 1)[0].resolve(frame)
  })
  return {
    all,
    next: (type) => within(new Promise((resolve) => {
      const seen = all.find((frame) => frame.type === type && !(frame as { taken?: boolean }).taken)
      if (seen !== undefined) {
        (seen as { taken?: boolean }).taken = true
        resolve(seen)
      } else {
        waiting.push({ type, resolve })
      }
    }), 3000, `a ${type} frame`)
  }
}

t.test('app.injectWS(): connected, a request and its ack, an HTTP-route broadcast, an app message, a close', async (t) => {
  const app = Fastify()
  await app.register(hauyna, { path: '/ws', allowUnverifiedIdentity: true })
  app.events.on('shout', { schema: Type.Object({ text: Type.String() }) }, async (conn, msg) => {
    await app.connections.sendTo(conn.userId, { shouted: msg.text.toUpperCase() })
  })
  app.post('/notify', async () => ({ delivered: await app.channels.broadcastTo('room', { hello: true }) }))
  t.teardown(() => app.close())
  await app.ready()

  let received: ReturnType<typeof frames> | undefined
  const ws = await app.injectWS('/ws?userId=alice', {}, { onInit: (socket: WebSocket) => { received = frames(socket) } })
  const inbox = received as ReturnType<typeof frames>
  t.match(await inbox.next('connected'), { userId: 'alice' })

  ws.send(JSON.stringify({ type: 'subscribe', channel: 'room', ref: 1 }))
  t.match(await inbox.next('ack'), { ref: 1 })
  const reply = await app.inject({ method: 'POST', url: '/notify' })
  t.same(reply.json(), { delivered: 1 })
  t.match(await inbox.next('message'), { channel: 'room', from: null, data: { hello: true } })

  ws.send(JSON.stringify({ type: 'shout', text: 'hi' }))
  t.match(await inbox.next('direct'), { data: { shouted: 'HI' } })
  t.equal(app.connections.byUser('alice').length, 1)

  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)))
  ws.send(JSON.stringify({ type: 'disconnect', ref: 2 }))
  t.equal(await within(closed, 3000, 'the close'), 1000, 'closed normally')
  // The in-memory socket does not report the end of its stream, so the server side is
  // released by the drain of app.close() (after closeTimeout), not at once.
  await within(app.close(), 5000, 'app.close()')
  t.equal(app.connections.byUser('alice').length, 0, 'nothing left after close')
})
