import type { Codec } from '../../lib/index'

type Frame = { type?: unknown, payload?: { status?: unknown, metadata?: unknown }, timestamp?: unknown }

/**
 * The presence-server document's protocol (uppercase types, `payload.status`/`metadata`,
 * `timestamp`) mapped onto protocol v1, in both directions.
 */
export const presenceCodec: Codec = {
  decode (raw) {
    const frame = raw as Frame
    switch (frame?.type) {
      case 'PRESENCE_UPDATE':
        return { type: 'presence', status: frame.payload?.status, meta: frame.payload?.metadata }
      case 'HEARTBEAT':
        return { type: 'heartbeat', ts: frame.timestamp }
      case 'DISCONNECT':
        return { type: 'disconnect' }
      default:
        return raw
    }
  },
  encode (message) {
    switch (message.type) {
      case 'connected':
        return { type: 'CONNECT', userId: message.userId, timestamp: message.ts }
      case 'heartbeat_ack':
        return { type: 'HEARTBEAT_ACK', timestamp: message.serverTs }
      case 'error':
        return { type: 'ERROR', code: message.code, message: message.message }
      case 'direct':
        // The server's own direct messages are already frames of the document (app.ts).
        return message.from === null ? message.data as object : message
      default:
        return message
    }
  }
}
