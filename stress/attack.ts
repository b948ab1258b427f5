// Attacking connections built on the bench's lean RFC 6455 client (bench/lean-client.js).
import { once } from 'node:events'
import { LeanClient, type LeanClientOptions } from '../bench/lean-client'
import { protocols } from '../bench/protocols'
import { now, withTimeout } from './measure'

/** A lean client of `user`, resolved once the server's `connected` frame has arrived (within `timeout` ms). */
export async function connect (port: number, user: string, options: LeanClientOptions & { timeout?: number } = {}): Promise<LeanClient> {
  const timeout = options.timeout ?? 10_000
  let connected: () => void = () => {}
  const ready = new Promise<void>((resolve) => { connected = resolve })
  let greeted = false
  const client: LeanClient = new LeanClient(port, protocols.hauyna.path(user), {
    ...options,
    decode: true,
    onMessage: (text) => {
      if (!greeted) {
        greeted = true
        client.decode = options.decode ?? false
        connected()
        return
      }
      options.onMessage?.(text)
    }
  })
  const closed = once(client.socket, 'close').then(() => { throw new Error(`${user}: closed before connected`) })
  try {
    await withTimeout(Promise.race([ready, closed]), timeout, `${user}: not connected within ${timeout / 1000} s`)
  } catch (error) {
    client.destroy()
    throw error
  }
  closed.catch(() => {})
  return client
}

/** `count` copies of `frame` in one buffer: one write carries many frames. */
export function repeated (frame: Buffer, count: number): Buffer {
  return Buffer.concat(Array<Buffer>(count).fill(frame))
}

/**
 * Writes `chunk` again and again, as fast as the socket takes it, until `deadline` (epoch ms),
 * `maxWrites` or the socket's end; resolves to the number of writes.
 */
export async function pump (client: LeanClient, chunk: Buffer, deadline: number, maxWrites = 10_000_000): Promise<number> {
  const socket = client.socket
  let writes = 0
  const ended = once(socket, 'close').then(() => false, () => false)
  while (writes < maxWrites && now() < deadline && !socket.destroyed && socket.writable) {
    writes++
    if (!socket.write(chunk)) {
      const drained = new Promise<boolean>((resolve) => socket.once('drain', () => resolve(true)))
      const waited = new Promise<boolean>((resolve) => setTimeout(() => resolve(true), Math.max(0, Math.min(1000, deadline - now()))))
      if (!await Promise.race([drained, ended, waited])) break
    }
  }
  return writes
}
