import type { FastifyBaseLogger } from 'fastify'
import type { WebSocket } from 'ws'
import type { Connection, ConnectionContext, ConnectionHost, Identity } from '../connection/connection'
import type { InboxBudget } from '../connection/inbox'
import type { ConnectionLimits } from '../connection/limits'
import type { ConnectionState } from '../connection/state'
import type { ConnectionDirectory } from '../directory/connection-directory'
import type { Meter } from '../observe/meter'
import { CloseCode, ErrorCode } from '../protocol/codes'
import type { EventsService } from '../services/events'
import type { GroupsService } from '../services/groups'
import type { ConnectionRoster, UserTopics } from '../services/ports'
import type { PresenceService } from '../services/presence'
import type { CleanupQueue } from '../util/cleanup-queue'
import type { Deferrals } from '../util/deferrals'
import type { HandlerContext } from './builtin-handlers'
import type { Departure } from './departure'
import { type Dispatcher, refOf } from './dispatcher'
import type { ErrorSink } from './error-sink'
import type { HeartbeatMonitor } from './heartbeat'
import { closeConnection, type LifecycleDeps, openConnection } from './lifecycle'
import type { Resumption } from './resume'
import { handOff } from './handoff'
import { drain } from './shutdown'

/** The options a session acts on, resolved. */
export interface SessionSettings {
  limits: ConnectionLimits
  maxConnectionsPerUser: number
  heartbeat: { interval: number, timeout: number }
  autoTrack: boolean
}

/** The session's parts, built by the composition root. */
export interface SessionParts {
  /** Inbound bytes parked in every connection's inbox, capped by `maxQueuedBytesTotal`. */
  inboxBudget: InboxBudget
  errors: ErrorSink
  dispatcher: Dispatcher
  heartbeat: HeartbeatMonitor
  /** Disconnect cleanup, batched so a mass disconnect does not hold the event loop. */
  cleanup: CleanupQueue<Departure>
  /** Tasks waiting for their time (the presence leave grace); the drain runs them at once. */
  deferrals: Deferrals
  /** What the built-in message types act on. */
  context: HandlerContext
  /** Session resume, when it is on. */
  resumption: Resumption | undefined
}

export interface SessionDeps extends SessionParts {
  settings: SessionSettings
  log: FastifyBaseLogger
  meter: Meter
  directory: ConnectionDirectory
  topics: UserTopics
  events: EventsService
  groups: GroupsService
  roster: Pick<ConnectionRoster, 'registered' | 'unregistered'>
  presence: PresenceService
}

/**
 * Connections from open to released: what a connection reports (it is their `ConnectionHost`),
 * its frames dispatched, its heartbeat, its departure through the cleanup queue, and the
 * server's drain.
 */
export class Session implements ConnectionHost {
  readonly limits: ConnectionLimits
  readonly inboxBudget: InboxBudget
  readonly errors: ErrorSink
  readonly cleanup: CleanupQueue<Departure>
  readonly heartbeat: HeartbeatMonitor
  private readonly lifecycle: LifecycleDeps
  private drainStarted = false
  private handoff: Promise<void> | undefined

  constructor (private readonly deps: SessionDeps) {
    const { settings, errors, cleanup } = deps
    this.limits = settings.limits
    this.inboxBudget = deps.inboxBudget
    this.errors = errors
    this.cleanup = cleanup
    this.heartbeat = deps.heartbeat
    this.lifecycle = {
      host: this,
      accepting: () => !this.drainStarted,
      log: deps.log,
      meter: deps.meter,
      codec: settings.limits.codec,
      maxConnectionsPerUser: settings.maxConnectionsPerUser,
      heartbeat: settings.heartbeat,
      autoTrack: settings.autoTrack,
      directory: deps.directory,
      topics: deps.topics,
      groups: deps.groups,
      roster: deps.roster,
      presence: deps.presence,
      events: deps.events,
      context: deps.context,
      errors,
      cleanup,
      resumption: deps.resumption
    }
  }

  /** The server drains (`handOff`, or shutdown): new connections are refused and /health answers 503. */
  get draining (): boolean {
    return this.drainStarted
  }

  /** An upgraded socket becomes a connection, or is refused (no identity, over the per-user limit, draining). */
  open (socket: WebSocket, identity: Identity | null, context: ConnectionContext): Connection | undefined {
    return openConnection(this.lifecycle, socket, identity, context)
  }

  /** Every client told 1001 and given `closeTimeout` to go, then the cleanup finished. */
  drain (): Promise<void> {
    return drain({
      stopAccepting: () => { this.drainStarted = true },
      connections: this.deps.directory,
      closeTimeout: this.deps.settings.limits.closeTimeout,
      cleanup: this.cleanup,
      deferrals: this.deps.deferrals
    })
  }

  /**
   * A rolling deploy's drain: new connections are refused, every client is told when to
   * reconnect (spread over `timeout` ms) and closed then. Resolves when every connection is
   * gone and its cleanup ran; a second call gets the first one's promise.
   */
  handOff (timeout: number): Promise<void> {
    this.drainStarted = true
    this.handoff ??= handOff({ connections: this.deps.directory, closeTimeout: this.limits.closeTimeout, random: Math.random }, timeout)
      .then(() => this.cleanup.drain())
    return this.handoff
  }

  handle (conn: Connection, data: Buffer, isBinary: boolean): Promise<void> | undefined {
    return this.deps.dispatcher.handle(conn, data, isBinary)
  }

  sent (message: object, text: string): void {
    this.deps.meter.sent(message, text)
  }

  slowConsumer (conn: Connection): void {
    this.deps.meter.slowConsumer()
    this.deps.log.warn({ connectionId: conn.id, userId: conn.userId, buffered: conn.bufferedAmount },
      'closing slow consumer over its send buffer')
    conn.closeAndTerminate(CloseCode.PolicyViolation, 'slow consumer')
  }

  rateLimited (conn: Connection, persistent: boolean, frame?: { data: Buffer, isBinary: boolean }): void {
    this.deps.meter.rateLimitedFrame()
    if (persistent) {
      this.deps.log.warn({ connectionId: conn.id, userId: conn.userId }, 'closing connection over its rate limit')
      conn.closeAndTerminate(CloseCode.PolicyViolation, 'rate limit exceeded')
      return
    }
    // No error frame for a dropped ping or pong: a flood of them would be answered with one each.
    if (frame !== undefined) this.errors.send(conn, ErrorCode.RateLimited, 'too many messages; slow down', refOf(frame.data, frame.isBinary))
  }

  stateChanged (conn: Connection, from: ConnectionState, to: ConnectionState): void {
    const events = this.deps.events
    if (events.listenerCount('state_change') > 0) void events.emit('state_change', conn, from, to)
  }

  pong (_conn: Connection, ms: number): void {
    this.deps.meter.heartbeat(ms)
  }

  closed (conn: Connection, code: number, reason: string): void {
    void closeConnection(this.lifecycle, conn, code, reason)
  }

  // A peer's malformed frame is its fault, not the server's: `ws` has already closed with the
  // right code (1002, 1007, 1009), so it is logged at info and not reported as an error.
  socketError (conn: Connection, error: Error, peerViolation: boolean): void {
    if (peerViolation) this.deps.log.info({ connectionId: conn.id, userId: conn.userId, reason: error.message }, 'peer sent an invalid frame')
    else this.errors.report(error, conn, 'socket error')
  }
}
