'use strict'
// A minimal RFC 6455 client over `net`: one upgrade request, masked text frames out, and a
// frame reader that counts messages without decoding them unless asked. A full client
// library on one core saturates before the server does; this one does not. What the text
// frames say is the business of bench/protocols.js.
const net = require('node:net')
const crypto = require('node:crypto')

const MASK = Buffer.from([0x11, 0x22, 0x33, 0x44])

/** One masked, final frame of `opcode` (0x1 text, 0x2 binary, 0x9 ping, 0xa pong) carrying `payload`. */
function encodeFrame (opcode, payload) {
  const len = payload.length
  const headerLength = len < 126 ? 2 : len < 65536 ? 4 : 10
  const frame = Buffer.allocUnsafe(headerLength + 4 + len)
  frame[0] = 0x80 | opcode
  if (len < 126) frame[1] = 0x80 | len
  else if (len < 65536) { frame[1] = 0x80 | 126; frame.writeUInt16BE(len, 2) } else { frame[1] = 0x80 | 127; frame.writeBigUInt64BE(BigInt(len), 2) }
  MASK.copy(frame, headerLength)
  for (let i = 0; i < len; i++) frame[headerLength + 4 + i] = payload[i] ^ MASK[i & 3]
  return frame
}

function encodeText (text) {
  return encodeFrame(0x1, Buffer.from(text))
}

class LeanClient {
  /** `onClose(code)` hears the server's close frame (code 1005 when it carries none); no close frame is sent back. */
  constructor (port, path, { onMessage, decode = false, control, localAddress, onClose } = {}) {
    this.onMessage = onMessage
    this.onClose = onClose
    this.closeCode = undefined
    this.decode = decode
    this.control = control
    this.received = 0
    this.buffer = Buffer.alloc(0)
    this.upgraded = false
    this.socket = net.connect({ port, host: '127.0.0.1', localAddress })
    this.socket.setNoDelay(true)
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
      this.socket.once('error', reject)
    })
    this.socket.on('connect', () => {
      const key = crypto.randomBytes(16).toString('base64')
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`)
    })
    this.socket.on('data', (chunk) => this.read(chunk))
    this.socket.on('error', () => {})
  }

  read (chunk) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk])
    if (!this.upgraded) {
      const end = this.buffer.indexOf('\r\n\r\n')
      if (end === -1) return
      if (this.buffer.toString('latin1', 9, 12) !== '101') {
        this.refused(this.buffer.toString('latin1', 0, end))
        return
      }
      this.upgraded = true
      this.buffer = this.buffer.subarray(end + 4)
      this.resolveReady()
    }
    let offset = 0
    const buf = this.buffer
    while (buf.length - offset >= 2) {
      const opcode = buf[offset] & 0x0f
      let len = buf[offset + 1] & 0x7f
      let header = 2
      if (len === 126) { if (buf.length - offset < 4) break; len = buf.readUInt16BE(offset + 2); header = 4 } else if (len === 127) { if (buf.length - offset < 10) break; len = Number(buf.readBigUInt64BE(offset + 2)); header = 10 }
      if (buf.length - offset < header + len) break
      if (opcode === 0x1) {
        // Only one-byte frames can be transport chatter (Engine.IO pings): no decoding on the hot path.
        if (len > 1 || !this.control?.(this, buf.toString('utf8', offset + header, offset + header + len))) {
          this.received++
          if (this.onMessage) this.onMessage(this.decode ? buf.toString('utf8', offset + header, offset + header + len) : null)
        }
      } else if (opcode === 0x9) {
        this.pong(buf.subarray(offset + header, offset + header + len))
      } else if (opcode === 0x8 && this.closeCode === undefined) {
        this.closeCode = len >= 2 ? buf.readUInt16BE(offset + header) : 1005
        this.onClose?.(this.closeCode)
      }
      offset += header + len
    }
    this.buffer = offset === buf.length ? Buffer.alloc(0) : buf.subarray(offset)
  }

  /**
   * An upgrade answered with anything but 101: `ready` rejects with the status as its code
   * ("HTTP 503") and the Retry-After in milliseconds, if the server gave one.
   */
  refused (head) {
    const retryAfter = /\r\nretry-after: *(\d+)/i.exec(head)?.[1]
    this.rejectReady(Object.assign(new Error(head.slice(0, head.indexOf('\r\n'))), {
      code: `HTTP ${head.slice(9, 12)}`,
      retryAfter: retryAfter === undefined ? undefined : Number(retryAfter) * 1000
    }))
    this.destroy()
  }

  pong (payload) {
    this.socket.write(encodeFrame(0xa, payload))
  }

  send (text) {
    this.socket.write(encodeText(text))
  }

  /** Writes a frame made once by encodeText: the scenarios that send many reuse theirs. */
  write (frame) {
    this.socket.write(frame)
  }

  destroy () {
    this.socket.destroy()
  }
}

module.exports = { LeanClient, encodeText, encodeFrame }
