import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { RawData, WebSocket } from 'ws'
import { Connection, type Identity } from '../connection/connection'
import type { ConnectionContext } from '../connection/context'
import { ConnectionState } from '../connection/state'
import { wireCodeOf } from '../protocol/wire-codes'
import { encodeMessage } from '../protocol/codec'
import { frames } from '../protocol/frames'
import { CloseCode, ErrorCode } from '../protocol/codes'
import { builtinTypes } from './builtin-handlers'
import { autoSubscribedChannels } from './endpoint'
import { roundTrip } from '../transport/ping-stamp'
import type { Runtime } from './runtime'
import { ALL_TOPIC, userTopic } from '../pubsub/topics'

const kConnection = Symbol('hauyna.connection')
type TaggedSocket = WebSocket & { [kConnection]: Connection }

function connectionOf (socket: WebSocket): Connection {
  return (socket as TaggedSocket)[kConnection]
}

// Shared listeners: `this` is the socket, so no closure is allocated per connection.
function onMessage (this: WebSocket, data: RawData, isBinary: boolean): void {
  connectionOf(this).receive(data as Buffer, isBinary)
}

// Only a pong answering one of our pings proves the peer reads: unsolicited pongs are ignored.
function onPong (this: WebSocket, data: Buffer): void {
  const conn = connectionOf(this)
  if (!conn.admitControl()) return
  const ms = roundTrip(data, performance.now(), conn.runtime.options.heartbeat.timeout)
  if (ms === undefined) return
  conn.lastSeen = Date.now()
  conn.runtime.meter.heartbeat(ms)
}

// ws runs with autoPong off (plugin.ts) so that pings are rate limited before they are answered;
// `_autoPong` is ws's own flag, still on when the app turned it back on or registered
// @fastify/websocket itself: then ws answers and the ping is only counted.
function onPing (this: WebSocket & { _autoPong?: boolean }, data: Buffer): void {
  const conn = connectionOf(this)
  if (!conn.admitControl() || this._autoPong === true) return
  // Like ws's maxPendingAutoPongs, which only guards its own pongs: none pile up for a peer that does not read.
  if (this.bufferedAmount <= conn.runtime.options.maxBufferedBytes) this.pong(data)
}

function onClose (this: WebSocket, code: number, reason: Buffer): void {
  const conn = connectionOf(this)
  void closeConnection(conn.runtime, conn, code, reason.toString())
}

/** `ws` names the peer's own protocol violations (invalid UTF-8, bad opcodes…) `WS_ERR_*`. */
function isPeerViolation (error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code
  return typeof code === 'string' && code.startsWith('WS_ERR_')
}

// A peer's malformed frame is its fault, not the server's: `ws` has already closed with the
// right code (1002, 1007, 1009), so it is logged at info and not reported as an error.
function onError (this: WebSocket, error: Error): void {
  const conn = connectionOf(this)
  if (isPeerViolation(error)) {
    conn.runtime.log.info({ connectionId: conn.id, userId: conn.userId, reason: error.message }, 'peer sent an invalid frame')
  } else {
    conn.runtime.reportError(error, conn, 'socket error')
  }
  if (conn.state !== ConnectionState.Error && conn.state !== ConnectionState.Disconnected) conn.transition(ConnectionState.Error)
  this.terminate()
}

function refuse (runtime: Runtime, socket: WebSocket, code: ErrorCode, message: string, closeCode: number): void {
  runtime.meter.refused(code)
  const text = encodeMessage(runtime.options.codec, frames.error(code, message))
  if (text !== undefined) socket.send(text)
  socket.close(closeCode, message)
}

/** Turns an upgraded socket into a registered connection; `null` identity is refused (1002). */
export function openConnection (
  runtime: Runtime, socket: WebSocket, identity: Identity | null, context: ConnectionContext
): Connection | undefined {
  if (runtime.draining) {
    socket.close(CloseCode.GoingAway, 'server shutting down')
    return undefined
  }
  if (identity === null) {
    runtime.log.info('refusing a websocket without a user id')
    refuse(runtime, socket, ErrorCode.MissingUserId, 'a user id is required (authenticate, or ?userId=)', CloseCode.ProtocolError)
    return undefined
  }
  const max = runtime.options.maxConnectionsPerUser
  if ((runtime.connectionsByUser.get(identity.id)?.size ?? 0) >= max) {
    runtime.log.warn({ userId: identity.id }, 'refusing connection over the per-user limit')
    refuse(runtime, socket, ErrorCode.Forbidden, `too many connections for this user (max ${max})`, CloseCode.PolicyViolation)
    return undefined
  }
  const conn = new Connection(socket, identity, randomUUID(), runtime, context)
  ;(socket as TaggedSocket)[kConnection] = conn
  // @fastify/websocket's own per-socket error listener is a closure over the upgrade
  // request and reply, keeping them alive as long as the socket; ours replaces it.
  socket.removeAllListeners('error')
  socket.on('message', onMessage)
  socket.on('ping', onPing)
  socket.on('pong', onPong)
  socket.on('close', onClose)
  socket.on('error', onError)
  runtime.register(conn)
  conn.setup = setUp(runtime, conn, identity)
  return conn
}

/** The endpoint's channels, each answered like a client's `subscribe` (policies apply). */
async function subscribeOnConnect (runtime: Runtime, conn: Connection): Promise<void> {
  let channels: readonly string[]
  try {
    channels = await autoSubscribedChannels(conn.route, conn)
  } catch (error) {
    runtime.reportError(error, conn, `${conn.route.path}: subscribe option failed`)
    runtime.sendError(conn, ErrorCode.InternalError, 'internal server error in the endpoint\'s subscribe option')
    return
  }
  for (const channel of channels) {
    try {
      await builtinTypes.subscribe.handler(conn, { type: 'subscribe', channel }, runtime)
    } catch (error) {
      runtime.sendError(conn, wireCodeOf(error), (error as Error).message)
    }
  }
}

async function setUp (runtime: Runtime, conn: Connection, identity: Identity): Promise<void> {
  try {
    await runtime.join(conn, userTopic(conn.userId), null)
    await runtime.join(conn, ALL_TOPIC, null)
    await runtime.groups.attach(conn, identity.groups ?? [])
    const { interval, timeout } = runtime.options.heartbeat
    conn.send(frames.connected(conn.id, conn.userId, { interval, timeout }))
    conn.releaseWrites()
    if (runtime.options.presence.autoTrack) await runtime.presence.track(conn)
    await subscribeOnConnect(runtime, conn)
    await runtime.events.emitAfter(conn.route.onConnect, 'connect', [conn])
    runtime.log.debug({ connectionId: conn.id, userId: conn.userId }, 'websocket connection opened')
  } catch (error) {
    runtime.reportError(error, conn, 'connection setup failed')
    conn.releaseWrites()
    conn.close(CloseCode.InternalError, 'internal error')
    return
  }
  conn.ready()
}

/**
 * A socket closed: out of the registry at once (counts are right immediately), and the rest
 * (subscriptions, groups, topics, presence, the `disconnect` event) through the cleanup queue.
 */
export async function closeConnection (runtime: Runtime, conn: Connection, code: number, reason: string): Promise<void> {
  await conn.setup
  if (conn.state === ConnectionState.Connected || conn.state === ConnectionState.Idle) {
    conn.transition(ConnectionState.Disconnected)
  }
  const last = runtime.unregister(conn)
  runtime.log.debug({ connectionId: conn.id, userId: conn.userId, code, reason, suppressed: conn.droppedLogLines || undefined },
    'websocket connection closed')
  runtime.cleanup.enqueue({ conn, last, code, reason })
}
