import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { Test } from 'tap'
import WebSocket from 'ws'
import hauyna, { type HauynaOptions, serverSchemas } from '../lib/index'
import { compileValidator } from '../lib/protocol/validator'

export type Frame = Record<string, any> & { type: string }

const serverValidators = new Map(Object.entries(serverSchemas).map(([type, schema]) => [type, compileValidator(schema)]))

/** Every frame the server sends must match the protocol's schema for its type. */
export function protocolViolation (frame: Frame): string | undefined {
  const validator = serverValidators.get(frame.type)
  if (validator === undefined) return `unknown server frame type ${JSON.stringify(frame.type)}`
  if (!validator.check(frame)) return `${frame.type}: ${JSON.stringify(validator.details(frame))}`
  return undefined
}

export interface Server {
  /** The app listening now (a new one after each `restart`). */
  readonly app: FastifyInstance
  readonly port: number
  readonly http: string
  url (query?: Record<string, string>, path?: string): string
  /** Closes the app (clients get 1001) and frees the port. */
  stop (): Promise<void>
  /** A fresh app, same options and setup, on the same port: a server restart as clients see it. */
  restart (): Promise<void>
}

/** Log lines written by a server, parsed: pass `sink.logger` as `startServer`'s logger. */
export class LogSink {
  readonly lines: Array<Record<string, any>> = []
  readonly logger: FastifyServerOptions['logger']

  constructor (level: string) {
    // pino writes one line per call to a stream's `write`.
    this.logger = { level, stream: { write: (line: string) => { this.lines.push(JSON.parse(line)) } } }
  }

  /** Lines whose message includes `text`, optionally at one pino level (30 info, 40 warn, 50 error). */
  matching (text: string, level?: number): Array<Record<string, any>> {
    return this.lines.filter((l) => String(l.msg).includes(text) && (level === undefined || l.level === level))
  }
}

/**
 * A real Fastify server with the plugin, listening on a random loopback port; closed when the
 * test ends. `restart` listens again on the same port.
 */
export async function startServer (
  t: Test,
  options: HauynaOptions = {},
  setup?: (app: FastifyInstance) => void | Promise<void>,
  logger: FastifyServerOptions['logger'] = { level: process.env.LOG_LEVEL ?? 'silent' }
): Promise<Server> {
  let app: FastifyInstance | undefined
  let port = 0
  async function listen (): Promise<void> {
    const next = Fastify({ logger })
    await next.register(hauyna, options)
    await setup?.(next)
    await next.listen({ port, host: '127.0.0.1' })
    const address = next.server.address()
    port = typeof address === 'object' && address !== null ? address.port : 0
    app = next
  }
  async function stop (): Promise<void> {
    const current = app
    app = undefined
    await current?.close()
  }
  await listen()
  t.teardown(stop)
  const defaultPath = options.path === false ? '/' : options.path ?? '/ws'
  return {
    get app () {
      if (app === undefined) throw new Error('the server is stopped')
      return app
    },
    get port () { return port },
    get http () { return `http://127.0.0.1:${port}` },
    url: (query = {}, path = defaultPath) =>
      `ws://127.0.0.1:${port}${path}${Object.keys(query).length > 0 ? '?' + new URLSearchParams(query).toString() : ''}`,
    stop,
    restart: listen
  }
}

let refCounter = 0

/**
 * `promise`, or a rejection naming `what` after `ms`: every wait in a test is bounded, so a
 * missing event fails that test with a message instead of tap's whole-file timeout.
 */
export function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Longest wait for an upgrade: above the slowest `authenticate` the tests hold on purpose. */
export const OPEN_WAIT_MS = 5000

/** Longest wait for a socket to close: above every `closeTimeout` the tests set, under tap's. */
export const CLOSE_WAIT_MS = 10_000

/** A real `ws` client that records frames and lets a test await them. */
export class Client {
  readonly frames: Frame[] = []
  violations: string[] = []
  private waiters: Array<{ match: (f: Frame) => boolean, resolve: (f: Frame) => void }> = []
  private cursor = 0
  private readonly closing: Promise<{ code: number, reason: string }>
  private readonly opening: Promise<void>

  constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => this.receive(JSON.parse(data.toString())))
    this.closing = new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })))
    this.opening = new Promise((resolve, reject) => {
      ws.once('open', () => resolve())
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { statusCode: res.statusCode })))
    })
    ws.on('error', () => {})
  }

  /** Resolves on open; rejects on a refused upgrade (with its `statusCode`) or after `OPEN_WAIT_MS`. */
  get opened (): Promise<void> {
    return within(this.opening, OPEN_WAIT_MS, 'the upgrade to complete')
  }

  /** The close code and reason; rejects if the socket is still open after `CLOSE_WAIT_MS`. */
  get closed (): Promise<{ code: number, reason: string }> {
    return within(this.closing, CLOSE_WAIT_MS, 'the socket to close')
  }

  private receive (frame: Frame): void {
    const violation = protocolViolation(frame)
    if (violation !== undefined) this.violations.push(violation)
    this.frames.push(frame)
    this.waiters = this.waiters.filter((w) => {
      if (!w.match(frame)) return true
      w.resolve(frame)
      return false
    })
  }

  send (message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message))
  }

  /** The next frame (after those already consumed) matching `match`. */
  next (match: ((f: Frame) => boolean) | string = () => true, timeout = 2000): Promise<Frame> {
    const test = typeof match === 'string' ? (f: Frame) => f.type === match : match
    for (let i = this.cursor; i < this.frames.length; i++) {
      if (test(this.frames[i])) {
        this.cursor = i + 1
        return Promise.resolve(this.frames[i])
      }
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for a frame; got ${JSON.stringify(this.frames.slice(this.cursor))}`)), timeout)
      this.waiters.push({
        match: test,
        resolve: (frame) => {
          clearTimeout(timer)
          this.cursor = this.frames.indexOf(frame) + 1
          resolve(frame)
        }
      })
    })
  }

  /** Sends with a fresh `ref` and resolves with the `ack` or `error` that answers it. */
  async request (message: Record<string, unknown>): Promise<Frame> {
    const ref = `r${++refCounter}`
    this.send({ ...message, ref })
    const reply = await this.next((f) => (f.type === 'ack' || f.type === 'error') && f.ref === ref)
    return reply
  }

  /**
   * A barrier: a heartbeat round trip. The server answers a connection's frames in order and
   * delivers on its own node synchronously, so once the answer is here, every frame caused by
   * something already acknowledged (to this or any client) is here too. Moves no cursor.
   */
  async settle (timeout = 2000): Promise<void> {
    const ref = `settle${++refCounter}`
    const answered = new Promise<void>((resolve) => {
      this.waiters.push({ match: (f) => f.type === 'ack' && f.ref === ref, resolve: () => resolve() })
    })
    this.send({ type: 'heartbeat', ref })
    await within(answered, timeout, `the answer to a settle heartbeat; got ${JSON.stringify(this.frames.slice(-5))}`)
  }

  /** How many frames received so far match. */
  count (match: ((f: Frame) => boolean) | string): number {
    const test = typeof match === 'string' ? (f: Frame) => f.type === match : match
    return this.frames.filter(test).length
  }

  /**
   * The one frame matching `match`: waits for it, settles, and fails if another matching
   * frame came too (the protocol's "exactly once").
   */
  async once (match: ((f: Frame) => boolean) | string, what = String(match)): Promise<Frame> {
    const test = typeof match === 'string' ? (f: Frame) => f.type === match : match
    await until(() => this.count(test) > 0, 2000, what)
    await this.settle()
    const matching = this.frames.filter(test)
    if (matching.length !== 1) throw new Error(`expected exactly one ${what}, got ${matching.length}: ${JSON.stringify(matching)}`)
    return matching[0]
  }

  /** Frames of a type received so far. */
  all (type: string): Frame[] {
    return this.frames.filter((f) => f.type === type)
  }

  close (): Promise<{ code: number, reason: string }> {
    this.ws.close()
    return this.closed
  }
}

/** Opens a client and waits for its `connected` frame. */
export async function connect (url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const client = new Client(new WebSocket(url, options))
  await client.opened
  await client.next('connected')
  return client
}

/** Opens a client without waiting for `connected` (refusals, raw protocol tests). */
export async function open (url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const client = new Client(new WebSocket(url, options))
  await client.opened
  return client
}

/**
 * CI runs must not skip: any non-empty `CI` (GitHub sets `true`, others `1` or a name) turns a
 * missing dependency (Chromium, Redis) into a failure instead of a loud skip.
 */
export const IN_CI = (process.env.CI ?? '') !== ''

export function delay (ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Polls until `condition` holds, failing after `timeout` ms. */
export async function until (condition: () => boolean | Promise<boolean>, timeout = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeout
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(5)
  }
}

/** `error` is HAUYNA_INVALID_OPTION and its message names the option `name`. */
export function expectInvalidOption (t: Test, what: string, error: (Error & { code?: string }) | undefined, name: string): void {
  t.equal(error?.code, 'HAUYNA_INVALID_OPTION', `${what}: code`)
  t.ok(error?.message.includes(`"${name}"`), `${what}: names ${name} (${error?.message})`)
}

/** Each case's options must reject `register` with HAUYNA_INVALID_OPTION naming the option. */
export async function expectInvalidOptions (t: Test, cases: Array<[string, unknown, string]>): Promise<void> {
  for (const [what, options, name] of cases) {
    const app = Fastify({ logger: false })
    const error = await app.register(hauyna, options as HauynaOptions).ready().then(() => undefined, (e: Error & { code?: string }) => e)
    await app.close().catch(() => {})
    expectInvalidOption(t, what, error, name)
  }
}

export interface Refusal { status: number, body: Record<string, unknown>, retryAfter?: string }

/**
 * Attempts an upgrade that the server must refuse over HTTP: resolves with the status
 * and JSON body of the response ('unexpected-response'); fails if a socket opens.
 */
export function refusal (url: string, headers: Record<string, string> = {}): Promise<Refusal> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers })
    const timer = setTimeout(() => { ws.terminate(); reject(new Error('no response to the upgrade')) }, 3000)
    ws.on('error', () => {})
    ws.once('open', () => {
      clearTimeout(timer)
      ws.terminate()
      reject(new Error('the upgrade was accepted'))
    })
    ws.once('unexpected-response', (req, res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { text += chunk })
      res.on('end', () => {
        clearTimeout(timer)
        req.destroy()
        let body: Record<string, unknown> = {}
        try { body = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, body, retryAfter: res.headers['retry-after'] })
      })
    })
  })
}
