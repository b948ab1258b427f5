import type { FastifyBaseLogger } from 'fastify'
import { randomUUID } from 'node:crypto'
import type { Adapter } from '../adapters/adapter'
import type { ChannelSubscription, Connection } from '../connection/connection'
import type { ResolvedOptions } from '../config/options'
import { ChannelPresence } from '../services/channel-presence'
import { ChannelRegistry } from '../services/channel-registry'
import { ChannelsService } from '../services/channels'
import { ChannelPolicies } from '../services/policies'
import { ConnectionsService } from '../services/connections'
import { LocalConnectionRoster, LocalSubscriptionRoster, SharedConnectionRoster, SharedSubscriptionRoster } from '../services/rosters'
import { EventsService, lifecycleEvents } from '../services/events'
import { GroupsService } from '../services/groups'
import { PresenceService } from '../services/presence'
import type { ConnectionRoster } from '../services/ports'
import { builtinTypes } from '../session/builtin-handlers'
import { Session, type SessionSettings } from '../session/session'
import { buildSessionParts } from './session-parts'
import type { Endpoint } from '../connection/connection'
import { Meter } from '../observe/meter'
import { TopicHub } from '../pubsub/topic-hub'
import { ConnectionDirectory } from '../directory/connection-directory'
import { Bus } from '../pubsub/bus'
import { isGroupTopic } from '../pubsub/topics'

/**
 * The plugin's state for one Fastify instance, and the one place it is built: the connection
 * directory, the topic hub and bus over the adapter, the services, and the session that
 * carries connections from open to released.
 */
export class RealtimeNode {
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
  readonly session: Session

  constructor (readonly options: ResolvedOptions, readonly log: FastifyBaseLogger) {
    this.nodeId = options.nodeId ?? randomUUID()
    this.adapter = options.adapter
    const bus = this.bus = new Bus({
      nodeId: this.nodeId,
      adapter: this.adapter,
      hub: this.hub,
      audience: this.directory,
      codec: options.codec,
      meter: this.meter,
      cluster: {
        departed: (departures) => { void this.presence.departed(departures) },
        vacated: (vacancies) => { void this.channelPresence.vacated(vacancies) },
        returned: (arrivals) => { void this.presence.returned(arrivals) },
        refilled: (vacancies) => { void this.channelPresence.refilled(vacancies) },
        regrouped: (userId) => this.groups.regrouped(userId),
        reconnected: () => { void this.groups.regroupAll().catch((error: unknown) => this.session.errors.report(error, undefined, 'regrouping after an outage failed')) },
        figures: () => ({ connections: this.directory.size, users: this.directory.userCount, startedAt: this.startedAt })
      }
    })
    const directory = this.directory
    this.events = new EventsService(new Set([...Object.keys(builtinTypes), ...lifecycleEvents]),
      (error, event, args) => this.session.errors.handlerFailed(error, event, args))
    const policies = new ChannelPolicies(options.channels.default, options.channels.policies)
    const subscriptions = this.adapter.local === true
      ? new LocalSubscriptionRoster(this.hub, this.nodeId)
      : new SharedSubscriptionRoster(this.adapter.members)
    this.channelPresence = new ChannelPresence({
      enabled: (channel) => policies.for(channel).presence,
      presence: { get: (userId) => this.presence.get(userId) },
      members: this.adapter.members,
      publisher: bus,
      defaultStatus: options.presence.defaultStatus
    })
    this.channels = new ChannelsService({
      connections: directory,
      publisher: bus,
      topics: bus,
      subscribers: this.hub,
      subscriptions,
      history: this.adapter.history,
      presence: this.channelPresence,
      events: this.events,
      policies,
      registry: new ChannelRegistry({ events: this.events, topics: this.hub }),
      maxMetaBytes: options.maxMetaBytes,
      maxSubscriptionsPerConnection: options.maxSubscriptionsPerConnection
    })
    this.groups = new GroupsService({
      connections: directory,
      publisher: bus,
      topics: bus,
      store: this.adapter.groups,
      members: this.adapter.members,
      regroup: (userId) => this.adapter.regroup(userId)
    })
    const roster = this.connectionRoster()
    this.connections = new ConnectionsService({ connections: directory, publisher: bus, roster })
    this.presence = new PresenceService({
      store: this.adapter.presence,
      events: this.events,
      maxMetaBytes: options.maxMetaBytes,
      defaultStatus: options.presence.defaultStatus,
      onUpdate: (presence) => this.channelPresence.updated(presence),
      channelUsers: (channel) => subscriptions.users(channel),
      groupUsers: async (group) => new Set((await this.groups.members(group)).map((m) => m.userId))
    })
    const parts = buildSessionParts({
      options, log, meter: this.meter, directory, bus, events: this.events, channels: this.channels, groups: this.groups, presence: this.presence, stores: this.adapter
    })
    this.session = new Session({
      ...parts,
      settings: sessionSettings(options),
      log,
      meter: this.meter,
      directory,
      topics: bus,
      events: this.events,
      groups: this.groups,
      roster,
      presence: this.presence
    })
  }

  /** Where every node's connections are counted: this node's directory when the adapter is this process alone. */
  private connectionRoster (): ConnectionRoster {
    return this.adapter.local === true
      ? new LocalConnectionRoster(this.directory, this.nodeId)
      : new SharedConnectionRoster(this.adapter.members)
  }

  /** Groups whose topic has a subscriber here: groups with a member connected to this node. */
  get localGroups (): number {
    let groups = 0
    for (const topic of this.hub.topicNames()) if (isGroupTopic(topic)) groups++
    return groups
  }

  /** Topics with a subscriber on this node (channels, groups, users, `all`). */
  get topicCount (): number {
    return this.bus.topicCount
  }

  start (): Promise<void> {
    return this.bus.start()
  }
}

function sessionSettings (options: ResolvedOptions): SessionSettings {
  const { rateLimit, inbox, maxBufferedBytes, maxMetaBytes, closeTimeout, heartbeat, codec } = options
  return {
    limits: { rateLimit, inbox, maxBufferedBytes, maxMetaBytes, closeTimeout, heartbeatTimeout: heartbeat.timeout, codec },
    maxConnectionsPerUser: options.maxConnectionsPerUser,
    heartbeat: { interval: heartbeat.interval, timeout: heartbeat.timeout },
    autoTrack: options.presence.autoTrack
  }
}
