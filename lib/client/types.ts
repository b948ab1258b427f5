import type { ServerMessage } from '../protocol/schemas'
import type { HauynaError } from './errors'
import type { RetryPolicy } from './retry-policy'

// Type-only imports: the shared protocol schemas type the frames without putting TypeBox
// (or anything else) into the browser bundle.

/** What to give up when the outgoing queue is full. */
export type OverflowStrategy = 'drop_oldest' | 'drop_newest'

/** What the app can observe of the connection (PROTOCOL.md has the server side). */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed'

/** Frames as the server sends them, `data` typed by the caller where it knows better. */
export type ConnectedFrame = ServerMessage<'connected'>
export type SubscribedFrame = ServerMessage<'subscribed'>
export type UnsubscribedFrame = ServerMessage<'unsubscribed'>
export type PresenceDiff = ServerMessage<'presence_diff'>
export type ErrorFrame = ServerMessage<'error'>
export type ReconnectFrame = ServerMessage<'reconnect'>
export type ChannelMessage<T = unknown> = Omit<ServerMessage<'message'>, 'data'> & { data: T }
export type DirectMessage<T = unknown> = Omit<ServerMessage<'direct'>, 'data'> & { data: T }
export type GroupMessage<T = unknown> = Omit<ServerMessage<'group'>, 'data'> & { data: T }
export type BroadcastMessage<T = unknown> = Omit<ServerMessage<'broadcast'>, 'data'> & { data: T }

/** A frame the client sends: a `type`, its fields, and the `ref` the client adds. */
export interface OutgoingMessage {
  type: string
  ref?: string
  [field: string]: unknown
}

/**
 * The part of a WebSocket the client uses: the browser's `WebSocket` and the `ws` package
 * both fit. Handlers take `any` so either implementation's event types are accepted.
 */
export interface WebSocketLike {
  readonly readyState: number
  /* eslint-disable @typescript-eslint/no-explicit-any */
  onopen: ((event: any) => void) | null
  onmessage: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
  /* eslint-enable @typescript-eslint/no-explicit-any */
  send (data: string): void
  close (code?: number, reason?: string): void
}

/** A subprotocol, or several, offered in the `Sec-WebSocket-Protocol` header (the constructor's second argument). */
export type Subprotocols = string | string[]

/**
 * The WebSocket constructor's third argument. `ws` (Node) reads its client options there,
 * `headers` above all; a browser's `WebSocket` takes no third argument and ignores it. Typed
 * here rather than imported so that the client needs neither `ws` nor Node's types.
 */
export interface WebSocketOptions {
  headers?: Record<string, string>
  [option: string]: unknown
}

/**
 * The browser's `WebSocket` and the `ws` package both fit; so does a constructor that takes
 * only the URL, as long as the `protocols` and `webSocketOptions` options are not used.
 */
export type WebSocketConstructor = new (url: string, protocols?: Subprotocols, options?: WebSocketOptions) => WebSocketLike

/**
 * A value, or a function giving it (sync or async) that the client calls again before every
 * connection attempt: the place to fetch a fresh token.
 */
export type PerConnect<T> = T | (() => T | Promise<T>)

/**
 * Query parameters merged into the URL: each replaces a parameter of the same name already
 * there; `undefined` leaves one out.
 */
export type QueryParams = Record<string, string | number | boolean | undefined>

export interface HeartbeatSettings {
  /** Milliseconds between `heartbeat` frames. */
  interval: number
  /** Milliseconds without any frame from the server after which the socket is taken for dead. */
  timeout: number
}

export interface ClientOptions {
  /** The WebSocket implementation; defaults to the global `WebSocket` (browsers, Node ≥ 22). */
  WebSocket?: WebSocketConstructor
  /** Query parameters merged into the URL before every attempt (the URL must then be absolute). */
  params?: PerConnect<QueryParams>
  /** Subprotocols offered on every attempt: `['bearer', token]` carries a token where headers cannot. */
  protocols?: PerConnect<Subprotocols>
  /** The WebSocket constructor's third argument on every attempt: `{ headers }` with `ws`; browsers ignore it. */
  webSocketOptions?: PerConnect<WebSocketOptions>
  /** Reconnection schedule; see `RetryPolicy`. */
  retry?: Partial<RetryPolicy>
  /** Messages kept while not open (default 1000); 0 keeps none. */
  maxQueueSize?: number
  /** What to give up when the queue is full (default `drop_oldest`). */
  overflowStrategy?: OverflowStrategy
  /** Default milliseconds a request waits for its `ack`/`error` (default 10000). */
  requestTimeout?: number
  /** Milliseconds an attempt may take to reach the `connected` frame, its functions' time included (default 10000). */
  connectTimeout?: number
  /** Overrides the heartbeat the server announces in `connected`; `false` sends none. */
  heartbeat?: Partial<HeartbeatSettings> | false
  /**
   * Whether attempts that fail before the client has ever opened are retried (default true).
   * Browsers hide why an upgrade failed (see docs/CLIENT.md: a 401 looks like an unreachable server);
   * set `false` to fail at once with `connect_failed` instead of retrying a refusal.
   */
  retryBeforeFirstOpen?: boolean
  /**
   * Whether a reconnect takes over the dropped connection's session when the server has session
   * resume on (default true): subscriptions and presence come back without others seeing a leave
   * and a join. Off, or when the session is gone, the client subscribes again itself.
   */
  resume?: boolean
}

export interface RequestOptions {
  /** Milliseconds to wait for the server's answer, queue time included. */
  timeout?: number
}

/**
 * A place in a channel's stream, on a channel that keeps history: `offset` counts the
 * channel's publishes, `epoch` names the run of offsets (it changes when the server lost the
 * history), so the same offset in another epoch is another message.
 */
export interface StreamPosition {
  offset: number
  epoch: string
}

export interface SubscribeOptions {
  /** Per-subscription meta the server keeps (at most 4 KiB serialized by default). */
  meta?: Record<string, unknown>
  /** Whether this connection receives its own publishes on the channel (default true). */
  echo?: boolean
  /**
   * The last message the app has of this channel (a position it saved from `position()`): the
   * server replays what came after it. Counts only when the channel is not subscribed already.
   */
  since?: StreamPosition
}

/** What the client knows of a channel message beyond its frame. */
export interface Delivery {
  /** Missed while away and replayed by the server after a `recovery` with `recovered: true`. */
  replayed: boolean
}

/** The server's answer to a subscribe that asked to resume from `since`. */
export interface RecoveryInfo {
  channel: string
  /**
   * `true`: every message after `since` follows (replayed, then live), none missing. `false`:
   * the missed messages are lost (history expired, too short, or restarted): reload the channel's state.
   */
  recovered: boolean
  since: StreamPosition
  /** The channel's position now (absent on a channel that keeps no history). */
  offset?: number
  epoch?: string
}

/** Returned by `subscribe`: call it to remove the handler; `subscribed` settles with the first answer. */
export interface Unsubscribe {
  (): Promise<void>
  readonly subscribed: Promise<SubscribedFrame>
}

export interface DisconnectInfo {
  code: number
  reason: string
  /** HTTP status of a refused upgrade, when known (Node with `ws`; never in browsers). */
  status?: number
  willReconnect: boolean
}

export interface ClientEvents {
  /** Every channel message delivered, once (duplicates of a replay are dropped before). */
  message: (message: ChannelMessage, delivery: Delivery) => void
  direct: (message: DirectMessage) => void
  group: (message: GroupMessage) => void
  broadcast: (message: BroadcastMessage) => void
  presence_diff: (diff: PresenceDiff) => void
  error: (error: HauynaError) => void
  state: (state: ClientState, previous: ClientState) => void
  connected: (frame: ConnectedFrame) => void
  /**
   * A subscription confirmed by the server: the first time and after every reconnect, and
   * when the endpoint subscribes the connection itself (no `ref`; its messages come as `message`).
   */
  subscribed: (frame: SubscribedFrame) => void
  /** The server removed a subscription (kicked, channel removed: see `reason`); it is not renewed. */
  unsubscribed: (frame: UnsubscribedFrame) => void
  /**
   * A subscribe that carried `since` was answered: after every reconnect on a channel that keeps
   * history, and for the app's own `since`. With `recovered: false` the app must reload the channel's state.
   */
  recovery: (info: RecoveryInfo) => void
  disconnected: (info: DisconnectInfo) => void
  /**
   * The server drains (a rolling deploy): it closes this connection with 1001 in `after` ms.
   * The client then reconnects at once, without backoff, resuming where it was.
   */
  reconnect: (frame: ReconnectFrame) => void
  /** A reconnection attempt is scheduled: `attempt` counts from 1, `delay` in milliseconds. */
  retry: (info: { attempt: number, delay: number }) => void
  reconnect_failed: (info: { attempts: number }) => void
  dropped: (info: { message: OutgoingMessage, reason: 'overflow' }) => void
}

/** What `status()` reports: the connection, the outgoing queue, pending requests and subscriptions. */
export interface ClientStatus {
  state: ClientState
  connected: boolean
  started: boolean
  stopping: boolean
  retryCount: number
  maxRetriesReached: boolean
  queueSize: number
  pendingRequests: number
  subscriptions: string[]
  connectionId: string | undefined
  userId: string | undefined
}

export interface ClientHealth {
  /** Open, and some frame arrived within the heartbeat timeout. */
  healthy: boolean
  state: ClientState
  /** `Date.now()` of the last frame received, if any. */
  lastMessageAt: number | undefined
  /** Round-trip milliseconds of the last `heartbeat` answered. */
  rtt: number | undefined
  /** `Date.now()` when the current connection opened. */
  openSince: number | undefined
}

export interface StopOptions {
  /** Milliseconds to wait for the queue to flush and the close to finish (default 5000). */
  timeout?: number
}

export interface StopResult {
  /** Whether the connection was open to flush the queue and close with 1000. */
  graceful: boolean
  /** Queued messages that could not be sent before the timeout (their promises rejected with `stopped`). */
  unsent: number
}

/**
 * A message schema as the client types it: by the `static` type TypeBox puts on every schema.
 * Matched by shape, not by TypeBox's own `TSchema`, whose CommonJS and ESM typings differ, so
 * that `typeof ChatMessage` fits in CommonJS and ESM projects alike.
 */
export interface MessageSchema { static: unknown }

/** App message types, named by their TypeBox schemas (shared with the server's `events.on`). */
export type AppMessages = Record<string, MessageSchema>

/** An app message's fields without the envelope the client adds. */
export type AppPayload<S extends MessageSchema> = Omit<S['static'], 'type' | 'ref'>
