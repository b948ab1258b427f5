/**
 * What the node reports for metrics. Every call is per inbound message, per direct send
 * or per fan-out, never per recipient of a fan-out. Label values handed in are bounded by the
 * caller (protocol types, declared app types, error codes), never user ids or channel names.
 */
export interface Telemetry {
  /** An inbound frame: its type label (`unknown` when undeclared, `invalid` when undecodable) and size. */
  received (type: string, bytes: number): void
  /** A message written to one connection (replies, `connected`, errors) as encoded text. */
  sent (message: object, text: string): void
  /** One fan-out of an encoded payload: `count` deliveries, taking `ms` in this process. */
  delivered (payload: string, count: number, ms: number): void
  /** An `error` frame, a refused socket or a refused upgrade, by its code. */
  error (code: string): void
  /** A heartbeat ping answered after `ms`. */
  heartbeat (ms: number): void
}

/** Metrics off: nothing is counted. */
export const noTelemetry: Telemetry = {
  received () {},
  sent () {},
  delivered () {},
  error () {},
  heartbeat () {}
}
