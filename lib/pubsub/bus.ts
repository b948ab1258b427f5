import { performance } from 'node:perf_hooks'
import type { Adapter, AdapterNode, Departure, Envelope, NodeFigures, Vacancy } from '../adapters/adapter'
import { deliveredLocally } from '../errors'
import type { Meter } from '../observe/meter'
import { type Codec, encodeMessage } from '../protocol/codec'
import type { Deliverable, Delivery, TopicHub } from './topic-hub'

export interface BusDeps<D extends Deliverable, S extends Delivery> {
  nodeId: string
  adapter: Adapter
  hub: TopicHub<D, S>
  codec: Codec | undefined
  meter: Pick<Meter, 'delivered' | 'publishFailed'>
  /** Users who left with a crashed node: presence, above this layer, announces them. */
  onDeparted: (departures: Departure[]) => void
  /** Users a crashed node took out of shared sets, which this node purged: channel presence announces them. */
  onVacated: (vacancies: Vacancy[]) => void
  /** A node purged as dead is back: presence announces its users again, channel presence their channels. */
  onReturned: (arrivals: Departure[]) => void
  onRefilled: (vacancies: Vacancy[]) => void
  /** A user's added group memberships changed: the groups service moves their connections here. */
  onRegrouped: (userId: string) => Promise<void>
  /** The adapter is back from an outage: what was announced meanwhile is read again. */
  onReconnected: () => void
  /** This node's figures, which the adapter shares. */
  figures: () => NodeFigures
}

/**
 * Publish and subscribe for this node: publishes go through the adapter (to every node),
 * and what the adapter hands back is fanned out by the local hub. The adapter calls up
 * through `AdapterNode`, which the bus implements.
 */
export class Bus<D extends Deliverable, S extends Delivery> implements AdapterNode {
  readonly nodeId: string
  private readonly adapter: Adapter
  private readonly hub: TopicHub<D, S>
  private readonly codec: Codec | undefined
  private readonly meter: Pick<Meter, 'delivered' | 'publishFailed'>
  readonly departed: (departures: Departure[]) => void
  readonly vacated: (vacancies: Vacancy[]) => void
  readonly returned: (arrivals: Departure[]) => void
  readonly refilled: (vacancies: Vacancy[]) => void
  readonly regrouped: (userId: string) => Promise<void>
  readonly reconnected: () => void
  readonly figures: () => NodeFigures

  constructor (deps: BusDeps<D, S>) {
    this.nodeId = deps.nodeId
    this.adapter = deps.adapter
    this.hub = deps.hub
    this.codec = deps.codec
    this.meter = deps.meter
    this.departed = deps.onDeparted
    this.vacated = deps.onVacated
    this.returned = deps.onReturned
    this.refilled = deps.onRefilled
    this.regrouped = deps.onRegrouped
    this.reconnected = deps.onReconnected
    this.figures = deps.figures
  }

  start (): Promise<void> {
    return this.adapter.init(this)
  }

  deliver (topic: string, envelope: Envelope): number {
    const started = performance.now()
    const count = this.hub.deliver(topic, envelope)
    this.meter.delivered(envelope.payload, count, performance.now() - started)
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

  /** Counts a HAUYNA_UNAVAILABLE and rejects with it as it came; any other error is rethrown uncounted. */
  private readonly countFailure = (error: unknown): never => {
    deliveredLocally(error)
    this.meter.publishFailed()
    throw error
  }

  /** Resolves once the adapter has the topic; `undefined` when this node already had it. */
  join (subscriber: D, topic: string, subscription: S | null): Promise<void> | undefined {
    return this.hub.add(topic, subscriber, subscription) ? this.adapter.subscribe(topic) : undefined
  }

  leave (subscriber: D, topic: string): Promise<void> | undefined {
    return this.hub.remove(topic, subscriber) ? this.adapter.unsubscribe(topic) : undefined
  }
}
