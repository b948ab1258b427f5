import t from 'tap'
import { connect, startServer } from './helpers'

t.test('publish reaches subscribers', async (t) => {
  const server = await startServer(t)
  const a = await connect(server.url({ userId: 'alice' }))
  const b = await connect(server.url({ userId: 'bob' }))
  t.same(await a.request({ type: 'subscribe', channel: 'room' }), { type: 'ack', ref: 'r1' })
  await b.request({ type: 'subscribe', channel: 'room' })
  const ack = await a.request({ type: 'publish', channel: 'room', data: { text: 'hi' } })
  t.equal(ack.type, 'ack')
  const msg = await b.next('message')
  t.match(msg, { channel: 'room', from: 'alice', data: { text: 'hi' } })
  t.same(a.violations, [])
  t.same(b.violations, [])
})
