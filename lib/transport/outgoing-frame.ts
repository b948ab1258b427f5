import WebSocket from 'ws'

const TEXT_FRAME = { fin: true, opcode: 0x01, mask: false, readOnly: false, rsv1: false }
const PING_FRAME = { ...TEXT_FRAME, opcode: 0x09 }

// `ws` exports its frame builder at runtime; @types/ws does not declare it.
interface FrameBuilder { frame (data: Buffer, options: typeof TEXT_FRAME): Buffer[] }
const { Sender } = WebSocket as unknown as { Sender: FrameBuilder }

/** A complete, unmasked ping frame carrying `payload`, built once for every socket it goes to. */
export function pingFrame (payload: Buffer): Buffer {
  const parts = Sender.frame(payload, PING_FRAME)
  return parts.length === 1 ? parts[0] : Buffer.concat(parts)
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
    if (this.framed === undefined) {
      const parts = Sender.frame(Buffer.from(this.text), TEXT_FRAME)
      this.framed = parts.length === 1 ? parts[0] : Buffer.concat(parts)
    }
    return this.framed
  }
}
