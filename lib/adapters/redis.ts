import { errors, unavailable } from '../errors'
import type { Adapter, AdapterHealth, AdapterNode, Appended, Departure, Envelope, HistoryPolicy, NodeInfo } from './adapter'
import { Appends } from './redis-appends'
import { RedisGroupStore } from './redis-groups'
import { RedisHistoryStore } from './redis-history'
import { RedisSessionStore } from './redis-sessions'
import { RedisMemberStore } from './redis-members'
import { type RedisConfig, resolveConfig } from './redis-config'
import { type Connections, isCluster, openConnections, type RedisConnection, serversOf } from './redis-connections'
import type { OutgoingStats, RedisAdapterOptions } from './redis-options'
import { Outbox } from './redis-outbox'
import { nodeInfo } from './node-info'
import { keysOf, type RedisKeys } from './redis-keys'
import { type Purged, RedisPresenceStore } from './redis-presence'
import { ignore, isReady, REPLY_TIMEOUT_MS, within } from './redis-reply'
import { ShardedSubscriptions } from './redis-sharded-subscriptions'
import { TopicSubscriptions } from './redis-subscriptions'
import { decodeMessage, field, headerOf, type Received } from './redis-wire'

export type { OutgoingStats, RedisAdapterOptions } from './redis-options'

/** The Redis adapter, with the state of its outgoing queue. */
export interface RedisAdapter extends Adapter {
  /** Cross-node publishes in flight to Redis, and those dropped so far. */
  readonly outgoing: Readonly<OutgoingStats>
}

function isDeparture (value: unknown): value is Departure {
  const { userId, entry } = (value ?? {}) as Partial<Departure>
  return typeof userId === 'string' && typeof entry?.connectionId === 'string' && typeof entry.status === 'string'
}

async function end (redis: RedisConnection): Promise<void> {
  if (isReady(redis)) await within(redis.quit(), REPLY_TIMEOUT_MS).catch(ignore)
  redis.disconnect()
}

class RedisAdapterImpl implements RedisAdapter {
  readonly name = 'redis'
  readonly presence: RedisPresenceStore
  readonly members: RedisMemberStore
  readonly groups: RedisGroupStore
  readonly history: RedisHistoryStore
  readonly sessions: RedisSessionStore
  private readonly keys: RedisKeys
  private readonly connections: Connections
  private readonly commands: RedisConnection
  private readonly subscriber: RedisConnection
  private readonly subscriptions: TopicSubscriptions | ShardedSubscriptions
  private readonly outbox: Outbox
  private readonly appends: Appends
  private node: AdapterNode | undefined
  private nodeId = ''
  /** The opening of this node's messages without a place, to recognize its own publishes coming back. */
  private ownHeader = ''
  /** This node's id as a header field, for its history messages, which have a place before it. */
  private nodeField = ''
  private heartbeat: NodeJS.Timeout | undefined
  private beating = false
  private closing: Promise<void> | undefined

  constructor (private readonly config: RedisConfig) {
    this.keys = keysOf(config.keyPrefix, config.sharded)
    this.connections = openConnections(config)
    const { commands, subscriber } = this.connections
    this.commands = commands
    this.subscriber = subscriber
    // Without a listener ioredis prints every connection error to the console. The adapter
    // has no logger; a lost connection reaches the app through health() (/health: 503, reason).
    for (const redis of this.connections.owned) redis.on('error', ignore)
    // On a cluster, topics go over sharded pub/sub: each channel lives on the shard of its slot.
    const receive = (channel: string, message: string): void => this.receive(channel, message)
    if (isCluster(subscriber)) {
      subscriber.on('smessage', receive)
      this.subscriptions = new ShardedSubscriptions(subscriber)
    } else {
      subscriber.on('message', receive)
      this.subscriptions = new TopicSubscriptions(subscriber)
    }
    this.outbox = new Outbox(commands, { maxMessages: config.maxOutgoingMessages, maxBytes: config.maxOutgoingBytes })
    this.presence = new RedisPresenceStore(this.commands, this.keys, () => this.nodeId, config.nodeTtl,
      () => this.node === undefined ? undefined : nodeInfo(this.node))
    this.members = new RedisMemberStore(this.commands, this.keys, () => this.nodeId)
    this.groups = new RedisGroupStore(this.commands, this.keys)
    this.history = new RedisHistoryStore(this.commands, this.keys, config.sharded)
    this.sessions = new RedisSessionStore(this.commands, this.keys)
    this.appends = new Appends((channel) => isReady(this.subscriber) && this.subscriptions.has(channel))
    // Copies of this node's history messages that were on their way are lost with the connection.
    subscriber.on('close', () => this.appends.lost())
    // Back from an outage, Redis may have lost this node's entries or purged them as a dead node's.
    this.commands.on('ready', this.reregister)
  }

  get outgoing (): Readonly<OutgoingStats> {
    return this.outbox.stats
  }

  async init (node: AdapterNode): Promise<void> {
    this.node = node
    this.nodeId = node.nodeId
    this.ownHeader = headerOf(node.nodeId)
    this.nodeField = field(node.nodeId)
    try {
      await Promise.all(this.connections.owned.map((redis) => redis.connect())).catch((error: unknown) => {
        throw Object.assign(new errors.RedisUnreachable(this.connections.address(), (error as Error).message), { cause: error })
      })
      await this.subscriptions.add(this.keys.control)
      this.announce(await this.presence.register())
      await this.members.register()
    } catch (error) {
      this.node = undefined
      for (const redis of this.connections.owned) redis.disconnect()
      throw error
    }
    // Three beats per nodeTtl, so a lost or late beat does not get a live node purged.
    this.heartbeat = setInterval(() => this.tick(), Math.floor(this.config.nodeTtl / 3))
    this.heartbeat.unref()
  }

  /**
   * Delivers to this node's subscribers at once, then hands the message to the outgoing queue
   * for the others, and ignores it when it comes back (see `receive`). Nothing waits for Redis:
   * resolves to the deliveries made on this node (other nodes' counts are not known here), or
   * rejects with HAUYNA_UNAVAILABLE, carrying that count, when the message could not go to the
   * other nodes (Redis not ready, or the queue full).
   */
  publish (topic: string, envelope: Envelope): Promise<number> {
    if (this.node === undefined) return Promise.resolve(0)
    const delivered = this.node.deliver(topic, envelope)
    const message = this.ownHeader + field(envelope.origin) + field(envelope.skip) + envelope.payload
    return this.outbox.send(this.keys.topic(topic), message) ? Promise.resolve(delivered) : Promise.reject(unavailable(delivered))
  }

  /**
   * One script keeps the message and publishes it with its place (see `redis-history.ts`), so
   * every node, this one included, delivers the channel's messages in offset order: this node
   * delivers its own when Redis sends it back, and resolves with its deliveries then (see
   * `Appends`). Rejects with HAUYNA_UNAVAILABLE, delivered nowhere, when the script cannot go
   * (Redis not ready, the outgoing queue full) or does not answer in time.
   */
  append (topic: string, envelope: Envelope, policy: HistoryPolicy): Promise<Appended> {
    if (this.node === undefined) return Promise.reject(unavailable(0))
    const channel = this.keys.topic(topic)
    const header = this.nodeField + field(envelope.origin) + field(envelope.skip)
    const { payload } = envelope
    const reply = this.outbox.carry(Buffer.byteLength(header) + Buffer.byteLength(payload),
      () => this.history.append(channel, header, payload, policy))
    return reply === undefined ? Promise.reject(unavailable(0)) : this.appends.wait(channel, reply)
  }

  subscribe (topic: string): Promise<void> {
    return this.subscriptions.add(this.keys.topic(topic))
  }

  unsubscribe (topic: string): Promise<void> {
    const channel = this.keys.topic(topic)
    this.appends.left(channel)
    return this.subscriptions.remove(channel)
  }

  /**
   * Healthy when both connections are ready and Redis answers PING in time: on a cluster, every
   * master, since each holds some of the topics.
   */
  async health (): Promise<AdapterHealth> {
    if (this.node === undefined) return this.unhealthy('adapter not running')
    const down = this.connectionsDown()
    if (down.length > 0) return this.unhealthy(down.join(', '))
    const servers = serversOf(this.commands)
    const pongs = await Promise.all(servers.map(async ({ connection }) =>
      connection === undefined ? undefined : await within(connection.ping().catch(ignore), REPLY_TIMEOUT_MS)))
    const silent = servers.filter((_, i) => pongs[i] !== 'PONG').map((server) => server.address)
    if (silent.length === 0) return { ok: true }
    return this.unhealthy(`no PONG within ${REPLY_TIMEOUT_MS} ms${isCluster(this.commands) ? ` from ${silent.join(', ')}` : ''}`)
  }

  /** `redis <where>: <problem>`: where, so that an operator of several Redis servers knows which. */
  private unhealthy (problem: string): AdapterHealth {
    return { ok: false, reason: `redis ${this.connections.address()}: ${problem}` }
  }

  /** Each connection not ready, with its ioredis status (`command connection reconnecting`). */
  private connectionsDown (): string[] {
    const roles: Array<[string, RedisConnection]> = [['command', this.commands], ['subscriber', this.subscriber]]
    return roles.filter(([, redis]) => !isReady(redis)).map(([role, redis]) => `${role} connection ${redis.status}`)
  }

  nodes (): Promise<NodeInfo[]> {
    return this.presence.nodes()
  }

  close (): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown (): Promise<void> {
    clearInterval(this.heartbeat)
    this.commands.off('ready', this.reregister)
    const initialized = this.node !== undefined
    this.node = undefined
    this.appends.close()
    // Best effort: if Redis does not answer, the other nodes purge these entries after nodeTtl.
    if (initialized && isReady(this.commands)) await within(this.presence.leave(), REPLY_TIMEOUT_MS).catch(ignore)
    await Promise.all(this.connections.owned.map(end))
  }

  private receive (channel: string, message: string): void {
    if (message.startsWith(this.ownHeader)) return
    const received = decodeMessage(message)
    if (channel === this.keys.control) this.controlled(received.envelope.payload)
    else this.deliver(channel, received)
  }

  /** A topic's message; this node's own history message settles its append with the deliveries made. */
  private deliver (channel: string, { nodeId, place, envelope }: Received): void {
    if (this.node === undefined) return
    const delivered = this.node.deliver(channel.slice(this.keys.topics.length), envelope)
    if (place !== undefined && nodeId === this.nodeId) this.appends.arrived(channel, place, delivered)
  }

  /**
   * Another node's announcement: the users a dead node took with it (an array), a user whose
   * added groups changed (`{ regroup }`), or the users of a node back from the dead (`{ returned }`). Only nodes write there; anything else is dropped, never thrown.
   */
  private controlled (payload: string): void {
    let message: unknown
    try {
      message = JSON.parse(payload)
    } catch {
      return
    }
    if (Array.isArray(message)) {
      if (message.every(isDeparture)) this.node?.departed(message)
      return
    }
    const { regroup, returned } = (message ?? {}) as { regroup?: unknown, returned?: unknown }
    if (typeof regroup === 'string') this.node?.regrouped(regroup).catch(ignore)
    if (Array.isArray(returned) && returned.every(isDeparture)) this.node?.returned(returned)
  }

  /** The user's connections on this node follow now, those on the others when the news reaches them. */
  async regroup (userId: string): Promise<void> {
    this.outbox.send(this.keys.control, this.ownHeader + field(undefined) + field(undefined) + JSON.stringify({ regroup: userId }))
    await this.node?.regrouped(userId)
  }

  /**
   * This node purged dead nodes: it announces their users here and tells the others on the
   * control channel; the users they took out of sets are its alone to announce (the
   * announcements reach every node as messages). The purge is one script, so exactly one node
   * announces each dead node.
   */
  private announce ({ departures, vacancies }: Purged): void {
    if (vacancies.length > 0) this.node?.vacated(vacancies)
    if (departures.length === 0) return
    this.node?.departed(departures)
    // If Redis cannot take it now, the others never hear of these users: the purge is done.
    this.outbox.send(this.keys.control, this.ownHeader + field(undefined) + field(undefined) + JSON.stringify(departures))
  }

  /**
   * The command connection is ready again (not its first connect, which `init` handles).
   * A field, so that `close` can take it off an app's client, which outlives the adapter.
   */
  private readonly reregister = (): void => {
    if (this.heartbeat === undefined || this.node === undefined) return
    this.presence.stale = true
    this.members.stale = true
    this.tick()
    this.node.reconnected()
  }

  // One beat at a time, never queued while Redis is not ready, and bounded: a beat lost with
  // its connection does not hold the next ones back. A beat that finds this node's key gone, or
  // follows a write that did not reach Redis, writes this node's entries back.
  private tick (): void {
    if (this.beating || !isReady(this.commands)) return
    this.beating = true
    within(this.maintain(), REPLY_TIMEOUT_MS).catch(ignore).finally(() => { this.beating = false })
  }

  private async maintain (): Promise<void> {
    const beat = this.presence.stale ? undefined : await this.presence.beat()
    if (beat !== undefined) this.announce(beat.purged)
    let wasPurged = false
    if (beat?.known !== true) {
      const registration = await this.presence.register()
      this.announce(registration)
      wasPurged = registration.wasPurged
      if (wasPurged) this.welcomeBack(registration.returned)
    }
    if (beat?.known !== true || this.members.stale) {
      const back = await this.members.register()
      if (wasPurged && back.length > 0) this.node?.refilled(back)
    }
  }

  /** This node was purged as dead and is back: its users announced as gone are announced back, here and on the others. */
  private welcomeBack (returned: Departure[]): void {
    if (returned.length === 0) return
    this.node?.returned(returned)
    this.outbox.send(this.keys.control, this.ownHeader + field(undefined) + field(undefined) + JSON.stringify({ returned }))
  }
}

/**
 * Shares topics and presence between the nodes of a cluster through Redis: one pub/sub
 * channel per topic a node has local subscribers for, presence in hashes that every node
 * reads, with a crashed node's entries purged once its liveness key expires, and the history
 * of the channels that keep one in a stream per channel.
 */
export function redisAdapter (options: RedisAdapterOptions): RedisAdapter {
  return new RedisAdapterImpl(resolveConfig(options))
}
