// The processes a scenario attacks: stress servers (stress/server.ts under tsx) and a private
// redis-server, each started on loopback, stopped by its own pid, and waited for.
import { type ChildProcess, execFileSync, fork, spawn } from 'node:child_process'
import http from 'node:http'
import net from 'node:net'
import { availableParallelism } from 'node:os'
import path from 'node:path'
import type { Probe, ServerConfig } from './config'
import { withTimeout } from './measure'

export interface StressServer {
  port: number
  pid: number
  child: ChildProcess
  /** GET /stress/probe; `gc` collects garbage first, `reset` restarts the event-loop delay record. */
  probe (flags?: { gc?: boolean, reset?: boolean, timeout?: number }): Promise<Probe>
  /** GET `path` as JSON (e.g. /ws/stats), failing after `timeout` ms (10 s). */
  get<T = any> (path: string, timeout?: number): Promise<T>
  stop (): Promise<void>
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 4 })

/** One GET on loopback, answered with its status and body; rejects after `timeout` ms. */
export function httpGet (port: number, path: string, timeout = 10_000): Promise<{ status: number, body: string }> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent, timeout }, (response) => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', (chunk: string) => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body }))
    })
    request.on('timeout', () => request.destroy(new Error(`GET ${path} timed out after ${timeout} ms`)))
    request.on('error', reject)
  })
}

/** The hard descriptor limit, which `raiseFdLimit` gives as the soft limit too. */
export function hardFdLimit (): number {
  return Number(execFileSync('sh', ['-c', 'ulimit -Hn']).toString().trim())
}

/** Raises a running process's soft descriptor limit to the hard one (util-linux prlimit). */
export function raiseFdLimit (pid: number): number {
  const hard = hardFdLimit()
  execFileSync('prlimit', ['--pid', String(pid), `--nofile=${hard}:${hard}`])
  return hard
}

/**
 * With two cores or more, the server gets core 0 to itself and the harness (this process and
 * its attackers) the rest, as in the benchmark: otherwise the harness's own work shows up as
 * the server's stalls. Does nothing where taskset is missing.
 */
function pinServer (pid: number): void {
  const cores = availableParallelism()
  if (cores < 2) return
  try {
    execFileSync('taskset', ['-a', '-p', '-c', '0', String(pid)], { stdio: 'ignore' })
    execFileSync('taskset', ['-a', '-p', '-c', `1-${cores - 1}`, String(process.pid)], { stdio: 'ignore' })
  } catch {}
}

/** Starts a stress server and resolves once it listens (or rejects after 30 s). */
export async function startServer (config: ServerConfig, { fdLimit = false } = {}): Promise<StressServer> {
  const child = fork(path.join(__dirname, 'server.ts'), [JSON.stringify(config)], {
    execArgv: ['--import', 'tsx', '--expose-gc', ...(process.env.STRESS_SERVER_FLAGS ?? '').split(' ').filter(Boolean)],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc']
  })
  const listening = new Promise<number>((resolve, reject) => {
    child.once('message', (msg: { port: number }) => resolve(msg.port))
    child.once('exit', (code) => reject(new Error(`stress server exited (${code}) before listening`)))
  })
  const port = await withTimeout(listening, 30_000, 'stress server did not listen within 30 s')
  if (fdLimit) raiseFdLimit(child.pid as number)
  pinServer(child.pid as number)
  const get = async (route: string, timeout?: number): Promise<any> => {
    const { status, body } = await httpGet(port, route, timeout)
    if (status !== 200 && status !== 503) throw new Error(`GET ${route}: HTTP ${status}`)
    return JSON.parse(body)
  }
  return {
    port,
    pid: child.pid as number,
    child,
    get,
    probe: ({ gc = false, reset = false, timeout } = {}) => get(`/stress/probe?${gc ? 'gc=1&' : ''}${reset ? 'reset=1' : ''}`, timeout),
    stop: () => stopChild(child, () => child.send({ type: 'stop' }))
  }
}

/** Asks a child to stop (or SIGTERMs it), SIGKILLs it after 5 s, and resolves once it exited. */
export function stopChild (child: ChildProcess, ask: () => void = () => child.kill('SIGTERM')): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000)
    child.once('exit', () => { clearTimeout(timer); resolve() })
    try { ask() } catch { child.kill('SIGKILL') }
  })
}

/** A loopback port free right now (the kernel's choice for port 0). */
export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

/** A throwaway redis-server on `port`: loopback only, no persistence. Resolves once it accepts connections. */
export async function startRedis (port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited (${child.exitCode})`)
    if (await accepts(port)) return child
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  await stopChild(child)
  throw new Error(`redis-server on port ${port} not up within 10 s`)
}

function accepts (port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => { socket.destroy(); resolve(true) })
    socket.once('error', () => resolve(false))
  })
}
