const FIN = 0x80
const TEXT = 0x01
const PING = 0x09

/** The header length of an unmasked frame whose payload is `length` bytes (RFC 6455, 5.2). */
function headerLength (length: number): number {
  return length < 126 ? 2 : length < 0x10000 ? 4 : 10
}

/** Writes an unmasked final frame's header for `opcode` and a payload of `length` bytes. */
function writeHeader (frame: Buffer, opcode: number, length: number): void {
  frame[0] = FIN | opcode
  if (length < 126) {
    frame[1] = length
  } else if (length < 0x10000) {
    frame[1] = 126
    frame.writeUInt16BE(length, 2)
  } else {
    frame[1] = 127
    // Payloads are bounded far below 2^53 (maxPayload, maxBufferedBytes): the high word is 0.
    frame.writeUInt32BE(Math.floor(length / 0x100000000), 2)
    frame.writeUInt32BE(length >>> 0, 6)
  }
}

/**
 * A complete, unmasked text frame in one buffer: the header, then `text` encoded straight into
 * it, so a frame costs one allocation and no copy.
 */
function textFrame (text: string): Buffer {
  const length = Buffer.byteLength(text)
  const offset = headerLength(length)
  const frame = Buffer.allocUnsafe(offset + length)
  writeHeader(frame, TEXT, length)
  frame.write(text, offset, length, 'utf8')
  return frame
}

/** A complete, unmasked ping frame carrying `payload`, built once for every socket it goes to. */
export function pingFrame (payload: Buffer): Buffer {
  const offset = headerLength(payload.length)
  const frame = Buffer.allocUnsafe(offset + payload.length)
  writeHeader(frame, PING, payload.length)
  payload.copy(frame, offset)
  return frame
}

/** A channel message waiting for one subscriber, with its place in the channel's stream (history channels). */
export interface HeldFrame {
  frame: OutgoingFrame
  offset: number
  epoch: string
}

/**
 * One server message, serialized once and framed once however many sockets it goes to:
 * a fan-out to N subscribers costs one JSON encode, one UTF-8 encode and one frame header.
 */
export class OutgoingFrame {
  private framed: Buffer | undefined

  constructor (readonly text: string) {}

  /** The complete, unmasked WebSocket text frame (header and payload in one buffer). */
  get wire (): Buffer {
    return (this.framed ??= textFrame(this.text))
  }
}
