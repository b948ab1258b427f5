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
 * Writes a pre-built frame directly to the TCP socket when `ws` has nothing queued
 * (no compression, no pending blob), which keeps frame order identical to `ws.send`.
 * Any other case goes through `ws.send`, so an unexpected `ws` internals shape only
 * costs speed, never correctness.
 */
export function writeFrame (ws: WebSocket, frame: OutgoingFrame): void {
  const internals = ws as unknown as WsInternals
  const socket = internals._socket
  if (socket && internals._sender?._state === SENDER_IDLE &&
      internals._extensions?.['permessage-deflate'] === undefined) {
    socket.write(frame.wire)
  } else {
    ws.send(frame.text)
  }
}

/**
 * Holds an upgrading socket's writes until `releaseWrites`, so that the `101 Switching
 * Protocols` response and the `connected` frame leave in one write, not two: a write is
 * the largest single cost of accepting a connection.
 */
export function holdWrites (socket: Socket): void {
  socket.cork()
}

export function releaseWrites (ws: WebSocket): void {
  (ws as unknown as WsInternals)._socket?.uncork()
}
