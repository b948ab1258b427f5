import { noTelemetry, type Telemetry } from './telemetry'

/**
 * The node's running totals (stats) and its metrics sink (Prometheus, when on), behind one
 * call per event: each event is counted once, in one place.
 */
export class Meter {
  connectionsTotal = 0
  messagesIn = 0
  messagesOut = 0
  errors = 0
  rateLimited = 0
  slowConsumers = 0
  /** Publishes the adapter delivered on this node only: it rejected them with HAUYNA_UNAVAILABLE. */
  publishFailures = 0
  private telemetry: Telemetry = noTelemetry

  /** The metrics plugin's sink; set once, at registration. */
  attach (telemetry: Telemetry): void {
    this.telemetry = telemetry
  }

  accepted (): void {
    this.connectionsTotal++
  }

  /** An inbound frame, by its type label, handled or refused. */
  received (type: string, bytes: number): void {
    this.messagesIn++
    this.telemetry.received(type, bytes)
  }

  /** A message written to one connection only (reply, `connected`, error). */
  sent (message: object, text: string): void {
    this.messagesOut++
    this.telemetry.sent(message, text)
  }

  /** One fan-out: `count` connections written to, in `ms`. */
  delivered (payload: string, count: number, ms: number): void {
    this.messagesOut += count
    this.telemetry.delivered(payload, count, ms)
  }

  /** An `error` frame sent on a connection. */
  errorSent (code: string): void {
    this.errors++
    this.telemetry.error(code)
  }

  /** A socket or upgrade refused before it became a connection (metrics only: no connection to count it on). */
  refused (code: string): void {
    this.telemetry.error(code)
  }

  rateLimitedFrame (): void {
    this.rateLimited++
  }

  slowConsumer (): void {
    this.slowConsumers++
  }

  /** A publish that reached this node's subscribers but not the other nodes. */
  publishFailed (): void {
    this.publishFailures++
  }

  heartbeat (ms: number): void {
    this.telemetry.heartbeat(ms)
  }
}
