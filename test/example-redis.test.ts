import { type ChildProcess, spawn } from 'node:child_process'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { connect, until } from './helpers'
import { REDIS_URL, requireRedis, skipRedis } from './redis-helpers'

// docs/SCALING.md: `REDIS_URL=… npm start` twice is one chat. `npm start` builds the client
// bundle, then runs this server; `npm test` has built the bundle already, and building it
// again here would rewrite dist/ under the tests that read it, so the server is run directly.

const root = join(__dirname, '..')
const tsx = join(root, 'node_modules', 'tsx', 'dist', 'cli.mjs')

/** The chat example on a free port and REDIS_URL; resolves to its port once it listens. */
async function startChat (t: Test): Promise<number> {
  const child: ChildProcess = spawn(process.execPath, [tsx, 'example/chat/server.ts'], {
    cwd: root,
    env: { ...process.env, PORT: '0', REDIS_URL, _TAPJS_PROCESSINFO_COVERAGE_: '0' },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  t.teardown(() => { child.kill('SIGTERM') })
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => { output += chunk.toString() })
  await until(() => /listening at http:\/\/127\.0\.0\.1:\d+/.test(output), 20_000, 'the chat example listening')
  return Number(/listening at http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1])
}

t.test('two chat examples on REDIS_URL are one chat, whose dashboard shows both nodes', { skip: skipRedis }, async (t) => {
  if (!requireRedis(t)) return
  const [a, b] = await Promise.all([startChat(t), startChat(t)])
  const ann = await connect(`ws://127.0.0.1:${a}/ws?userId=ann`)
  t.teardown(() => ann.close())
  t.equal((await ann.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')

  const response = await fetch(`http://127.0.0.1:${b}/notify`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ channel: 'lobby', data: 'from the other process' })
  })
  t.same(await response.json(), { delivered: 0 }, 'the route counts the deliveries of its own process')
  await until(() => ann.count((f) => f.type === 'message' && f.data === 'from the other process') === 1, 3000, 'the message across processes')
  const users = await (await fetch(`http://127.0.0.1:${b}/users`)).json() as Array<{ userId: string }>
  t.same(users.map((u) => u.userId), ['ann'], 'presence is shared: the other process lists ann')

  // The dashboard of either process draws both nodes.
  const dashboard = new WebSocket(`ws://127.0.0.1:${b}/ws/dashboard`)
  t.teardown(() => dashboard.close())
  let nodes: Array<{ connections: number }> = []
  dashboard.on('message', (data) => { nodes = JSON.parse(String(data)).stats.cluster.nodes })
  await until(() => nodes.length === 2 && nodes.some((node) => node.connections === 1), 10_000, 'both nodes on the dashboard, ann\'s among them')
  t.pass('the dashboard shows both nodes')
})
