import t from 'tap'
import { Type } from '@sinclair/typebox'
import Fastify from 'fastify'
import hauyna from '../lib/index'
import { connect, open, startServer } from './helpers'

t.test('a codec translates frames both ways, once per fan-out', async (t) => {
  let encoded = 0
  const server = await startServer(t, {
    codec: {
      decode: (frame) => {
        const f = frame as { kind?: string }
        if (f.kind === 'bad') throw new Error('kind "bad" is not allowed')
        return f.kind === 'say' ? { ...f, type: 'publish' } : frame
      },
      encode: (message) => {
        if (message.type === 'message') encoded++
        return message.type === 'heartbeat_ack' ? undefined : { ...message, encoded: true }
      }
    }
  })
  const a = await connect(server.url({ userId: 'a' }))
  const b = await connect(server.url({ userId: 'b' }))
  t.equal(a.frames[0].encoded, true, 'connected went through the codec')
  await a.request({ type: 'subscribe', channel: 'c' })
  await b.request({ type: 'subscribe', channel: 'c' })
  a.send({ kind: 'say', channel: 'c', data: 1 })
  t.match(await b.next('message'), { channel: 'c', from: 'a', data: 1, encoded: true })
  t.equal(encoded, 1, 'one encode for two recipients')
  t.match(await a.request({ kind: 'bad' }), { type: 'error', code: 'invalid_message' })
  t.equal((await a.request({ type: 'heartbeat' })).type, 'ack', 'a dropped frame (heartbeat_ack) is not sent')
  t.equal(a.all('heartbeat_ack').length, 0)
})

t.test('the codec also shapes refusals', async (t) => {
  const server = await startServer(t, { codec: { encode: (m) => ({ ...m, wrapped: true }) } })
  const anonymous = await open(server.url())
  t.equal((await anonymous.closed).code, 1002)
  t.match(anonymous.frames, [{ type: 'error', code: 'missing_user_id', wrapped: true }])
})

t.test('codec options are validated', async (t) => {
  for (const codec of [{ decode: 1 }, { encode: 'x' }, 'codec']) {
    const app = Fastify()
    await t.rejects(async () => { await app.register(hauyna, { codec } as never) }, { code: 'HAUYNA_INVALID_OPTION', message: /codec/ })
    await app.close()
  }
})

t.test('a codec whose encode throws on an answer is reported, and the connection goes on', async (t) => {
  const reported: string[] = []
  const server = await startServer(t, {
    codec: {
      encode: (message) => {
        if (message.type === 'ack' && message.ref === 'boom') throw new Error('cannot encode this ack')
        return message
      }
    }
  }, (app) => {
    app.events.on('sync_type', { schema: Type.Object({ type: Type.Literal('sync_type') }) }, () => {})
    app.events.on('async_type', { schema: Type.Object({ type: Type.Literal('async_type') }) }, async () => {})
    app.events.on('error', (error: Error) => { reported.push(error.message) })
  })
  const a = await connect(server.url({ userId: 'a' }))
  a.send({ type: 'sync_type', ref: 'boom' })
  a.send({ type: 'async_type', ref: 'boom' })
  t.equal((await a.request({ type: 'heartbeat' })).type, 'ack', 'the connection still answers')
  t.same(reported, ['cannot encode this ack', 'cannot encode this ack'], 'both failures reported, after a sync and an async handler')
  t.equal(a.all('ack').filter((f) => f.ref === 'boom').length, 0)
})
