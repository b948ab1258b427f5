import { performance } from 'node:perf_hooks'
import type { Adapter, AdapterNode, Appended, ClusterListener, Envelope, HistoryPolicy } from '../adapters/adapter'
import { deliveredLocally } from '../errors'
import type { Meter } from '../observe/meter'
import { type Codec, encodeMessage, placeMessage } from '../protocol/codec'
import { audienceOf, deliverToAudience, type LocalAudience } from './local-audience'
import type { Deliverable, Delivery, TopicHub } from './topic-hub'
import { ALL_TOPIC, userTopic } from './topics'

export interface BusDeps<D extends Deliverable, S extends Delivery> {
  nodeId: string
  adapter: Adapter
  hub: TopicHub<D, S>
  /** Who the user and `all` topics reach here (the connection directory). */
  audience: LocalAudience<D>
  codec: Codec | undefined
  meter: Pick<Meter, 'delivered' | 'publishFailed'>
  /** What the adapter tells this node about the cluster: the services, above this layer, act on it. */
  cluster: ClusterListener
}

/**
 * Publish and subscribe for this node: publishes go through the adapter (to every node),
 * and what the adapter hands back is fanned out by the local hub. The adapter calls up
 * through the `AdapterNode` the bus gives it: deliveries to the bus, the rest to the cluster
 * listener that the composition root wires to the services.
 */
export class Bus<D extends Deliverable, S extends Delivery> {
  private readonly nodeId: string
  private readonly adapter: Adapter
  private readonly hub: TopicHub<D, S>
  private readonly audience: LocalAudience<D>
  private readonly codec: Codec | undefined
  private readonly meter: Pick<Meter, 'delivered' | 'publishFailed'>
  private readonly cluster: ClusterListener
  /** A local adapter is the whole cluster: no topic needs bringing to this node, so none is told. */
  private readonly tellsTopics: boolean

  constructor (deps: BusDeps<D, S>) {
    this.nodeId = deps.nodeId
    this.adapter = deps.adapter
    this.hub = deps.hub
    this.audience = deps.audience
    this.codec = deps.codec
    this.meter = deps.meter
    this.cluster = deps.cluster
    this.tellsTopics = deps.adapter.local !== true
  }

  /**
   * Starts the adapter with this node: deliveries come to the bus, the rest to the cluster
   * listener. The `all` topic reaches every connection, so the node takes it for its lifetime.
   */
  async start (): Promise<void> {
    const node: AdapterNode = { ...this.cluster, nodeId: this.nodeId, deliver: (topic, envelope) => this.deliver(topic, envelope) }
    await this.adapter.init(node)
    if (this.tellsTopics) await this.adapter.subscribe(ALL_TOPIC)
  }

  deliver (topic: string, envelope: Envelope): number {
    const started = performance.now()
    const placed = envelope.offset === undefined ? envelope : this.placed(envelope, envelope.offset)
    if (placed === undefined) return 0
    const recipients = audienceOf(this.audience, topic)
    const count = recipients === undefined ? this.hub.deliver(topic, placed) : deliverToAudience(recipients, placed.payload, placed.skip)
    this.meter.delivered(placed.payload, count, performance.now() - started)
    return count
  }

  /**
   * Encodes once and publishes through the adapter. Every publish passes here (client frames,
   * service calls, presence diffs), so this is where one that missed the other nodes is counted.
   */
  publish (topic: string, message: object, origin?: string, skip?: string): Promise<number> {
    const payload = encodeMessage(this.codec, message)
    return payload === undefined ? Promise.resolve(0) : this.adapter.publish(topic, { payload, origin, skip }).catch(this.countFailure)
  }

  /** A history channel's message with its offset and epoch written in, once for every local subscriber; `undefined` when the codec drops it. */
  private placed (envelope: Envelope, offset: number): Envelope | undefined {
    const payload = placeMessage(this.codec, envelope.payload, offset, envelope.epoch as string)
    return payload === undefined ? undefined : { ...envelope, payload }
  }

  /**
   * Publishes to a channel that keeps history: kept as plain v1 JSON (the codec, if any,
   * applies on delivery and replay, with the offset), delivered with its place.
   */
  append (topic: string, message: object, policy: HistoryPolicy, origin?: string): Promise<Appended> {
    return this.adapter.append(topic, { payload: JSON.stringify(message), origin }, policy).catch(this.countFailure)
  }

  /** Counts a HAUYNA_UNAVAILABLE and rejects with it as it came; any other error is rethrown uncounted. */
  private readonly countFailure = (error: unknown): never => {
    deliveredLocally(error)
    this.meter.publishFailed()
    throw error
  }

  /** Resolves once the adapter has the topic; `undefined` when this node already had it, or the adapter is local. */
  join (subscriber: D, topic: string, subscription: S | null): Promise<void> | undefined {
    return this.hub.add(topic, subscriber, subscription) && this.tellsTopics ? this.adapter.subscribe(topic) : undefined
  }

  leave (subscriber: D, topic: string): Promise<void> | undefined {
    return this.hub.remove(topic, subscriber) && this.tellsTopics ? this.adapter.unsubscribe(topic) : undefined
  }

  /** The user's first connection here: the adapter brings this node the user's topic (`undefined` when local). */
  userArrived (userId: string): Promise<void> | undefined {
    return this.tellsTopics ? this.adapter.subscribe(userTopic(userId)) : undefined
  }

  /** The user's last connection here closed. */
  userLeft (userId: string): Promise<void> | undefined {
    return this.tellsTopics ? this.adapter.unsubscribe(userTopic(userId)) : undefined
  }

  /** Topics with a subscriber here: the hub's, each connected user's, and `all`. */
  get topicCount (): number {
    const users = this.audience.userCount
    return this.hub.topicCount + users + (users > 0 ? 1 : 0)
  }
}
