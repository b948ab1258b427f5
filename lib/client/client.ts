import { neverOpenedError, terminalError, type VerdictContext } from './close-verdict'
import { type ConnectTarget, resolveTarget, type TargetSources } from './connect-target'
import { Emitter } from './emitter'
import { ClientErrorCode, HauynaError } from './errors'
import { ClientHeartbeat, heartbeatSettings } from './heartbeat'
import { OutgoingQueue } from './outgoing-queue'
import { type AnswerFrame, type PendingRequest, PendingRequests } from './pending-requests'
import { checkSince, subscribedAt } from './recovery'
import { reconnectDelay, resolveRetryPolicy, type RetryPolicy } from './retry-policy'
import { SessionResume } from './session-resume'
import { type ChannelHandler, type Subscription, Subscriptions } from './subscriptions'
import { type CloseInfo, openSocket, resolveWebSocket, type SocketHandle } from './transport'
import type {
  AppMessages, AppPayload, ChannelMessage, ClientEvents, ClientHealth, ClientOptions, ClientState, ClientStatus,
  ConnectedFrame, Delivery, HeartbeatSettings, OutgoingMessage, PerConnect, ReconnectFrame, RequestOptions, StopOptions, StopResult,
  StreamPosition, SubscribedFrame, UnsubscribedFrame, SubscribeOptions, Unsubscribe, WebSocketConstructor
} from './types'

const DEFAULT_STOP_TIMEOUT = 5000

interface Frame { type: string, [field: string]: unknown }

function noop (): void {}

function messageOf (error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

function stoppedError (): HauynaError {
  return new HauynaError(ClientErrorCode.Stopped, 'the client was stopped')
}

function parseFrame (data: unknown): Frame | undefined {
  try {
    const frame = JSON.parse(String(data)) as unknown
    if (frame !== null && typeof frame === 'object' && typeof (frame as Frame).type === 'string') return frame as Frame
  } catch {
    // Reported by the caller like any other malformed frame.
  }
  return undefined
}

/** Resolves with `promise`'s value, or with `fallback` once `ms` have passed. */
function within<T> (promise: Promise<T>, ms: number, fallback: T): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const expired = new Promise<T>((resolve) => { timer = setTimeout(() => resolve(fallback), Math.max(0, ms)) })
  return Promise.race([promise, expired]).finally(() => clearTimeout(timer))
}

/** A request's own copy of the error that ended the client, with its ref and whether it was sent. */
function requestError (cause: HauynaError, request: PendingRequest): HauynaError {
  return new HauynaError(cause.code, cause.message, {
    ref: request.ref, sent: request.sent, closeCode: cause.closeCode, status: cause.status
  })
}

/**
 * The fastify-hauyna client for browsers and Node: speaks PROTOCOL.md, reconnects with
 * backoff, re-subscribes, queues while not open, detects dead sockets by heartbeat, and
 * answers every request with a promise settled by the server's `ack` or `error`.
 *
 * `M` names the app's message types by their TypeBox schemas, so `send` is typed from the
 * same schemas the server declares with `app.events.on(type, { schema }, …)`.
 */
export class HauynaClient<M extends AppMessages = Record<never, never>> {
  private readonly emitter = new Emitter<ClientEvents>((error, event) => this.listenerFailed(error, event))
  private readonly policy: RetryPolicy
  private readonly queue: OutgoingQueue<PendingRequest>
  private readonly requests = new PendingRequests((request) => this.queue.remove(request))
  private readonly subs = new Subscriptions((error, channel) => this.handlerFailed(error, 'subscription', channel))
  private readonly heartbeat = new ClientHeartbeat((ts) => this.write({ type: 'heartbeat', ts }), () => this.heartbeatDead())
  private readonly WebSocketImpl: WebSocketConstructor
  private readonly target: TargetSources
  private readonly requestTimeout: number
  private readonly connectTimeout: number
  private readonly heartbeatOption: ClientOptions['heartbeat']
  private readonly retryBeforeFirstOpen: boolean

  private socket: SocketHandle | undefined
  private current: ClientState = 'closed'
  private started = false
  private stopping = false
  private stopPromise: Promise<StopResult> | undefined
  /** Closed for good (stopped or failed): sends reject until `start()`. */
  private refused = false
  private retries = 0
  private exhausted = false
  private everOpened = false
  private retryTimer: ReturnType<typeof setTimeout> | undefined
  private connectTimer: ReturnType<typeof setTimeout> | undefined
  /** The app's functions have not answered yet for the current attempt. */
  private pendingTarget: Promise<ConnectTarget> | undefined
  private connectedFrame: ConnectedFrame | undefined
  /**
   * The server said it drains (`reconnect`): the close that follows is answered with an attempt
   * at once, without backoff, since the load balancer sends it to another server.
   */
  private handedOff = false
  /** Whether a reconnect takes the dropped connection's session over (when the server offers it). */
  private readonly resumeSessions: boolean
  private resuming: SessionResume | undefined
  private heartbeatTimeout: number | undefined
  private openedAt: number | undefined
  private lastMessageAt: number | undefined
  private lastPresence: OutgoingMessage | undefined
  private lastError: HauynaError | undefined
  private lastUnsent = 0
  private refCounter = 0

  /**
   * `url` is where to connect (absolute when `options.params` are given), or a function giving
   * it before every connection attempt, as `params`, `protocols` and `webSocketOptions` may be.
   */
  constructor (readonly url: PerConnect<string>, options: ClientOptions = {}) {
    this.WebSocketImpl = resolveWebSocket(options.WebSocket)
    this.target = { url, params: options.params, protocols: options.protocols, options: options.webSocketOptions }
    this.policy = resolveRetryPolicy(options.retry)
    this.queue = new OutgoingQueue(options.maxQueueSize ?? 1000, options.overflowStrategy ?? 'drop_oldest')
    this.requestTimeout = options.requestTimeout ?? 10_000
    this.connectTimeout = options.connectTimeout ?? 10_000
    this.heartbeatOption = options.heartbeat
    this.retryBeforeFirstOpen = options.retryBeforeFirstOpen ?? true
    this.resumeSessions = options.resume ?? true
  }

  get state (): ClientState {
    return this.current
  }

  /** The server's id for the current (or last) connection. */
  get connectionId (): string | undefined {
    return this.connectedFrame?.connectionId
  }

  /** The identity the server resolved for this client. */
  get userId (): string | undefined {
    return this.connectedFrame?.userId
  }

  on<K extends keyof ClientEvents> (event: K, listener: ClientEvents[K]): () => void {
    return this.emitter.on(event, listener)
  }

  once<K extends keyof ClientEvents> (event: K, listener: ClientEvents[K]): () => void {
    return this.emitter.once(event, listener)
  }

  off<K extends keyof ClientEvents> (event: K, listener: ClientEvents[K]): void {
    this.emitter.off(event, listener)
  }

  /**
   * Connects (and keeps reconnecting under the retry policy). Resolves once open; rejects
   * when the client closes for good first. Listening to it is optional: an unawaited
   * rejection is not reported as unhandled.
   */
  start (): Promise<void> {
    if (this.started) return this.whenOpen()
    this.started = true
    this.refused = this.stopping = this.exhausted = false
    this.retries = 0
    this.lastError = undefined
    this.setState('connecting')
    const opened = this.whenOpen()
    this.connect()
    return opened
  }

  /**
   * Graceful shutdown: waits (up to `timeout`) for an open connection, so the queue is
   * flushed, then sends `disconnect` — the server answers it after every earlier frame —
   * and closes with 1000. Whatever could not be sent in time is rejected with `stopped`.
   */
  stop (options: StopOptions = {}): Promise<StopResult> {
    this.stopPromise ??= this.shutdown(options.timeout ?? DEFAULT_STOP_TIMEOUT)
      .finally(() => { this.stopPromise = undefined })
    return this.stopPromise
  }

  /**
   * Subscribes `handler` to `channel`, now and after every reconnect (resuming, on a channel
   * that keeps history, after the last message delivered). The returned function removes the
   * handler (and leaves the channel with its last handler).
   */
  subscribe<T = unknown> (
    channel: string,
    handler: (message: ChannelMessage<T>, delivery: Delivery) => void,
    options: SubscribeOptions & RequestOptions = {}
  ): Unsubscribe {
    const { timeout, ...subscribeOptions } = options
    // Fails here, synchronously, rather than on every resubscribe after a reconnect.
    JSON.stringify(subscribeOptions.meta)
    checkSince(subscribeOptions.since)
    const { sub, send, created } = this.subs.add(channel, handler as ChannelHandler, subscribeOptions)
    if (send && this.current === 'open') this.sendSubscribe(sub, timeout, created)
    const unsubscribe = (): Promise<void> => this.unsubscribe(channel, handler as ChannelHandler, timeout)
    return Object.assign(unsubscribe, { subscribed: sub.subscribed })
  }

  /**
   * Where the app stands in `channel`'s stream: the last message delivered (or where the
   * subscription started). Saved, it can be given back as `subscribe`'s `since`. `undefined`
   * when the channel keeps no history or is not subscribed.
   */
  position (channel: string): StreamPosition | undefined {
    return this.subs.position(channel)
  }

  /** Publishes to a channel this client is subscribed to (unless the channel's policy allows otherwise). */
  publish (channel: string, data: unknown, options?: RequestOptions): Promise<void> {
    return this.ask({ type: 'publish', channel, data }, options)
  }

  /** A message to every connection of user `to`. */
  direct (to: string, data: unknown, options?: RequestOptions): Promise<void> {
    return this.ask({ type: 'direct', to, data }, options)
  }

  /** A message to every member of `group` (the sender must be one, unless the server allows it). */
  group (group: string, data: unknown, options?: RequestOptions): Promise<void> {
    return this.ask({ type: 'group', group, data }, options)
  }

  /** A message to every connection (refused unless the server's policy allows it). */
  broadcast (data: unknown, options?: RequestOptions): Promise<void> {
    return this.ask({ type: 'broadcast', data }, options)
  }

  /** Updates this user's presence; the last one sent is restored after a reconnect. */
  presence (status?: string, meta?: Record<string, unknown>, options?: RequestOptions): Promise<void> {
    return this.ask({ type: 'presence', status, meta }, options)
  }

  /** An app message type, typed from its TypeBox schema when the client was given `M`. */
  send<K extends keyof M & string> (type: K, payload: AppPayload<M[K]>, options?: RequestOptions): Promise<void>
  send<T extends string> (type: T extends keyof M ? never : T, payload?: Record<string, unknown>, options?: RequestOptions): Promise<void>
  send (type: string, payload: object = {}, options?: RequestOptions): Promise<void> {
    return this.ask({ ...payload, type }, options)
  }

  status (): ClientStatus {
    return {
      state: this.current,
      connected: this.current === 'open',
      started: this.started,
      stopping: this.stopping,
      retryCount: this.retries,
      maxRetriesReached: this.exhausted,
      queueSize: this.queue.size,
      pendingRequests: this.requests.size,
      subscriptions: this.subs.channels(),
      connectionId: this.connectionId,
      userId: this.userId
    }
  }

  health (): ClientHealth {
    const open = this.current === 'open'
    const silence = this.lastMessageAt === undefined ? Infinity : Date.now() - this.lastMessageAt
    return {
      healthy: open && (this.heartbeatTimeout === undefined || silence <= this.heartbeatTimeout),
      state: this.current,
      lastMessageAt: this.lastMessageAt,
      rtt: this.heartbeat.rtt,
      openSince: open ? this.openedAt : undefined
    }
  }

  // ── requests ────────────────────────────────────────────────────────────────────────

  private ask (fields: OutgoingMessage, options?: RequestOptions): Promise<void> {
    return this.request(fields, options).then(noop)
  }

  /** Sends now when open, else queues; settles with the frame answering its ref. */
  private request (fields: OutgoingMessage, options: RequestOptions = {}): Promise<AnswerFrame> {
    if (this.refused) {
      return Promise.reject(new HauynaError(ClientErrorCode.Closed, 'the client is closed; call start() to connect again'))
    }
    let pending: ReturnType<PendingRequests['create']>
    try {
      pending = this.requests.create({ ...fields, ref: this.nextRef() }, options.timeout ?? this.requestTimeout)
    } catch (error) {
      return Promise.reject(error)
    }
    if (this.current !== 'open' || !this.transmit(pending.request)) this.enqueue(pending.request)
    return pending.promise
  }

  /** Sends on the current socket without queueing (subscribe, unsubscribe, disconnect): their fields always serialize. */
  private requestNow (fields: OutgoingMessage, timeout = this.requestTimeout, answered?: (frame: AnswerFrame) => void): Promise<AnswerFrame> {
    const { request, promise } = this.requests.create({ ...fields, ref: this.nextRef() }, timeout, answered)
    if (!this.transmit(request)) {
      request.reject(new HauynaError(ClientErrorCode.ConnectionLost, 'the connection closed before the message was sent',
        { ref: request.ref, sent: false }))
    }
    return promise
  }

  private nextRef (): string {
    return `c${++this.refCounter}`
  }

  private transmit (request: PendingRequest): boolean {
    if (this.socket?.send(request.text) !== true) return false
    request.sent = true
    if (request.message.type === 'presence') this.lastPresence = { ...request.message, ref: undefined }
    return true
  }

  private write (message: OutgoingMessage): void {
    this.socket?.send(JSON.stringify(message))
  }

  private enqueue (request: PendingRequest): void {
    const dropped = this.queue.push(request)
    if (dropped === undefined) return
    this.emitter.emit('dropped', { message: dropped.message, reason: 'overflow' })
    dropped.reject(new HauynaError(ClientErrorCode.Dropped,
      `the outgoing queue is full (${this.queue.maxSize}, ${this.queue.strategy})`, { ref: dropped.ref, sent: false }))
  }

  /** Writes the queue in order; stops, keeping the rest, if the socket stops taking frames. */
  private flush (): void {
    for (let next = this.queue.peek(); next !== undefined; next = this.queue.peek()) {
      if (!this.transmit(next)) return
      this.queue.shift()
    }
  }

  // ── subscriptions ───────────────────────────────────────────────────────────────────

  /**
   * `resume`: the server has not got this subscription (a new connection, a new channel), so it
   * asks for what came after its position. An update of meta or echo does not: nothing was missed.
   */
  private sendSubscribe (sub: Subscription, timeout?: number, resume = true): void {
    const { meta, echo } = sub.options
    const since = resume ? sub.stream.position : undefined
    this.requestNow({ type: 'subscribe', channel: sub.channel, meta, echo, since }, timeout,
      (frame) => this.subscribed(sub, frame as SubscribedFrame, since)
    ).catch((error: HauynaError) => this.subscribeFailed(sub, error))
  }

  /** Before the frames that follow it: the replay, then live messages, come after this position. */
  private subscribed (sub: Subscription, frame: SubscribedFrame, since: StreamPosition | undefined): void {
    if (!sub.settled) sub.confirm(frame)
    const current = this.subs.has(sub)
    if (current) subscribedAt(sub.stream, frame)
    this.emitter.emit('subscribed', frame)
    // A server that ignores `since` answers without `recovered`: nothing was replayed either.
    if (current && since !== undefined) {
      const { offset, epoch } = frame
      this.emitter.emit('recovery', { channel: sub.channel, recovered: frame.recovered === true, since, offset, epoch })
    }
  }

  private subscribeFailed (sub: Subscription, error: HauynaError): void {
    // A lost connection is not a refusal: the subscription goes again with the next one.
    if (error.code === ClientErrorCode.ConnectionLost || !this.subs.has(sub)) return
    if (error.code !== ClientErrorCode.Timeout) this.subs.drop(sub)
    const failure = new HauynaError(error.code, `subscribe to "${sub.channel}" failed: ${error.message}`,
      { ref: error.ref, details: error.details, channel: sub.channel, sent: error.sent })
    if (!sub.settled) sub.refuse(failure)
    this.emitError(failure)
  }

  private async unsubscribe (channel: string, handler: ChannelHandler, timeout?: number): Promise<void> {
    if (!this.subs.remove(channel, handler) || this.current !== 'open') return
    try {
      await this.requestNow({ type: 'unsubscribe', channel }, timeout)
    } catch (error) {
      // Gone either way: the server never had it, or forgot it with the connection.
      const code = (error as HauynaError).code
      if (code !== 'not_subscribed' && code !== ClientErrorCode.ConnectionLost) throw error
    }
  }

  // ── connection lifecycle ────────────────────────────────────────────────────────────

  /** One attempt: the app's functions answer (at once or later), then the socket opens. */
  private connect (): void {
    this.connectTimer = setTimeout(() => this.attemptTimedOut(), this.connectTimeout)
    let target: ConnectTarget | Promise<ConnectTarget>
    try {
      target = resolveTarget(this.target)
    } catch (error) {
      this.targetFailed(error)
      return
    }
    if (target instanceof Promise) this.awaitTarget(target)
    else this.open(target)
  }

  /** An answer that arrives after its attempt was given up (timeout, stop) opens nothing. */
  private awaitTarget (target: Promise<ConnectTarget>): void {
    this.pendingTarget = target
    target.then((resolved) => {
      if (this.pendingTarget !== target) return
      this.pendingTarget = undefined
      this.open(resolved)
    }, (error: unknown) => {
      if (this.pendingTarget === target) this.targetFailed(error)
    })
    this.stopIfPending()
  }

  /** A URL or subprotocol the WebSocket constructor refuses would be refused again: the client fails. */
  private open (target: ConnectTarget): void {
    let handle: SocketHandle | undefined
    try {
      handle = openSocket(this.WebSocketImpl, target, {
        message: (data) => this.receive(data),
        close: (info) => this.socketClosed(handle as SocketHandle, info)
      })
    } catch (error) {
      // The URL without the params, which usually carry a token.
      this.fail(new HauynaError(ClientErrorCode.ConnectFailed, `cannot open ${target.url}: ${messageOf(error)}`, { cause: error }))
      return
    }
    this.socket = handle
  }

  private attemptTimedOut (): void {
    if (this.socket === undefined) this.targetFailed(new Error(`no answer within connectTimeout (${this.connectTimeout} ms)`))
    else this.giveUpSocket(this.socket, { code: 1006, reason: 'connect timeout' })
  }

  /**
   * A function failed, or overran connectTimeout: an attempt that failed, not a refusal. Like
   * a dropped connection it is retried under the policy; the error event lets the app see why.
   */
  private targetFailed (cause: unknown): void {
    clearTimeout(this.connectTimer)
    this.pendingTarget = undefined
    const why = `the url, params, protocols or webSocketOptions function failed: ${messageOf(cause)}`
    this.emitError(new HauynaError(ClientErrorCode.ConnectOptionsFailed, why, { cause }))
    this.retryOrEnd(neverOpenedError(this.verdictContext(), why, { cause }))
  }

  /**
   * stop() does not wait for the app's functions: the user may have logged out, and a token
   * fetched now would open a connection only to close it. The attempt is dropped at once.
   */
  private stopIfPending (): void {
    if (this.stopping && this.pendingTarget !== undefined) this.finish(stoppedError())
  }

  private receive (data: unknown): void {
    const now = Date.now()
    this.lastMessageAt = now
    this.heartbeat.seen(now)
    const frame = parseFrame(data)
    if (frame === undefined) {
      this.emitError(new HauynaError(ClientErrorCode.InvalidFrame, 'the server sent a frame that is not a JSON object with a "type"'))
      return
    }
    this.route(frame, now)
  }

  private route (frame: Frame, now: number): void {
    switch (frame.type) {
      case 'connected':
        this.opened(frame as unknown as ConnectedFrame, now)
        return
      case 'heartbeat_ack':
        this.heartbeat.acked(frame.ts, now)
        return
      case 'reconnect':
        this.handedOff = true
        this.emitter.emit('reconnect', frame as unknown as ReconnectFrame)
        return
      case 'message':
        this.channelMessage(frame as unknown as ChannelMessage)
        return
      case 'direct': case 'group': case 'broadcast': case 'presence_diff':
        this.emitter.emit(frame.type, frame as never)
        return
      default:
        this.answer(frame)
    }
  }

  private channelMessage (message: ChannelMessage): void {
    const delivery = this.subs.deliver(message)
    if (delivery !== undefined) this.emitter.emit('message', message, delivery)
  }

  /** `ack`, `subscribed`, `unsubscribed`, `error`: settles a request; an unmatched one is an event. */
  private answer (frame: Frame): void {
    if (this.requests.settle(frame)) return
    if (frame.type === 'subscribed' && this.restored(frame as unknown as SubscribedFrame)) return
    if (frame.type === 'subscribed') this.emitter.emit('subscribed', frame as unknown as SubscribedFrame)
    else if (frame.type === 'unsubscribed') this.removedByServer(frame as unknown as UnsubscribedFrame)
    else if (frame.type === 'error') this.unmatchedError(frame)
  }

  /** Kicked, or the channel removed: renewing the subscription on reconnect would undo the server's decision. */
  private removedByServer (frame: UnsubscribedFrame): void {
    this.subs.forget(frame.channel)
    this.emitter.emit('unsubscribed', frame)
  }

  private unmatchedError (frame: Frame): void {
    const details = Array.isArray(frame.details) ? frame.details as Array<{ path: string, message: string }> : undefined
    this.emitError(new HauynaError(String(frame.code), String(frame.message), {
      ref: frame.ref as string | number | undefined, details
    }))
  }

  /**
   * The `connected` frame: subscriptions and presence go first, then the queue in order,
   * and only then is the state `open` — so nothing sent from a listener overtakes the queue.
   */
  private opened (frame: ConnectedFrame, now: number): void {
    if (this.current === 'open' || this.current === 'closing') return
    clearTimeout(this.connectTimer)
    const previous = this.connectedFrame
    this.connectedFrame = frame
    this.openedAt = now
    this.retries = 0
    this.everOpened = true
    this.startHeartbeat(frame.heartbeat, now)
    const token = this.resumeSessions ? previous?.resume : undefined
    if (token !== undefined) this.resume(token)
    else for (const sub of this.subs.all()) this.sendSubscribe(sub)
    if (this.lastPresence !== undefined) this.write(this.lastPresence)
    this.flush()
    this.setState('open')
    this.emitter.emit('connected', frame)
  }

  /**
   * Takes the dropped connection's session over: the server restores its subscriptions (each
   * from this client's place in its stream) and its presence, with no leave or join for others.
   * Whatever it did not restore, or all of it when the session is gone, is subscribed as usual.
   */
  private resume (token: string): void {
    const attempt = this.resuming = new SessionResume(this.subs.all())
    const done = (): void => this.resumed(attempt)
    this.requestNow(attempt.message(token)).then(done, done)
  }

  private resumed (attempt: SessionResume): void {
    if (this.resuming !== attempt) return
    this.resuming = undefined
    for (const sub of attempt.rest()) if (this.subs.has(sub)) this.sendSubscribe(sub)
  }

  /** A `subscribed` without a ref during a resume: a restored subscription, or one the app has dropped since. */
  private restored (frame: SubscribedFrame): boolean {
    if (this.resuming === undefined) return false
    const restoring = this.resuming.take(frame.channel)
    if (restoring !== undefined && this.subs.has(restoring.sub)) {
      this.subscribed(restoring.sub, frame, restoring.since)
      return true
    }
    if (this.subs.channels().includes(frame.channel)) return false
    this.requestNow({ type: 'unsubscribe', channel: frame.channel }).catch(() => {})
    return true
  }

  private startHeartbeat (announced: HeartbeatSettings, now: number): void {
    const settings = heartbeatSettings(announced, this.heartbeatOption)
    this.heartbeatTimeout = settings?.timeout
    if (settings !== undefined) this.heartbeat.start(settings, now)
  }

  private heartbeatDead (): void {
    if (this.socket !== undefined) this.giveUpSocket(this.socket, { code: 4000, reason: 'heartbeat timeout' })
  }

  /** A socket taken for dead (no `connected` in time, heartbeat silence): dropped without waiting for its close. */
  private giveUpSocket (handle: SocketHandle, info: CloseInfo): void {
    handle.abandon()
    this.socketClosed(handle, info)
  }

  private socketClosed (handle: SocketHandle, info: CloseInfo): void {
    if (handle !== this.socket) return
    const handedOff = this.handedOff
    this.releaseSocket()
    this.requests.rejectWhere((request) => request.sent, (request) => new HauynaError(ClientErrorCode.ConnectionLost,
      `the connection closed (${info.code}) before "${request.message.type}" was answered`,
      { ref: request.ref, sent: true, closeCode: info.code }))
    if (this.current === 'closing') {
      this.emitter.emit('disconnected', { ...info, willReconnect: false })
      this.finish(stoppedError())
      return
    }
    const terminal = terminalError(info, this.verdictContext())
    this.emitter.emit('disconnected', { ...info, willReconnect: terminal === undefined && this.canRetry() })
    this.retryOrEnd(terminal, info.retryAfter, handedOff)
  }

  private verdictContext (): VerdictContext {
    return { everOpened: this.everOpened, retryBeforeFirstOpen: this.retryBeforeFirstOpen }
  }

  private canRetry (): boolean {
    return this.retries < this.policy.maxAttempts
  }

  /**
   * After a failed attempt or a lost connection: closed for good on a terminal error, else
   * retried while the policy allows (`atOnce`: without waiting, after a drain's `reconnect`).
   */
  private retryOrEnd (terminal: HauynaError | undefined, retryAfter?: number, atOnce = false): void {
    if (terminal !== undefined) this.fail(terminal)
    else if (this.canRetry()) this.scheduleRetry(atOnce ? 0 : this.delayBefore(retryAfter))
    else this.retriesExhausted()
  }

  private releaseSocket (): void {
    this.handedOff = false
    clearTimeout(this.connectTimer)
    this.heartbeat.stop()
    this.socket = undefined
  }

  /** A server that said how long to wait (503 with Retry-After) is waited for at least that long (`reconnectDelay`). */
  private delayBefore (retryAfter?: number): number {
    return reconnectDelay(this.policy, this.retries, retryAfter)
  }

  private scheduleRetry (delay: number): void {
    this.retries++
    this.setState('reconnecting')
    this.emitter.emit('retry', { attempt: this.retries, delay })
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined
      this.connect()
    }, delay)
  }

  private retriesExhausted (): void {
    this.exhausted = true
    this.emitter.emit('reconnect_failed', { attempts: this.retries })
    this.fail(new HauynaError(ClientErrorCode.ReconnectFailed, `gave up reconnecting after ${this.retries} attempt(s)`))
  }

  /** Closed for good by the server's or the policy's verdict. */
  private fail (error: HauynaError): void {
    this.lastError = error
    this.emitError(error)
    this.finish(error)
  }

  /** The end of a run: nothing scheduled, nothing held; queued and pending requests rejected with `cause`. */
  private finish (cause: HauynaError): void {
    clearTimeout(this.retryTimer)
    this.retryTimer = undefined
    const socket = this.socket
    this.releaseSocket()
    socket?.abandon()
    this.pendingTarget = undefined
    this.started = this.stopping = false
    this.refused = true
    const unsent = this.queue.clear()
    this.lastUnsent = unsent.length
    for (const request of unsent) request.reject(requestError(cause, request))
    this.requests.rejectWhere(() => true, (request) => requestError(cause, request))
    for (const sub of this.subs.all()) if (!sub.settled) sub.refuse(cause)
    this.setState('closed')
  }

  private async shutdown (timeout: number): Promise<StopResult> {
    const deadline = Date.now() + timeout
    this.lastUnsent = 0
    let graceful = false
    if (this.started) {
      this.stopping = true
      this.stopIfPending()
      const open = await within(this.whenOpen().then(() => true, () => false), timeout, false)
      if (open && this.current === 'open') graceful = await this.closeGracefully(deadline)
    }
    if (this.current !== 'closed' || !this.refused) this.finish(stoppedError())
    return { graceful, unsent: this.lastUnsent }
  }

  /** `disconnect` is answered after every earlier frame of the connection: its ack means the flush landed. */
  private async closeGracefully (deadline: number): Promise<boolean> {
    const socket = this.socket as SocketHandle
    this.setState('closing')
    const closed = this.whenState('closed')
    const acked = await this.requestNow({ type: 'disconnect' }, Math.max(1, deadline - Date.now())).then(() => true, () => false)
    socket.close(1000, 'client stop')
    await within(closed, deadline - Date.now(), undefined)
    return acked
  }

  // ── state and events ────────────────────────────────────────────────────────────────

  private setState (to: ClientState): void {
    const from = this.current
    if (from === to) return
    this.current = to
    this.emitter.emit('state', to, from)
  }

  private whenState (state: ClientState): Promise<void> {
    return new Promise((resolve) => {
      const off = this.emitter.on('state', (to) => { if (to === state) { off(); resolve() } })
    })
  }

  /** Resolves when open; rejects when the client closes for good first. Never unhandled. */
  private whenOpen (): Promise<void> {
    if (this.current === 'open') return Promise.resolve()
    const opened = this.current === 'closed'
      ? Promise.reject(this.lastError ?? new HauynaError(ClientErrorCode.Closed, 'the client is not started'))
      : new Promise<void>((resolve, reject) => {
        const off = this.emitter.on('state', (to) => {
          if (to === 'open') resolve()
          else if (to === 'closed') reject(this.lastError ?? stoppedError())
          else return
          off()
        })
      })
    opened.catch(noop)
    return opened
  }

  private emitError (error: HauynaError): void {
    this.emitter.emit('error', error)
  }

  private listenerFailed (error: unknown, event: keyof ClientEvents): void {
    // An `error` listener that throws has nowhere left to report to: surface it like an uncaught error.
    if (event === 'error') setTimeout(() => { throw error }, 0)
    else this.handlerFailed(error, `"${event}" listener`)
  }

  private handlerFailed (error: unknown, where: string, channel?: string): void {
    this.emitError(new HauynaError(ClientErrorCode.HandlerError, `a ${where} threw: ${messageOf(error)}`, { cause: error, channel }))
  }
}
