// Types of bench/subscriber.js for the TypeScript stress suite (stress/).
import type { LeanClient } from './lean-client'

export interface Dialect {
  path (user: string): string
  subscribe (channel: string): string
  subscribed (msg: any): boolean
  publish (channel: string, data: unknown): string
  parse (text: string): any
}

export interface SubscriberOptions {
  decodeAll?: boolean
  onData?: (msg: any) => void
  localAddress?: string
  timeout?: number
  onClose?: (code: number) => void
}

export declare function subscriber (port: number, proto: Dialect, user: string, channel: string, options?: SubscriberOptions): Promise<LeanClient>
export declare function openUntil<T> (count: number, make: (i: number) => Promise<T>, options?: { concurrency?: number, deadline?: number }): Promise<{ clients: T[], failure: string | null }>
