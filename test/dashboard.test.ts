import type { onRequestHookHandler } from 'fastify'
import t from 'tap'
import WebSocket from 'ws'
import { internalsOf } from '../lib/plugin'
import type { NodeInfo } from '../lib/index'
import { connect, delay, expectInvalidOptions, LogSink, refusal, startServer, until, within } from './helpers'
import { WrappedAdapter } from './wrapped-adapter'

const requireToken: onRequestHookHandler = async (request, reply) => {
  if (request.headers.authorization !== 'Bearer ops-token') await reply.code(401).send()
}
const withToken = { authorization: 'Bearer ops-token' }

interface Sample { at: number, stats: { connections: number, channels: { count: number, top?: unknown[] } } }

/** A dashboard socket and the samples it received so far. */
async function openFeed (url: string, headers: Record<string, string> = {}): Promise<{ socket: WebSocket, samples: Sample[] }> {
  const socket = new WebSocket(url, { headers })
  const samples: Sample[] = []
  socket.on('message', (data) => samples.push(JSON.parse(String(data)) as Sample))
  await within(new Promise((resolve, reject) => { socket.once('open', resolve); socket.once('error', reject) }), 3000, 'the dashboard socket opens')
  return { socket, samples }
}

t.test('dashboard options are validated at registration', async (t) => {
  await expectInvalidOptions(t, [
    ['a string', { dashboard: 'on' }, 'dashboard'],
    ['a path without /', { dashboard: { path: 'dash' } }, 'dashboard.path'],
    ['an interval under 100 ms', { dashboard: { interval: 50 } }, 'dashboard.interval'],
    ['an interval not an integer', { dashboard: { interval: 1.5 } }, 'dashboard.interval'],
    ['an onRequest not a function', { dashboard: { onRequest: 'auth' } }, 'dashboard.onRequest'],
    ['a misspelt key', { dashboard: { onrequest: requireToken } }, 'dashboard.onrequest']
  ])
})

t.test('the dashboard is off by default: 404 for the page and the socket', async (t) => {
  const server = await startServer(t)
  t.equal((await fetch(`${server.http}/ws/dashboard`)).status, 404, 'no page')
  t.equal((await refusal(server.url({}, '/ws/dashboard'))).status, 404, 'no socket')
})

t.test('dashboard: true serves the page and a live feed at /ws/dashboard; the timer runs only while a page is open', async (t) => {
  const server = await startServer(t, { dashboard: { interval: 100 } })
  const page = await fetch(`${server.http}/ws/dashboard`)
  t.equal(page.status, 200)
  t.match(page.headers.get('content-type'), /^text\/html/)
  t.match(await page.text(), /getContext\('2d'\)/, 'the page draws on canvases')
  t.notOk(internalsOf(server.app).dashboardSampling, 'no sampling while no page is open')

  const feed = await openFeed(server.url({}, '/ws/dashboard'))
  t.ok(internalsOf(server.app).dashboardSampling, 'sampling while a page is open')
  await until(() => feed.samples.length > 0, 3000, 'a first sample')
  t.match(feed.samples[0], { at: Number, stats: { connections: 0 } })
  t.notOk('top' in feed.samples[0].stats.channels, 'no channel names: stats.detail is off by default')
  await connect(server.url({ userId: 'ann' }))
  await until(() => feed.samples.at(-1)?.stats.connections === 1, 3000, 'the count moves')
  t.pass('a new connection shows in the next samples')

  feed.socket.close()
  await until(() => !internalsOf(server.app).dashboardSampling, 3000, 'the timer stops')
  t.pass('the timer stops with the last page')
})

t.test('dashboard samples carry channel names only as stats.detail allows', async (t) => {
  const server = await startServer(t, { dashboard: true, stats: { detail: true } })
  const client = await connect(server.url({ userId: 'ann' }))
  await client.request({ type: 'subscribe', channel: 'private:ann' })
  const feed = await openFeed(server.url({}, '/ws/dashboard'))
  await until(() => feed.samples.length > 0, 3000, 'a first sample')
  t.same(feed.samples[0].stats.channels.top, [{ channel: 'private:ann', subscribers: 1 }])
})

t.test('dashboard.onRequest answering 401 guards the page and its socket', async (t) => {
  const server = await startServer(t, { dashboard: { path: '/ops/live', onRequest: requireToken } })
  t.equal((await fetch(`${server.http}/ops/live`)).status, 401, 'the page')
  t.equal((await refusal(server.url({}, '/ops/live'))).status, 401, 'the socket')
  t.equal((await fetch(`${server.http}/ops/live`, { headers: withToken })).status, 200, 'the page, with the token')
  const feed = await openFeed(server.url({}, '/ops/live'), withToken)
  await until(() => feed.samples.length > 0, 3000, 'a sample, with the token')
  t.pass('the socket, with the token')
})

t.test('fastify.close() closes dashboard sockets and stops the timer', async (t) => {
  const server = await startServer(t, { dashboard: { interval: 100 } })
  const feed = await openFeed(server.url({}, '/ws/dashboard'))
  const closed = new Promise<number>((resolve) => feed.socket.once('close', resolve))
  const app = server.app
  await server.stop()
  t.equal(await within(closed, 3000, 'the dashboard socket closes'), 1001, 'going away')
  t.notOk(internalsOf(app).dashboardSampling, 'no timer left')
})

/** An adapter whose `nodes()` (read by every sample) waits for `gate`, then fails while `failing`. */
class StalledNodes extends WrappedAdapter {
  gate: Promise<void> = Promise.resolve()
  failing = false

  override async nodes (): Promise<NodeInfo[]> {
    await this.gate
    if (this.failing) throw new Error('nodes unreachable')
    return await super.nodes()
  }
}

t.test('a sample that fails is logged and skipped; samples come again once the adapter answers', async (t) => {
  const adapter = new StalledNodes('stalled')
  const sink = new LogSink('warn')
  const server = await startServer(t, { adapter, dashboard: { interval: 100 } }, undefined, sink.logger)
  let release = (): void => {}
  adapter.gate = new Promise((resolve) => { release = resolve })
  adapter.failing = true
  const feed = await openFeed(server.url({}, '/ws/dashboard'))
  // Timer ticks while the first sample waits: they are skipped, not stacked up.
  await delay(300)
  release()
  await until(() => sink.matching('a dashboard sample failed', 40).length > 0, 3000, 'the failure logged')
  t.equal(feed.samples.length, 0, 'nothing sent for a failed sample')
  adapter.failing = false
  await until(() => feed.samples.length > 0, 3000, 'a sample once the adapter answers')
  t.pass('sampling goes on')
})
