import { performance } from 'node:perf_hooks'
import type { RawData, WebSocket } from 'ws'
import { roundTrip } from '../transport/ping-stamp'
import type { Connection } from './connection'
import { ConnectionState } from './state'

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
  const ms = roundTrip(data, performance.now(), conn.host.limits.heartbeatTimeout)
  if (ms === undefined) return
  conn.lastSeen = Date.now()
  conn.host.pong(conn, ms)
}

// ws runs with autoPong off (plugin.ts) so that pings are rate limited before they are answered;
// `_autoPong` is ws's own flag, still on when the app turned it back on or registered
// @fastify/websocket itself: then ws answers and the ping is only counted.
function onPing (this: WebSocket & { _autoPong?: boolean }, data: Buffer): void {
  const conn = connectionOf(this)
  if (!conn.admitControl() || this._autoPong === true) return
  // No pongs pile up for a peer that does not read.
  if (this.bufferedAmount <= conn.host.limits.maxBufferedBytes) this.pong(data)
}

function onClose (this: WebSocket, code: number, reason: Buffer): void {
  const conn = connectionOf(this)
  conn.host.closed(conn, code, reason.toString())
}

/**
 * `ws` names the peer's own protocol violations (invalid UTF-8, bad opcodes…) `WS_ERR_*`; a
 * compressed frame that does not inflate is one too (ws closes it 1007), with zlib's code.
 */
function isPeerViolation (error: Error): boolean {
  const code = (error as Error & { code?: unknown }).code
  return typeof code === 'string' && (code.startsWith('WS_ERR_') || code === 'Z_DATA_ERROR')
}

function onError (this: WebSocket, error: Error): void {
  const conn = connectionOf(this)
  conn.host.socketError(conn, error, isPeerViolation(error))
  if (conn.state !== ConnectionState.Error && conn.state !== ConnectionState.Disconnected) conn.transition(ConnectionState.Error)
  this.terminate()
}

/** Hands the socket's events to `conn`, replacing @fastify/websocket's own error listener. */
export function attachSocket (conn: Connection): void {
  const socket = conn.socket
  ;(socket as TaggedSocket)[kConnection] = conn
  // @fastify/websocket's per-socket error listener is a closure over the upgrade request and
  // reply, keeping them alive as long as the socket; ours replaces it.
  socket.removeAllListeners('error')
  socket.on('message', onMessage)
  socket.on('ping', onPing)
  socket.on('pong', onPong)
  socket.on('close', onClose)
  socket.on('error', onError)
}
