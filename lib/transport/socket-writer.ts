import type { Socket } from 'node:net'
import type { WebSocket } from 'ws'
import type { OutgoingFrame } from './outgoing-frame'

/** The parts of a `ws` socket read to write pre-built frames straight to TCP. */
interface WsInternals {
  _socket?: Socket | null
  _sender?: { _state?: number }
  _extensions?: Record<string, unknown>
}

const SENDER_IDLE = 0

/**
 * The TCP socket under `ws` when a pre-built frame may be written to it directly: `ws` has
 * nothing queued (no compression, no pending blob), so frame order stays what `ws` would
 * give. Otherwise `undefined`, and the caller goes through `ws`, so an unexpected `ws`
 * internals shape only costs speed, never correctness.
 */
function directSocket (ws: WebSocket): Socket | undefined {
  const internals = ws as unknown as WsInternals
  const socket = internals._socket
  if (socket && internals._sender?._state === SENDER_IDLE &&
      internals._extensions?.['permessage-deflate'] === undefined) return socket
  return undefined
}

/** Writes a pre-built text frame, straight to TCP when `ws` allows it (`directSocket`). */
export function writeFrame (ws: WebSocket, frame: OutgoingFrame): void {
  const socket = directSocket(ws)
  if (socket !== undefined) socket.write(frame.wire)
  else ws.send(frame.text)
}

/** Writes a ping framed once for many sockets (`pingFrame`); `payload` is what `ws` would frame. */
export function writePing (ws: WebSocket, frame: Buffer, payload: Buffer): void {
  const socket = directSocket(ws)
  if (socket !== undefined) socket.write(frame)
  else ws.ping(payload)
}

/**
 * Holds an upgrading socket's writes until `releaseWrites`, so that the `101 Switching
 * Protocols` response and the `connected` frame leave in one write, not two: a write is
 * the largest single cost of accepting a connection.
 */
export function holdWrites (socket: Socket | undefined): void {
  // `app.injectWS()` upgrades a request that has no TCP socket: nothing to hold.
  socket?.cork()
}

export function releaseWrites (ws: WebSocket): void {
  (ws as unknown as WsInternals)._socket?.uncork()
}
