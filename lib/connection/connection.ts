import type { FastifyRequest } from 'fastify'
import type { IncomingHttpHeaders } from 'node:http'
import type { WebSocket } from 'ws'
import { errors } from '../errors'
import { CloseCode, isValidCloseCode } from '../protocol/codes'
import { encodeMessage } from '../protocol/codec'
import { checkMeta } from '../protocol/names'
import { type HeldFrame, OutgoingFrame } from '../transport/outgoing-frame'
import type { StreamPosition } from '../adapters/adapter'
import { releaseWrites, writeFrame, writePing } from '../transport/socket-writer'
import { Inbox } from './inbox'
import type { ByteBudget, ConnectionLimits } from './limits'
import { LogThrottle } from './log-throttle'
import { TokenBucket } from './rate-limiter'
import { canTransition, ConnectionState } from './state'

/** Who a connection belongs to, as resolved before or at the upgrade. */
export interface Identity {
  id: string
  groups?: Array<string | { name: string, role?: string }>
  meta?: Record<string, unknown>
}

/** Resolves the identity of an upgrade request before the upgrade; throw or return nothing to refuse. */
export type Authenticate = (request: FastifyRequest) => Identity | null | undefined | Promise<Identity | null | undefined>

type OneOrMany<T> = T | readonly T[]

/** Channels a connection is subscribed to as it connects, fixed or chosen from its context. */
export type AutoSubscribe = OneOrMany<string> | ((connection: Connection) => OneOrMany<string> | Promise<OneOrMany<string>>)

/** An endpoint as its connections see it: resolved once and shared by all of them. */
export interface Endpoint {
  readonly path: string
  readonly authenticate: Authenticate | undefined
  readonly allowAnonymous: boolean
  /** Accepted message types; `undefined` accepts every type. */
  readonly messages: ReadonlySet<string> | undefined
  readonly subscribe: AutoSubscribe | undefined
  /** Runs before the `connect` handlers, and may return `STOP` to skip them for this connection. */
  readonly onConnect: ((connection: Connection) => unknown) | undefined
  /** Runs before the `disconnect` handlers, and may return `STOP` to skip them. */
  readonly onDisconnect: ((connection: Connection, info: { code: number, reason: string }) => unknown) | undefined
  /** Open connections on this node. */
  connections: number
}

/** What a connection keeps of its upgrade request: small plain values, never the request. */
export interface ConnectionContext {
  /** The endpoint the connection upgraded on. */
  endpoint: Endpoint
  params: Readonly<Record<string, string>>
  query: Readonly<Record<string, unknown>>
  /** The request headers minus credentials and handshake mechanics (see `hiddenHeaders`). */
  headers: Readonly<IncomingHttpHeaders>
  ip: string
}

/** Per-subscription options of a channel subscription. */
export interface ChannelSubscription {
  meta: Record<string, unknown>
  echo: boolean
  since: number
  /** History channels: messages waiting while the subscribe is answered (see the topic hub). @internal */
  held?: HeldFrame[]
  /** History channels: the subscriber has every message up to here. @internal */
  floor?: StreamPosition
}

/**
 * What a connection reports to the node that holds it, and what it asks of it. Declared here,
 * implemented by the session layer above: a connection never sees services or the node.
 */
export interface ConnectionHost {
  readonly limits: ConnectionLimits
  readonly inboxBudget: ByteBudget
  /** A frame's turn came (after the rate limit and the inbox); a promise while a handler runs. */
  handle (conn: Connection, data: Buffer, isBinary: boolean): Promise<void> | undefined
  /** A message written to this connection only (a reply, `connected`, an error). */
  sent (message: object, text: string): void
  /** The send buffer went over `maxBufferedBytes`. */
  slowConsumer (conn: Connection): void
  /** A frame refused by the rate limit or a full inbox; `frame` is absent for a ping or pong. */
  rateLimited (conn: Connection, persistent: boolean, frame?: { data: Buffer, isBinary: boolean }): void
  stateChanged (conn: Connection, from: ConnectionState, to: ConnectionState): void
  /** A pong answered one of the heartbeat's pings after `ms`. */
  pong (conn: Connection, ms: number): void
  /** The socket closed. */
  closed (conn: Connection, code: number, reason: string): void
  /** A socket error; `peerViolation` when the peer broke the WebSocket protocol (ws closed it already). */
  socketError (conn: Connection, error: Error, peerViolation: boolean): void
}

const OPEN = 1
// Most connections belong to no group: they share this one instead of an empty set each.
const NO_GROUPS: ReadonlySet<string> = new Set()

/**
 * One WebSocket connection as handlers see it. Kept deliberately small: no per-connection
 * closures or timers; the socket's listeners are shared functions that find it by symbol.
 */
export class Connection {
  readonly id: string
  readonly userId: string
  meta: Record<string, unknown>
  /** The settings of the endpoint this connection upgraded on (`endpoint` is its path). @internal */
  readonly endpointConfig: Endpoint
  readonly params: ConnectionContext['params']
  readonly query: ConnectionContext['query']
  /** Upgrade request headers without credentials (authorization, cookie, websocket key…) or handshake mechanics. */
  readonly headers: ConnectionContext['headers']
  readonly ip: string
  state: ConnectionState = ConnectionState.Connected
  stateSince: number
  readonly connectedAt: number
  /** Last message, or pong answering one of our pings: liveness for the heartbeat. */
  lastSeen: number
  /** Last frame: the idle timer. */
  lastActivity: number
  /** Channel subscriptions of this connection, by channel name. */
  readonly subscriptions = new Map<string, ChannelSubscription>()

  private groupSet: Set<string> | undefined
  private readonly bucket: TokenBucket | undefined
  /** Resolves when connection setup has finished, so cleanup never races it. @internal */
  setup: Promise<void> = Promise.resolve()
  private inbox: Inbox | undefined
  private logThrottle: LogThrottle | undefined
  /** `true` until setup finishes and while an async handler runs: arrivals wait in the inbox. */
  private busy = true
  private closing = false

  /** @internal */
  constructor (
    readonly socket: WebSocket,
    identity: Identity,
    id: string,
    /** @internal */
    readonly host: ConnectionHost,
    context: ConnectionContext
  ) {
    const now = Date.now()
    this.id = id
    this.userId = identity.id
    // A copy: `authenticate` may hand every connection of a user the same meta object.
    this.meta = { ...identity.meta }
    this.endpointConfig = context.endpoint
    this.params = context.params
    this.query = context.query
    this.headers = context.headers
    this.ip = context.ip
    this.connectedAt = this.stateSince = this.lastSeen = this.lastActivity = now
    const rateLimit = host.limits.rateLimit
    this.bucket = rateLimit === false ? undefined : new TokenBucket(rateLimit, now)
  }

  /** The path of the endpoint this connection upgraded on, e.g. `/chat/:room`. */
  get endpoint (): string {
    return this.endpointConfig.path
  }

  /** Groups this connection receives messages for (its user's memberships). */
  get groups (): ReadonlySet<string> {
    return this.groupSet ?? NO_GROUPS
  }

  /** Returns `false` when the connection already had the group. @internal */
  addGroup (group: string): boolean {
    if (this.groupSet?.has(group) === true) return false
    ;(this.groupSet ??= new Set()).add(group)
    return true
  }

  /** Returns `false` when the connection did not have the group. @internal */
  removeGroup (group: string): boolean {
    return this.groupSet?.delete(group) === true
  }

  get isOpen (): boolean {
    return !this.closing && this.socket.readyState === OPEN
  }

  /**
   * Sets (or, with `undefined`, deletes) one meta key. The whole meta must stay a plain JSON
   * object within `maxMetaBytes`, since it is shown in `connections.get()` and stats.
   */
  setMeta (key: string, value: unknown): this {
    if (value === undefined) {
      delete this.meta[key]
      return this
    }
    checkMeta('connection meta', { ...this.meta, [key]: value }, this.host.limits.maxMetaBytes)
    this.meta[key] = value
    return this
  }

  /** Sends any JSON-serializable message to this connection only. */
  send (message: object): boolean {
    return this.write(message, encodeMessage(this.host.limits.codec, message))
  }

  /** `send`, with the message's JSON built already by the caller; a codec still translates the message itself. @internal */
  sendJson (message: object, json: string): boolean {
    const codec = this.host.limits.codec
    return this.write(message, codec?.encode === undefined ? json : encodeMessage(codec, message))
  }

  private write (message: object, text: string | undefined): boolean {
    if (text === undefined || !this.deliver(new OutgoingFrame(text))) return false
    this.host.sent(message, text)
    return true
  }

  /** Writes a pre-encoded frame; closes the connection (1008) when it stops reading. @internal */
  deliver (frame: OutgoingFrame): boolean {
    if (this.closing || this.socket.readyState !== OPEN) return false
    if (this.bufferedAmount > this.host.limits.maxBufferedBytes) {
      this.host.slowConsumer(this)
      return false
    }
    writeFrame(this.socket, frame)
    return true
  }

  /** From now on nothing the peer sends is handled: frames still arriving or waiting are dropped. */
  close (code: number = CloseCode.Normal, reason = ''): void {
    if (!isValidCloseCode(code)) throw new errors.InvalidCloseCode(code)
    if (this.closing) return
    this.closing = true
    this.inbox?.clear()
    this.socket.close(code, reason)
  }

  /**
   * Closes a connection that broke a rule or stopped answering: it stops being read at once
   * (a flooding peer costs no more CPU), and is dropped after `closeTimeout` rather than
   * `ws`'s 30 s wait for the peer's close frame, which would no longer be read. @internal
   */
  closeAndTerminate (code: number, reason: string): void {
    this.close(code, reason)
    const socket = this.socket
    socket.pause()
    setTimeout(() => socket.terminate(), this.host.limits.closeTimeout).unref()
  }

  /** Drops the socket at once, without a closing handshake (shutdown's last step). @internal */
  terminate (): void {
    this.socket.terminate()
  }

  /** A heartbeat ping, pre-built for every socket of a sweep (`frame`) or sent by `ws` (`payload`). @internal */
  ping (frame: Buffer, payload: Buffer): void {
    writePing(this.socket, frame, payload)
  }

  /** Setup is over: the frames written meanwhile leave in one packet. @internal */
  releaseWrites (): void {
    releaseWrites(this.socket)
  }

  /** Bytes written to the socket and not yet sent to the peer. @internal */
  get bufferedAmount (): number {
    return this.socket.bufferedAmount
  }

  /** Whether a log line about this connection may be written (see `LogThrottle`). @internal */
  admitLog (now: number): number | undefined {
    return (this.logThrottle ??= new LogThrottle()).admit(now)
  }

  /** Log lines about this connection that were dropped and not yet reported. @internal */
  get droppedLogLines (): number {
    return this.logThrottle?.pending ?? 0
  }

  transition (to: ConnectionState): void {
    const from = this.state
    if (from === to) return
    if (!canTransition(from, to)) throw new errors.InvalidStateTransition(this.id, from, to)
    this.state = to
    this.stateSince = Date.now()
    this.host.stateChanged(this, from, to)
  }

  /** Every inbound frame: rate limit on arrival, then strictly in order through the dispatcher. @internal */
  receive (data: Buffer, isBinary: boolean): void {
    if (this.closing) return
    const now = this.lastSeen = this.lastActivity = Date.now()
    if (this.state === ConnectionState.Idle) this.transition(ConnectionState.Connected)
    if (this.bucket !== undefined && !this.bucket.take(now)) {
      this.host.rateLimited(this, this.bucket.persistentlyExceeded, { data, isBinary })
      return
    }
    if (this.busy) {
      this.enqueue(data, isBinary)
      return
    }
    this.process(data, isBinary)
  }

  /**
   * A ping or pong from the client takes a token like a message, or is dropped (`false`):
   * control frames are otherwise free to send and would cost the server unmetered CPU. @internal
   */
  admitControl (): boolean {
    if (this.closing) return false
    if (this.bucket === undefined || this.bucket.take(Date.now())) return true
    // No error frame for a dropped control frame: a flood would be answered with one.
    this.host.rateLimited(this, this.bucket.persistentlyExceeded)
    return false
  }

  /** Setup finished: handle whatever arrived meanwhile. @internal */
  ready (): void {
    this.resume()
  }

  private enqueue (data: Buffer, isBinary: boolean): void {
    this.inbox ??= new Inbox(this.host.limits.inbox, this.host.inboxBudget)
    if (!this.inbox.push(data, isBinary)) this.host.rateLimited(this, false, { data, isBinary })
  }

  private process (data: Buffer, isBinary: boolean): void {
    const pending = this.host.handle(this, data, isBinary)
    if (pending !== undefined) {
      this.busy = true
      pending.then(() => this.resume(), () => this.resume())
    }
  }

  private resume (): void {
    this.busy = false
    const inbox = this.inbox
    while (inbox !== undefined && inbox.size > 0 && !this.busy && !this.closing) {
      const [data, isBinary] = inbox.shift() as [Buffer, boolean]
      this.process(data, isBinary)
    }
  }
}
