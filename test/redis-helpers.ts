import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect as tcpConnect, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { IN_CI, until } from './helpers'

export const REDIS_URL = 'redis://127.0.0.1:6379'

// Run in a child process so the answer is known synchronously, when the tests are declared
// (tap's `skip` option), without a top-level await.
const PROBE = `
const socket = require('node:net').connect(6379, '127.0.0.1')
socket.setTimeout(2000, () => process.exit(2))
socket.on('error', () => process.exit(1))
socket.on('data', (data) => process.exit(String(data).startsWith('+PONG') ? 0 : 3))
socket.write('PING\\r\\n')`

function probe (): string | undefined {
  const result = spawnSync(process.execPath, ['-e', PROBE], { timeout: 5000 })
  return result.status === 0
    ? undefined
    : 'no Redis answers PING on 127.0.0.1:6379: start redis-server (apt-get install -y redis-server; .ci/run does this)'
}

/** Why the Redis suites cannot run here, or `undefined` when Redis answers. */
export const redisMissing = probe()

/**
 * tap's `skip` option for a suite that needs what `missing` says is absent: skipped loudly on
 * a developer's machine, never in CI, where `requireOrFail` fails it instead.
 */
export function skipLoudly (missing: string | undefined): string | false {
  if (missing === undefined || IN_CI) return false
  console.error(`\n${'!'.repeat(100)}\n!!! SKIPPING Redis suites: ${missing}\n${'!'.repeat(100)}\n`)
  return `SKIPPED LOUDLY: ${missing}`
}

/** Fails the test when `missing` says what it needs is absent (in CI); `true` when it is there. */
export function requireOrFail (t: Test, missing: string | undefined): boolean {
  if (missing === undefined) return true
  t.fail(`CI must run the Redis suites: ${missing}`)
  return false
}

/** tap's `skip` option for a test that needs Redis. */
export const skipRedis = skipLoudly(redisMissing)

/** Fails the test when Redis is missing (in CI, where it is not skipped); `true` when Redis is there. */
export function requireRedis (t: Test): boolean {
  return requireOrFail(t, redisMissing)
}

/** Every key under `prefix`, found with SCAN (never KEYS, which blocks the server). */
export async function keysUnder (redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys.sort()
}

async function deleteUnder (prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL)
  try {
    const keys = await keysUnder(redis, prefix)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

/**
 * A fresh `hauyna-test:<random>:` prefix whose keys are deleted when `t` ends. Call it before
 * anything that writes under the prefix: teardowns run last-registered first, so the keys go
 * after every adapter of the test has closed.
 */
export function testPrefix (t: Test): string {
  const prefix = `hauyna-test:${randomBytes(6).toString('hex')}:`
  t.teardown(() => deleteUnder(prefix))
  return prefix
}

/** A plain connection for inspecting Redis from a test, closed when `t` ends. */
export function rawRedis (t: Test): Redis {
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  return redis
}

/** Why a suite that runs its own redis-server cannot run here, or `undefined` when the binary is there. */
export const binaryMissing = spawnSync('redis-server', ['--version']).error === undefined
  ? undefined
  : 'no redis-server binary on PATH: install it (apt-get install -y redis-server; .ci/run does this)'

/** tap's `skip` option for a test that runs its own redis-server. */
export const skipBinary = skipLoudly(binaryMissing)

/** Fails the test when the redis-server binary is missing (in CI); `true` when it is there. */
export function requireBinary (t: Test): boolean {
  return requireOrFail(t, binaryMissing)
}

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

/** Whether a Redis answers PING on `port` within half a second. */
function answers (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = tcpConnect(port, '127.0.0.1')
    const done = (ok: boolean): void => { socket.destroy(); resolve(ok) }
    socket.setTimeout(500, () => done(false))
    socket.on('error', () => done(false))
    socket.on('data', (data) => done(String(data).startsWith('+PONG')))
    socket.write('PING\r\n')
  })
}

const START_TIMEOUT_MS = 5000

/**
 * Servers still running, killed (and their directories removed) when this process exits, even
 * without its teardowns: a bailed-out run, or a mutation run's forced bail, leaves none behind.
 */
const running = new Set<RedisProcess>()
process.once('exit', () => {
  for (const redis of running) redis.killNow()
})

/**
 * A redis-server of the test's own on a free loopback port (never the shared one on 6379), for
 * what a test may not do to a Redis that others use: kill it, pause it, reconfigure it. It saves
 * nothing on its own: a restart comes back empty, or with what an explicit SAVE wrote to its
 * private directory. Killed, and its directory removed, when `t` ends.
 */
export class RedisProcess {
  private child: ChildProcess | undefined
  /** Where SAVE writes its snapshot, loaded again by a restart. */
  readonly dir: string

  private constructor (readonly port: number, private readonly args: string[]) {
    this.dir = mkdtempSync(join(tmpdir(), 'hauyna-redis-'))
  }

  /** Started once, on a free port, with `args` added to the command line; killed with `t`. */
  static async start (t: Test, args: string[] = []): Promise<RedisProcess> {
    const redis = new RedisProcess(await freePort(), args)
    running.add(redis)
    t.teardown(async () => {
      await redis.kill()
      rmSync(redis.dir, { recursive: true, force: true })
      running.delete(redis)
    })
    await redis.start()
    return redis
  }

  /** At exit, synchronously: SIGKILL, and the directory removed. */
  killNow (): void {
    const child = this.child
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL')
    rmSync(this.dir, { recursive: true, force: true })
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async start (): Promise<void> {
    this.child = spawn('redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, ...this.args],
      { stdio: 'ignore' })
    await until(() => answers(this.port), START_TIMEOUT_MS, `redis-server on port ${this.port}`)
  }

  /** A crash: SIGKILL by pid, resolved once the process is gone. */
  async kill (): Promise<void> {
    const child = this.child
    if (child?.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    process.kill(child.pid, 'SIGKILL')
    await exited
  }

  /** A plain connection to this server, closed when `t` ends. */
  connection (t: Test): Redis {
    const redis = new Redis(this.port, '127.0.0.1')
    redis.on('error', () => {})
    t.teardown(() => { redis.disconnect() })
    return redis
  }
}

/** The value of `field` in CLUSTER INFO (`cluster_state` → `ok`). */
async function clusterInfo (redis: Redis, field: string): Promise<string | undefined> {
  const info = await redis.cluster('INFO') as string
  return info.split('\r\n').find((line) => line.startsWith(`${field}:`))?.slice(field.length + 1)
}

/**
 * A Redis Cluster of the test's own: `size` masters without replicas, each a `RedisProcess`
 * with cluster mode on (its nodes.conf in its own directory, its bus on a free port too, since
 * port + 10000 may be taken or past 65535), joined by `redis-cli --cluster create`. Resolves
 * once every node reports `cluster_state:ok`; killed with `t`.
 */
export async function startRedisCluster (t: Test, size = 3): Promise<RedisProcess[]> {
  const servers = await Promise.all(Array.from({ length: size }, async () =>
    await RedisProcess.start(t, ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-port', String(await freePort())])))
  const create = spawnSync('redis-cli',
    ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], { timeout: 20_000 })
  if (create.status !== 0) throw new Error(`redis-cli --cluster create failed: ${String(create.stdout)}${String(create.stderr)}`)
  const connections = servers.map((server) => server.connection(t))
  await until(async () => (await Promise.all(connections.map((c) => clusterInfo(c, 'cluster_state')))).every((state) => state === 'ok'),
    START_TIMEOUT_MS, 'cluster_state:ok on every node')
  return servers
}

/** One figure of one line of INFO commandstats (`cmdstat_evalsha:calls=3,...`): 0 for a command never run. */
export async function commandStat (redis: Redis, command: string, figure: 'calls' | 'rejected_calls' | 'failed_calls'): Promise<number> {
  const info = await redis.info('commandstats')
  const line = info.split('\r\n').find((l) => l.startsWith(`cmdstat_${command}:`))
  const match = line?.match(new RegExp(`[:,]${figure}=(\\d+)`))
  return match === null || match === undefined ? 0 : Number(match[1])
}

interface Link {
  client: Socket
  server: Socket
  /** What the client sent so far (its first kilobytes), to tell its connections apart. */
  sent: string
  /** Redis's bytes held back from the client, while it is held. */
  held: Buffer[] | undefined
}

/**
 * A TCP proxy in front of a Redis, which can hold back what Redis sends on some of the
 * connections through it: a connection that is slow, not down (ioredis still counts it ready).
 * Closed, with every connection through it, when `t` ends.
 */
export class HoldingProxy {
  private readonly links = new Set<Link>()

  private constructor (private readonly server: Server, readonly port: number) {}

  static async start (t: Test, targetPort = 6379): Promise<HoldingProxy> {
    const port = await freePort()
    const proxy: HoldingProxy = new HoldingProxy(createServer((client) => proxy.link(client, targetPort)), port)
    await new Promise<void>((resolve) => proxy.server.listen(port, '127.0.0.1', resolve))
    t.teardown(() => proxy.close())
    return proxy
  }

  get url (): string {
    return `redis://127.0.0.1:${this.port}`
  }

  /** Holds back Redis's bytes on each connection whose commands so far match `sent`; how many it holds. */
  hold (sent: RegExp): number {
    const matching = [...this.links].filter((link) => sent.test(link.sent))
    for (const link of matching) link.held ??= []
    return matching.length
  }

  /** Closes each connection whose commands so far match `sent`, as a network failure would; how many. */
  cut (sent: RegExp): number {
    const matching = [...this.links].filter((link) => sent.test(link.sent))
    for (const link of matching) link.server.destroy()
    return matching.length
  }

  /** Lets every held connection have what Redis sent it meanwhile, and what comes next. */
  release (): void {
    for (const link of this.links) {
      const held = link.held ?? []
      link.held = undefined
      for (const chunk of held) link.client.write(chunk)
    }
  }

  private link (client: Socket, targetPort: number): void {
    const link: Link = { client, server: tcpConnect(targetPort, '127.0.0.1'), sent: '', held: undefined }
    this.links.add(link)
    client.on('data', (chunk: Buffer) => {
      if (link.sent.length < 4096) link.sent += chunk.toString('latin1')
      link.server.write(chunk)
    })
    link.server.on('data', (chunk: Buffer) => { if (link.held === undefined) client.write(chunk); else link.held.push(chunk) })
    const drop = (): void => {
      this.links.delete(link)
      client.destroy()
      link.server.destroy()
    }
    for (const socket of [client, link.server]) {
      socket.on('error', drop)
      socket.on('close', drop)
    }
  }

  private async close (): Promise<void> {
    for (const link of this.links) {
      link.client.destroy()
      link.server.destroy()
    }
    await new Promise((resolve) => this.server.close(resolve))
  }
}
