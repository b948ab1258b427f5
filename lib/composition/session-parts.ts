import type { FastifyBaseLogger } from 'fastify'
import { InboxBudget } from '../connection/inbox'
import type { ConnectionDirectory } from '../directory/connection-directory'
import type { Meter } from '../observe/meter'
import type { ChannelsService } from '../services/channels'
import type { EventsService } from '../services/events'
import type { GroupsService } from '../services/groups'
import type { Publisher, TopicJoiner } from '../services/ports'
import type { PresenceService } from '../services/presence'
import type { Adapter } from '../adapters/adapter'
import { builtinTypes, type HandlerContext } from '../session/builtin-handlers'
import { departureSteps } from '../session/departure'
import { Resumption } from '../session/resume'
import { Dispatcher } from '../session/dispatcher'
import { ErrorSink } from '../session/error-sink'
import { HeartbeatMonitor } from '../session/heartbeat'
import type { SessionParts } from '../session/session'
import type { ResolvedOptions } from '../config/options'
import { CleanupQueue } from '../util/cleanup-queue'
import { after, Deferrals } from '../util/deferrals'

export interface SessionPartsDeps {
  options: ResolvedOptions
  log: FastifyBaseLogger
  meter: Meter
  directory: ConnectionDirectory
  bus: Publisher & TopicJoiner
  events: EventsService
  channels: ChannelsService
  groups: GroupsService
  presence: PresenceService
  /** The adapter's stores that session resume keeps its sessions in and reads presence from. */
  stores: Pick<Adapter, 'sessions' | 'presence'>
}

/** Builds what the session is made of: its error sink, dispatcher, heartbeat, cleanup queue. */
export function buildSessionParts (deps: SessionPartsDeps): SessionParts {
  const { options, log, meter, directory, bus, events, channels, groups, presence } = deps
  const errors = new ErrorSink({ log, meter, events })
  const deferrals = new Deferrals((error) => errors.report(error, undefined, 'deferred task failed'))
  const context: HandlerContext = { channels, presence, publisher: bus, permissions: options.permissions, resumption: undefined }
  const resumption = options.resume === false ? undefined : buildResumption(options.resume.window, deps, context, errors)
  context.resumption = resumption
  const dispatcher = new Dispatcher({
    maxPayload: options.maxPayload,
    decode: options.codec?.decode,
    messageTypes: events.messageTypes,
    context,
    errors,
    meter,
    log
  })
  const { interval, timeout } = options.heartbeat
  const heartbeat = new HeartbeatMonitor({ interval, timeout, idleTimeout: options.idleTimeout, connections: directory, log })
  const steps = departureSteps({
    channels,
    groups,
    presence,
    events,
    autoUntrack: options.presence.autoUntrack,
    grace: after(options.presence.leaveGrace, deferrals),
    resumeGrace: after(Math.max(options.presence.leaveGrace, resumption?.window ?? 0), deferrals)
  })
  const cleanup = new CleanupQueue(options.cleanup, steps,
    (error, { conn }, step) => errors.report(error, conn, `connection cleanup failed (${step})`))
  return { inboxBudget: new InboxBudget(options.maxQueuedBytesTotal), errors, dispatcher, heartbeat, cleanup, deferrals, context, resumption }
}

/** Session resume over the adapter's stores: what a resumed session restores goes through the same paths as a client's own messages. */
function buildResumption (window: number, deps: SessionPartsDeps, context: HandlerContext, errors: ErrorSink): Resumption {
  const { stores } = deps
  return new Resumption({
    window,
    store: stores.sessions,
    presenceOf: async (conn) => (await stores.presence.get(conn.userId)).find((entry) => entry.connectionId === conn.id),
    present: async (conn, state) => { await builtinTypes.presence.handler(conn, { type: 'presence', ...state }, context) },
    subscribe: async (conn, channel, options) => {
      try {
        await builtinTypes.subscribe.handler(conn, { type: 'subscribe', channel, ...options }, context)
      } catch (error) {
        errors.failed(conn, error, undefined, `resuming the subscription to "${channel}" failed`)
      }
    }
  })
}
