import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import type { RealtimeNode } from '../composition/node'
import { CloseCode } from '../protocol/codes'
import { collectStats } from './collect'

// A dashboard that cannot keep up skips samples rather than piling them up in memory.
const MAX_BUFFERED = 256 * 1024

/**
 * The dashboard's live stats: one sample every `interval` ms, sent to every open dashboard
 * socket. The timer runs only while at least one socket is open. @internal
 */
export class StatsFeed {
  readonly #sockets = new Set<WebSocket>()
  #timer: NodeJS.Timeout | undefined
  #sampling = false

  constructor (
    private readonly node: RealtimeNode,
    private readonly options: { interval: number, detail: boolean },
    private readonly log: FastifyBaseLogger
  ) {}

  /** Whether the sampling timer is running: for this package's tests. */
  get running (): boolean {
    return this.#timer !== undefined
  }

  /** Feeds `socket` until it closes; it gets a first sample at once. */
  add (socket: WebSocket): void {
    this.#sockets.add(socket)
    socket.once('close', () => this.#remove(socket))
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => { void this.#sample() }, this.options.interval)
      this.#timer.unref()
    }
    void this.#sample()
  }

  /** Closes every dashboard socket (1001, going away) and stops the timer. */
  close (): void {
    for (const socket of this.#sockets) socket.close(CloseCode.GoingAway)
    this.#sockets.clear()
    this.#stop()
  }

  #remove (socket: WebSocket): void {
    this.#sockets.delete(socket)
    if (this.#sockets.size === 0) this.#stop()
  }

  #stop (): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  // One sample at a time: a slow adapter (Redis down) must not stack collections up.
  async #sample (): Promise<void> {
    if (this.#sampling) return
    this.#sampling = true
    try {
      const stats = await collectStats(this.node, this.options.detail)
      const frame = JSON.stringify({ at: Date.now(), stats })
      for (const socket of this.#sockets) {
        if (socket.readyState === socket.OPEN && socket.bufferedAmount < MAX_BUFFERED) socket.send(frame)
      }
    } catch (error) {
      this.log.warn({ err: error }, 'fastify-hauyna: a dashboard sample failed')
    } finally {
      this.#sampling = false
    }
  }
}
