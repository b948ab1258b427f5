import { randomBytes } from 'node:crypto'
import type { PresenceEntry, SessionStore, StreamPosition } from '../adapters/adapter'
import type { Connection } from '../connection/connection'
import { errors } from '../errors'
import { CloseCode } from '../protocol/codes'

/** What a dropped connection leaves for the next one to take over. */
interface SuspendedSession {
  /** Each subscription: channel, meta, echo. */
  subscriptions: Array<[string, Record<string, unknown>, boolean]>
  presence?: { status: string, meta: Record<string, unknown> }
}

export interface ResumeDeps {
  /** Milliseconds a dropped connection's session waits for its client. */
  window: number
  store: SessionStore
  /** The connection's presence entry, if it has one. */
  presenceOf (conn: Connection): Promise<PresenceEntry | undefined>
  /** Sets the connection's presence (update, or track when it has none). */
  present (conn: Connection, state: { status: string, meta: Record<string, unknown> }): Promise<void>
  /** Subscribes like a client's `subscribe` without a ref: policies apply, a refusal is an `error` frame. */
  subscribe (conn: Connection, channel: string, options: { meta: Record<string, unknown>, echo: boolean, since?: StreamPosition }): Promise<void>
}

/**
 * Closes after which the client is expected back: the network or the server went away. A
 * close the client asked for (1000, no code) or a server's verdict on the client (1008,
 * 1009, 1002…) ends the session.
 */
const RESUMABLE_CLOSES = new Set<number>([CloseCode.GoingAway, 1006, CloseCode.InternalError, 1012, 1013, CloseCode.HeartbeatTimeout])

/** A token names the user too: someone else's connection cannot take (and so spoil) it. */
function keyOf (userId: string, token: string): string {
  return `resume:${userId.length}:${userId}:${token}`
}

/**
 * Session resume: every connection gets a token in `connected`; when its socket drops, its
 * subscriptions and presence are kept under that token for the resume window, and a new
 * connection of the same user, on any node, takes them over with a `resume` message.
 */
export class Resumption {
  private readonly tokens = new WeakMap<Connection, string>()

  constructor (private readonly deps: ResumeDeps) {}

  get window (): number {
    return this.deps.window
  }

  tokenOf (conn: Connection): string {
    let token = this.tokens.get(conn)
    if (token === undefined) this.tokens.set(conn, token = randomBytes(16).toString('base64url'))
    return token
  }

  /** After the socket closed: keeps the session when the client is expected back; `true` if kept. */
  async suspend (conn: Connection, code: number): Promise<boolean> {
    const token = this.tokens.get(conn)
    if (token === undefined || !RESUMABLE_CLOSES.has(code)) return false
    const entry = await this.deps.presenceOf(conn)
    const session: SuspendedSession = {
      subscriptions: Array.from(conn.subscriptions, ([channel, { meta, echo }]) => [channel, meta, echo]),
      presence: entry === undefined ? undefined : { status: entry.status, meta: entry.meta }
    }
    await this.deps.store.save(keyOf(conn.userId, token), JSON.stringify(session), this.deps.window)
    return true
  }

  /**
   * Takes over a suspended session: its presence, then its subscriptions, each answered with
   * `subscribed` (and recovered from history when `since` names the channel). Rejects with
   * HAUYNA_RESUME_FAILED when the token is unknown, expired, used, or another user's.
   */
  async resume (conn: Connection, token: string, since: Record<string, StreamPosition> = {}): Promise<void> {
    const record = await this.deps.store.take(keyOf(conn.userId, token))
    if (record === undefined) throw new errors.ResumeFailed()
    const session = JSON.parse(record) as SuspendedSession
    if (session.presence !== undefined) await this.deps.present(conn, session.presence)
    for (const [channel, meta, echo] of session.subscriptions) {
      await this.deps.subscribe(conn, channel, { meta, echo, since: Object.hasOwn(since, channel) ? since[channel] : undefined })
    }
  }
}
