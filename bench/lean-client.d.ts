// Types of bench/lean-client.js for the TypeScript stress suite (stress/).
import type { Socket } from 'node:net'

export interface LeanClientOptions {
  onMessage?: (text: string | null) => void
  decode?: boolean
  control?: (client: LeanClient, text: string) => boolean
  localAddress?: string
  onClose?: (code: number) => void
}

export declare class LeanClient {
  constructor (port: number, path: string, options?: LeanClientOptions)
  readonly socket: Socket
  readonly ready: Promise<void>
  received: number
  decode: boolean
  closeCode: number | undefined
  send (text: string): void
  write (frame: Buffer): void
  destroy (): void
}

export declare function encodeText (text: string): Buffer
export declare function encodeFrame (opcode: number, payload: Buffer): Buffer
