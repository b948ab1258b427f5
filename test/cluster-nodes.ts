/**
 * Server processes of the multi-process tests (test/fixtures/cluster-node.ts), each a real
 * Fastify server with the Redis adapter, driven over IPC; their clients are real sockets.
 */
import { type ChildProcess, fork } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Command, NodeConfig, Report, Snapshot } from './fixtures/cluster-node'
import { type Client, connect } from './helpers'

const START_TIMEOUT_MS = 20_000
const REPLY_TIMEOUT_MS = 5000
const EXIT_TIMEOUT_MS = 5000
const FIXTURE = join(__dirname, 'fixtures', 'cluster-node.ts')

type Request = Command extends infer C ? C extends Command ? Omit<C, 'id'> : never : never

function hasExited (child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null
}

function exited (child: ChildProcess, ms: number): Promise<boolean> {
  if (hasExited(child)) return Promise.resolve(true)
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms)
    child.once('exit', () => { clearTimeout(timer); resolve(true) })
  })
}

function listening (child: ChildProcess): Promise<number> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the node did not start in time')), START_TIMEOUT_MS)
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`the node exited with ${code}`)) })
    child.on('message', (report: Report) => {
      if (report.event !== 'listening') return
      clearTimeout(timer)
      resolve(report.port)
    })
  })
}

/** One server process, driven over IPC. */
export class ClusterNode {
  port = 0
  private lastId = 0
  private readonly waiting = new Map<number, (report: Extract<Report, { event: 'reply' }>) => void>()

  private constructor (readonly child: ChildProcess) {
    child.on('message', (report: Report) => {
      if (report.event === 'reply') this.waiting.get(report.id)?.(report)
    })
  }

  /** A node named `name` (its nodeId starts with it), on the Redis that `config` names. */
  static async start (t: Test, name: string, config: Omit<NodeConfig, 'nodeId'>): Promise<ClusterNode> {
    const full: NodeConfig = { nodeId: `${name}-${randomUUID()}`, ...config }
    // The test runner's own loaders (not tsx): the nodes' coverage then merges with this process's.
    const child = fork(FIXTURE, [JSON.stringify(full)], {
      cwd: join(__dirname, '..'), execArgv: process.execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc']
    })
    const node = new ClusterNode(child)
    t.teardown(() => node.stop())
    node.port = await listening(child)
    return node
  }

  url (userId: string, group?: string): string {
    const query = new URLSearchParams(group === undefined ? { userId } : { userId, group })
    return `ws://127.0.0.1:${this.port}/ws?${query.toString()}`
  }

  ask (request: Request): Promise<unknown> {
    const id = ++this.lastId
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => { this.waiting.delete(id); reject(new Error(`no reply to ${request.cmd}`)) }, REPLY_TIMEOUT_MS)
      this.waiting.set(id, (report) => {
        clearTimeout(timer)
        this.waiting.delete(id)
        if (report.error !== undefined) reject(new Error(report.error))
        else resolve(report.result)
      })
      this.child.send({ ...request, id })
    })
  }

  snapshot (): Promise<Snapshot> {
    return this.ask({ cmd: 'snapshot' }) as Promise<Snapshot>
  }

  /** A crash: no shutdown code runs, the node's presence stays in Redis until swept. */
  async kill (): Promise<void> {
    this.child.kill('SIGKILL')
    await exited(this.child, EXIT_TIMEOUT_MS)
  }

  /** A clean stop (the node closes its server and adapter); SIGKILL if it takes too long. */
  async stop (): Promise<void> {
    if (hasExited(this.child)) return
    if (this.child.connected) this.child.disconnect()
    if (!await exited(this.child, EXIT_TIMEOUT_MS)) await this.kill()
  }
}

/** How many frames of `type` carrying `data` the client got. */
export function got (client: Client, type: string, data: unknown): number {
  return client.frames.filter((f) => f.type === type && JSON.stringify(f.data) === JSON.stringify(data)).length
}

/** A client closed when `t` ends. */
export async function open (t: Test, url: string): Promise<Client> {
  const client = await connect(url)
  t.teardown(() => { client.ws.terminate() })
  return client
}

/** The clients both multi-process tests start with, on nodes a, b, c: alice, bob and carol in lobby, dave in nothing yet. */
export async function openUsers (t: Test, [a, b, c]: ClusterNode[]): Promise<{ alice: Client, bob: Client, carol: Client, dave: Client }> {
  const alice = await open(t, a.url('alice', 'staff'))
  const dave = await open(t, a.url('dave'))
  const bob = await open(t, b.url('bob', 'staff'))
  const carol = await open(t, c.url('carol'))
  for (const client of [alice, bob, carol]) t.equal((await client.request({ type: 'subscribe', channel: 'lobby' })).type, 'ack')
  return { alice, bob, carol, dave }
}
