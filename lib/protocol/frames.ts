/** Every frame the server sends is built here (the delivery frames are shared by the client path and the server API). */
import type { ErrorCode } from './codes'
import type { PresenceSummary, Ref, ServerMessage, ServerMessageType } from './schemas'
import type { ValidationDetail } from './validator'

// Under load many frames share a millisecond: formatting a date costs more than the rest of a frame.
let lastMs = 0
let lastIso = new Date(0).toISOString()

export function isoNow (): string {
  const ms = Date.now()
  if (ms !== lastMs) {
    lastMs = ms
    lastIso = new Date(ms).toISOString()
  }
  return lastIso
}

type Summaries = Record<string, PresenceSummary>
/** A history channel's position as a subscription starts, and whether the subscribe's `since` was recovered. */
interface SubscribedStream { offset?: number, epoch?: string, recovered?: boolean }
type Frame<T extends ServerMessageType> = ServerMessage<T>

// `type` comes first in every frame: the metrics read a frame's type from its first bytes.
export const frames = {
  message: (channel: string, from: string | null, data: unknown) => ({ type: 'message', channel, from, data, ts: isoNow() }),
  direct: (from: string | null, data: unknown) => ({ type: 'direct', from, data, ts: isoNow() }),
  group: (group: string, from: string | null, data: unknown) => ({ type: 'group', group, from, data, ts: isoNow() }),
  broadcast: (from: string | null, data: unknown) => ({ type: 'broadcast', from, data, ts: isoNow() }),
  connected: (connectionId: string, userId: string, heartbeat: { interval: number, timeout: number }, resume?: string): Frame<'connected'> =>
    ({ type: 'connected', connectionId, userId, ts: isoNow(), heartbeat, resume }),
  subscribed: (channel: string, ref: Ref | undefined, presence: Summaries | undefined, stream: SubscribedStream = {}): Frame<'subscribed'> =>
    ({ type: 'subscribed', channel, ref, presence, offset: stream.offset, epoch: stream.epoch, recovered: stream.recovered }),
  unsubscribed: (channel: string, ref?: Ref, reason?: string): Frame<'unsubscribed'> =>
    ({ type: 'unsubscribed', channel, ref, reason }),
  presenceDiff: (channel: string, joins: Summaries, leaves: Summaries, updates: Summaries | undefined): Frame<'presence_diff'> =>
    ({ type: 'presence_diff', channel, joins, leaves, updates }),
  ack: (ref: Ref): Frame<'ack'> => ({ type: 'ack', ref }),
  heartbeatAck: (ts: string | number | undefined): Frame<'heartbeat_ack'> => ({ type: 'heartbeat_ack', ts, serverTs: isoNow() }),
  reconnect: (after: number): Frame<'reconnect'> => ({ type: 'reconnect', after }),
  error: (code: ErrorCode, message: string, ref?: Ref, details?: ValidationDetail[]): Frame<'error'> =>
    ({ type: 'error', code, message, ref, details })
}

/** `,"key":value` for a member JSON.stringify would write; nothing for `undefined`, which it drops. */
function member (key: string, value: unknown): string {
  return value === undefined ? '' : `,"${key}":${JSON.stringify(value)}`
}

/**
 * The JSON of the frames every connection gets as it opens, built by template: exactly the
 * text JSON.stringify writes for the frame object (same keys, same order), for a fraction of
 * its cost, which every connect pays. `ts` is `isoNow()`'s, which needs no escaping.
 */
export const frameJson = {
  connected: (frame: Frame<'connected'>): string =>
    `{"type":"connected","connectionId":${JSON.stringify(frame.connectionId)},"userId":${JSON.stringify(frame.userId)},"ts":"${frame.ts}"` +
    `,"heartbeat":{"interval":${JSON.stringify(frame.heartbeat.interval)},"timeout":${JSON.stringify(frame.heartbeat.timeout)}}${member('resume', frame.resume)}}`,
  subscribed: (frame: Frame<'subscribed'>): string =>
    `{"type":"subscribed","channel":${JSON.stringify(frame.channel)}${member('ref', frame.ref)}${member('presence', frame.presence)}` +
    `${member('offset', frame.offset)}${member('epoch', frame.epoch)}${member('recovered', frame.recovered)}}`
}
