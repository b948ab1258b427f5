import type { FastifyBaseLogger } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Adapter } from '../adapters/adapter'
import { type ChannelSubscription, Connection, type ConnectionHost, type ConnectionLimits } from '../connection/connection'
import { InboxBudget } from '../connection/inbox'
import type { ConnectionState } from '../connection/state'
import type { ResolvedOptions } from '../options'
import { frames } from '../protocol/frames'
import { CloseCode, ErrorCode } from '../protocol/codes'
import type { Ref } from '../protocol/schemas'
import type { ValidationDetail } from '../protocol/validator'
import { ChannelPresence } from '../services/channel-presence'
import { ChannelsService, type ConnectionRef } from '../services/channels'
import { ConnectionsService } from '../services/connections'
import { EventsService, lifecycleEvents } from '../services/events'
import { GroupsService } from '../services/groups'
import { PresenceService } from '../services/presence'
import { builtinTypes } from './builtin-handlers'
import { CleanupQueue } from '../util/cleanup-queue'
import { after, Deferrals, type Later } from '../util/deferrals'
import { type Departure, departureSteps } from './departure'
import { Dispatcher, refOf } from './dispatcher'
import type { Endpoint } from './endpoint'
import { Meter } from '../observe/meter'
import { channelTopic } from '../pubsub/topics'
import { TopicHub } from '../pubsub/topic-hub'
import { ConnectionDirectory } from '../directory/connection-directory'
import { Bus } from '../pubsub/bus'
import { closeConnection } from './lifecycle'

/**
 * The plugin's state for one Fastify instance: the connection registry, the topic hub,
 * the adapter and the services built on them. Everything is released by `close()`.
 */
export class Runtime implements ConnectionHost {
  readonly nodeId: string
  readonly adapter: Adapter
  /** @internal */
  readonly hub = new TopicHub<Connection, ChannelSubscription>()
  private readonly bus: Bus<Connection, ChannelSubscription>
  readonly startedAt = Date.now()
  /** Running totals for stats, and the metrics sink when metrics are on. */
  readonly meter = new Meter()

  readonly endpoints: Endpoint[] = []
  readonly directory = new ConnectionDirectory()
  readonly events: EventsService
  readonly channels: ChannelsService
  readonly channelPresence: ChannelPresence
  readonly groups: GroupsService
  readonly presence: PresenceService
  readonly connections: ConnectionsService
  readonly dispatcher: Dispatcher
  /** Disconnect cleanup, batched so a mass disconnect does not hold the event loop. */
  readonly cleanup: CleanupQueue<Departure>
  /** Inbound bytes parked in every connection's inbox, capped by `maxQueuedBytesTotal`. */
  readonly inboxBudget: InboxBudget
  draining = false
  /** Tasks waiting for their time; shutdown runs them at once. */
  readonly deferrals = new Deferrals((error) => this.reportError(error, undefined, 'deferred task failed'))
  /** When a departed connection's presence leaves: after `presence.leaveGrace`. */
  readonly leaveGrace: Later
  readonly limits: ConnectionLimits

  constructor (readonly options: ResolvedOptions, readonly log: FastifyBaseLogger) {
    this.nodeId = options.nodeId ?? randomUUID()
    this.adapter = options.adapter
    this.bus = new Bus({ nodeId: this.nodeId, adapter: this.adapter, hub: this.hub, codec: options.codec, meter: this.meter })
    this.inboxBudget = new InboxBudget(options.maxQueuedBytesTotal)
    this.leaveGrace = after(options.presence.leaveGrace, this.deferrals)
    const { rateLimit, inbox, maxBufferedBytes, maxMetaBytes, closeTimeout, heartbeat, codec } = options
    this.limits = { rateLimit, inbox, maxBufferedBytes, maxMetaBytes, closeTimeout, heartbeatTimeout: heartbeat.timeout, codec }
    this.events = new EventsService(new Set([...Object.keys(builtinTypes), ...lifecycleEvents]),
      (error, event, args) => this.onHandlerError(error, event, args))
    this.channels = new ChannelsService(this)
    this.channelPresence = new ChannelPresence(this)
    this.groups = new GroupsService({ connections: this.directory, publisher: this.bus, topics: this.bus })
    this.connections = new ConnectionsService({ connections: this.directory, publisher: this.bus })
    this.presence = new PresenceService({
      store: this.adapter.presence,
      events: this.events,
      maxMetaBytes: options.maxMetaBytes,
      defaultStatus: options.presence.defaultStatus,
      onUpdate: (userId) => this.channelPresence.updated(userId),
      channelUsers: async (channel) => this.usersOf(channelTopic(channel)),
      groupUsers: async (group) => new Set((await this.groups.members(group)).map((m) => m.userId))
    })
    this.dispatcher = new Dispatcher(this)
    const steps = departureSteps({
      channels: this.channels,
      groups: this.groups,
      topics: this,
      presence: this.presence,
      events: this.events,
      autoUntrack: options.presence.autoUntrack,
      grace: this.leaveGrace
    })
    this.cleanup = new CleanupQueue(options.cleanup, steps,
      (error, { conn }, step) => this.reportError(error, conn, `connection cleanup failed (${step})`))
  }

  start (): Promise<void> {
    return this.bus.start()
  }

  publish (topic: string, message: object, origin?: string, skip?: string): Promise<number> {
    return this.bus.publish(topic, message, origin, skip)
  }

  join (conn: Connection, topic: string, subscription: ChannelSubscription | null): Promise<void> | undefined {
    return this.bus.join(conn, topic, subscription)
  }

  leave (conn: Connection, topic: string): Promise<void> | undefined {
    return this.bus.leave(conn, topic)
  }

  connection (target: ConnectionRef): Connection {
    return this.directory.resolve(target)
  }

  userConnections (userId: string): Connection[] {
    return this.directory.ofUser(userId)
  }

  register (conn: Connection): void {
    this.directory.add(conn)
    conn.route.connections++
    this.meter.accepted()
  }

  /** Returns `true` when `conn` was its user's last connection on this node. */
  unregister (conn: Connection): boolean {
    conn.route.connections--
    return this.directory.remove(conn)
  }

  sendError (conn: Connection, code: ErrorCode, message: string, ref?: Ref, details?: ValidationDetail[]): void {
    this.meter.errorSent(code)
    // Only a written line spends the connection's log budget.
    if (this.log.level === 'debug' || this.log.level === 'trace') {
      const suppressed = conn.admitLog(Date.now())
      if (suppressed !== undefined) {
        this.log.debug({ connectionId: conn.id, userId: conn.userId, code, ref, suppressed: suppressed || undefined }, 'protocol error: %s', message)
      }
    }
    conn.send(frames.error(code, message, ref, details))
  }

  /**
   * The one error sink: logged with the connection's identity (within its log budget) and
   * emitted as `error`.
   */
  reportError (error: unknown, conn: Connection | undefined, message: string): void {
    const err = error instanceof Error ? error : new Error(String(error))
    const suppressed = conn === undefined ? 0 : conn.admitLog(Date.now())
    if (suppressed !== undefined) this.log.error({ err, connectionId: conn?.id, userId: conn?.userId, suppressed: suppressed || undefined }, message)
    if (this.events.listenerCount('error') > 0) void this.events.emit('error', err, conn)
  }

  /**
   * A failing handler: reported, and its connection (if any) told `internal_error` without
   * the details, and kept. A failing `error` handler is only logged: emitting `error` for it
   * would feed itself.
   */
  private onHandlerError (error: unknown, event: string, args: unknown[]): void {
    if (event === 'error') {
      this.log.error({ err: error }, '"error" handler failed')
      return
    }
    const conn = args.find((arg): arg is Connection => arg instanceof Connection)
    this.reportError(error, conn, `"${event}" handler failed`)
    if (conn?.isOpen === true) this.sendError(conn, ErrorCode.InternalError, `internal server error in "${event}" handler`)
  }

  handle (conn: Connection, data: Buffer, isBinary: boolean): Promise<void> | undefined {
    return this.dispatcher.handle(conn, data, isBinary)
  }

  sent (message: object, text: string): void {
    this.meter.sent(message, text)
  }

  slowConsumer (conn: Connection): void {
    this.meter.slowConsumer()
    this.log.warn({ connectionId: conn.id, userId: conn.userId, buffered: conn.bufferedAmount },
      'closing slow consumer over its send buffer')
    conn.closeAndTerminate(CloseCode.PolicyViolation, 'slow consumer')
  }

  rateLimited (conn: Connection, persistent: boolean, frame?: { data: Buffer, isBinary: boolean }): void {
    this.meter.rateLimitedFrame()
    if (persistent) {
      this.log.warn({ connectionId: conn.id, userId: conn.userId }, 'closing connection over its rate limit')
      conn.closeAndTerminate(CloseCode.PolicyViolation, 'rate limit exceeded')
      return
    }
    // No error frame for a dropped ping or pong: a flood of them would be answered with one each.
    if (frame !== undefined) this.sendError(conn, ErrorCode.RateLimited, 'too many messages; slow down', refOf(frame.data, frame.isBinary))
  }

  stateChanged (conn: Connection, from: ConnectionState, to: ConnectionState): void {
    if (this.events.listenerCount('state_change') > 0) void this.events.emit('state_change', conn, from, to)
  }

  pong (_conn: Connection, ms: number): void {
    this.meter.heartbeat(ms)
  }

  closed (conn: Connection, code: number, reason: string): void {
    void closeConnection(this, conn, code, reason)
  }

  // A peer's malformed frame is its fault, not the server's: `ws` has already closed with the
  // right code (1002, 1007, 1009), so it is logged at info and not reported as an error.
  socketError (conn: Connection, error: Error, peerViolation: boolean): void {
    if (peerViolation) this.log.info({ connectionId: conn.id, userId: conn.userId, reason: error.message }, 'peer sent an invalid frame')
    else this.reportError(error, conn, 'socket error')
  }

  private usersOf (topic: string): Set<string> {
    const users = new Set<string>()
    for (const conn of this.hub.subscribers(topic)?.keys() ?? []) users.add(conn.userId)
    return users
  }
}
