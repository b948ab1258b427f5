import { type ConnectTarget, targetUrl } from './connect-target'
import type { WebSocketConstructor, WebSocketLike } from './types'

const OPEN = 1

export interface CloseInfo {
  code: number
  reason: string
  /** HTTP status of a refused upgrade; only `ws` (Node) reveals it. */
  status?: number
  /** Milliseconds the server asked to wait before the next attempt (`Retry-After` of a refused upgrade; `ws` only). */
  retryAfter?: number
}

export interface SocketEvents {
  message (data: unknown): void
  close (info: CloseInfo): void
}

/** `ws` is an EventEmitter and tells why an upgrade failed; browsers never do. */
interface UpgradeResponse {
  statusCode?: number
  headers?: Record<string, string | string[] | undefined>
}

/** `Retry-After` in seconds, as milliseconds; an HTTP date or anything else is ignored. */
function retryAfterOf (response: UpgradeResponse): number | undefined {
  const value = Number(response.headers?.['retry-after'])
  return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined
}

interface UpgradeAware {
  on?: (event: 'unexpected-response', listener: (request: unknown, response: UpgradeResponse) => void) => unknown
  terminate?: () => void
}

function noop (): void {}

/**
 * One WebSocket attempt. Reports each frame and, exactly once, its close; after `abandon()`
 * it reports nothing, so a socket given up for dead cannot disturb its successor.
 */
export class SocketHandle {
  private status: number | undefined
  private retryAfter: number | undefined
  private done = false

  constructor (private readonly socket: WebSocketLike & UpgradeAware, private readonly events: SocketEvents) {
    socket.onmessage = (event: { data: unknown }) => { if (!this.done) events.message(event.data) }
    socket.onclose = (event: { code?: number, reason?: string }) => this.closed(event.code ?? 1006, event.reason ?? '')
    // Errors are always followed by a close event, which is where the client reacts.
    socket.onerror = noop
    socket.on?.('unexpected-response', (_request, response) => {
      this.status = response.statusCode
      this.retryAfter = retryAfterOf(response)
      // With this listener `ws` leaves the failed handshake to us; closing it ends in close 1006.
      socket.close()
    })
  }

  get isOpen (): boolean {
    return !this.done && this.socket.readyState === OPEN
  }

  /** Writes a text frame if the socket is open; `false` means it was not written. */
  send (text: string): boolean {
    if (!this.isOpen) return false
    this.socket.send(text)
    return true
  }

  /** Starts the closing handshake; the close is still reported. */
  close (code: number, reason: string): void {
    this.socket.close(code, reason)
  }

  /** Drops the socket without waiting for a closing handshake that may never come. */
  abandon (): void {
    this.done = true
    const socket = this.socket
    socket.onmessage = socket.onclose = null
    try {
      if (typeof socket.terminate === 'function') socket.terminate()
      else socket.close()
    } catch {
      // Already closed: nothing left to drop.
    }
  }

  private closed (code: number, reason: string): void {
    if (this.done) return
    this.done = true
    this.events.close({ code, reason, status: this.status, retryAfter: this.retryAfter })
  }
}

/** The implementation to use: the one passed in, else the global one (browsers, Node ≥ 22). */
export function resolveWebSocket (given: WebSocketConstructor | undefined): WebSocketConstructor {
  const found = given ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket
  if (typeof found !== 'function') {
    throw new TypeError('no WebSocket implementation: pass one as the WebSocket option (in Node before 22: the "ws" package)')
  }
  return found
}

/** Throws, like the WebSocket constructor, on a URL or subprotocol it cannot use. */
export function openSocket (WebSocketImpl: WebSocketConstructor, target: ConnectTarget, events: SocketEvents): SocketHandle {
  return new SocketHandle(new WebSocketImpl(targetUrl(target), target.protocols, target.options), events)
}
