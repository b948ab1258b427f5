import type * as Prom from 'prom-client'
import type { RealtimeNode } from '../composition/node'
import type { Telemetry } from '../observe/telemetry'
import { channelOf } from '../pubsub/topics'
import { serverSchemas } from '../protocol/schemas'
import { FixedHistogram, type HistogramSeries } from './fixed-histogram'

type PromClient = typeof Prom

const SIZE_BUCKETS = [64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576]
// Sub-millisecond fan-outs up to multi-second heartbeat round trips.
const LATENCY_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10]

const serverTypes: ReadonlySet<string> = new Set(Object.keys(serverSchemas))
const TYPE_PREFIX = '{"type":"'

/** The label of a server message type: a protocol type, else `other` (bounded whatever the app sends). */
function serverTypeLabel (type: unknown): string {
  return typeof type === 'string' && serverTypes.has(type) ? type : 'other'
}

/**
 * The type of an encoded server frame, read from its text: frames are built with `type`
 * first, so this is a prefix check, not a parse. A codec's frames may read as `other`.
 */
function payloadType (payload: string): string {
  if (!payload.startsWith(TYPE_PREFIX)) return 'other'
  return serverTypeLabel(payload.slice(TYPE_PREFIX.length, payload.indexOf('"', TYPE_PREFIX.length)))
}

/** Plain counts by a bounded label value; the hot path adds to a Map, a scrape reads it. */
class Tally {
  readonly counts = new Map<string, number>()

  add (key: string, n: number): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + n)
  }
}

/** Counts collected into prom-client metrics: the hot path never touches prom-client. */
class PrometheusTelemetry implements Telemetry {
  readonly inbound = new Tally()
  readonly outbound = new Tally()
  readonly errors = new Tally()
  private readonly sizeIn: HistogramSeries
  private readonly sizeOut: HistogramSeries
  private readonly deliveryLatency: HistogramSeries
  private readonly heartbeatLatency: HistogramSeries

  constructor (size: FixedHistogram<'in' | 'out'>, latency: FixedHistogram<'delivery' | 'heartbeat'>) {
    this.sizeIn = size.of('in')
    this.sizeOut = size.of('out')
    this.deliveryLatency = latency.of('delivery')
    this.heartbeatLatency = latency.of('heartbeat')
  }

  received (type: string, bytes: number): void {
    this.inbound.add(type, 1)
    this.sizeIn.observe(bytes)
  }

  sent (message: object, text: string): void {
    this.outbound.add(serverTypeLabel((message as { type?: unknown }).type), 1)
    this.sizeOut.observe(Buffer.byteLength(text))
  }

  delivered (payload: string, count: number, ms: number): void {
    if (count === 0) return
    this.outbound.add(payloadType(payload), count)
    this.sizeOut.observe(Buffer.byteLength(payload))
    this.deliveryLatency.observe(ms / 1000)
  }

  error (code: string): void {
    this.errors.add(code, 1)
  }

  heartbeat (ms: number): void {
    this.heartbeatLatency.observe(ms / 1000)
  }
}

/** The metrics this plugin adds to a registry, and how to take them out again. */
export interface WsMetrics {
  readonly telemetry: Telemetry
  /** Removes the plugin's metrics from the registry (an app's registry outlives the plugin). */
  remove (): void
}

function channelSubscriptions (node: RealtimeNode): { channels: number, subscriptions: number } {
  let channels = 0
  let subscriptions = 0
  for (const topic of node.hub.topicNames()) {
    if (channelOf(topic) === undefined) continue
    channels++
    subscriptions += node.hub.size(topic)
  }
  return { channels, subscriptions }
}

/**
 * Registers the `ws_*` metrics on `registry`. Counters and gauges are derived from the
 * node's own state when scraped (`collect`), so traffic costs nothing for them; only the
 * histograms observe as messages flow.
 */
export function createWsMetrics (client: PromClient, registry: Prom.Registry, node: RealtimeNode): WsMetrics {
  const registers = [registry]
  const names: string[] = []
  function counter (name: string, help: string, read: () => number): void {
    names.push(name)
    // prom-client counters only go up; a derived one is reset and set to the total at each scrape.
    new client.Counter({ name, help, registers, collect () { this.reset(); this.inc(read()) } })
  }
  function gauge (name: string, help: string, read: () => number | Promise<number>): void {
    names.push(name)
    new client.Gauge({ name, help, registers, async collect () { this.set(await read()) } })
  }
  function labelled<L extends string> (name: string, help: string, labelNames: L[], fill: (c: Prom.Counter<L>) => void): void {
    names.push(name)
    new client.Counter({ name, help, labelNames, registers, collect () { this.reset(); fill(this) } })
  }
  function histogram<V extends string> (name: string, help: string, label: string, values: V[], buckets: number[]): FixedHistogram<V> {
    names.push(name)
    const metric = new FixedHistogram(name, help, label, values, buckets)
    registry.registerMetric(metric as unknown as Prom.Metric)
    return metric
  }

  const telemetry = new PrometheusTelemetry(
    histogram('ws_message_size_bytes', 'Size of WebSocket messages: every inbound frame; outbound once per encoded message, not per recipient', 'direction', ['in', 'out'], SIZE_BUCKETS),
    histogram('ws_latency_seconds', 'Heartbeat ping-to-pong round trip (kind=heartbeat) and in-process fan-out time of one delivery (kind=delivery)', 'kind', ['delivery', 'heartbeat'], LATENCY_BUCKETS)
  )
  const { meter } = node
  const cleanup = node.session.cleanup

  counter('ws_connections_total', 'WebSocket connections accepted since start', () => meter.connectionsTotal)
  gauge('ws_connections_current', 'Open WebSocket connections on this node', () => node.directory.size)
  gauge('ws_clients_current', 'Distinct users with at least one connection on this node', () => node.directory.userCount)
  labelled('ws_messages_total', 'WebSocket messages by direction and protocol type (outbound counts every recipient)', ['direction', 'type'], (c) => {
    for (const [type, n] of telemetry.inbound.counts) c.inc({ direction: 'in', type }, n)
    for (const [type, n] of telemetry.outbound.counts) c.inc({ direction: 'out', type }, n)
  })
  labelled('ws_errors_total', 'Errors by wire code: error frames, refused sockets, refused upgrades (unauthorized, overloaded)', ['code'], (c) => {
    for (const [code, n] of telemetry.errors.counts) c.inc({ code }, n)
  })
  gauge('ws_channels_current', 'Channels with a subscriber on this node', () => channelSubscriptions(node).channels)
  gauge('ws_subscriptions_current', 'Channel subscriptions on this node', () => channelSubscriptions(node).subscriptions)
  gauge('ws_groups_current', 'Groups with a member connected to this node', () => node.localGroups)
  gauge('ws_presence_current', 'Present users (the adapter\'s presence store)', () => node.presence.count())
  counter('ws_send_buffer_drops_total', 'Connections dropped because their send buffer went over maxBufferedBytes (slow consumers)', () => meter.slowConsumers)
  counter('ws_rate_limited_total', 'Inbound frames refused by the rate limit', () => meter.rateLimited)
  counter('ws_adapter_publish_failures_total',
    'Publishes delivered to this node\'s subscribers but not sent to the other nodes: rejected by the adapter with HAUYNA_UNAVAILABLE (client frames, service calls and presence diffs)',
    () => meter.publishFailures)
  counter('ws_cleanup_processed_total', 'Disconnect cleanups finished', () => cleanup.metrics().processed)
  counter('ws_cleanup_errors_total', 'Disconnect cleanup steps that failed after every retry', () => cleanup.metrics().errors)
  counter('ws_cleanup_retries_total', 'Disconnect cleanup steps retried', () => cleanup.metrics().retries)
  counter('ws_cleanup_overflow_total', 'Disconnect cleanups run at once because the queue was full', () => cleanup.metrics().overflow)
  gauge('ws_cleanup_queue_size', 'Disconnect cleanups waiting in the queue', () => cleanup.metrics().queueSize)
  gauge('ws_cleanup_process_time_avg_seconds', 'Mean time per disconnect cleanup', () => cleanup.metrics().avgProcessTimeMs / 1000)

  return {
    telemetry,
    remove () {
      for (const name of names) registry.removeSingleMetric(name)
    }
  }
}
