import type { ChannelMessage, Delivery, StreamPosition, SubscribedFrame } from './types'

/** Where a subscription stands in its channel's stream (only on a channel that keeps history). */
export interface StreamState {
  /** The last message delivered, or where the subscription started: `since` of the next resubscribe. */
  position?: StreamPosition
  /** The last message of the replay the server announced with `recovered: true`. */
  replayTo?: StreamPosition
}

function placeOf ({ offset, epoch }: { offset?: number, epoch?: string }): StreamPosition | undefined {
  return offset === undefined || epoch === undefined ? undefined : { offset, epoch }
}

function within (place: StreamPosition, end: StreamPosition | undefined): boolean {
  return end?.epoch === place.epoch && place.offset <= end.offset
}

/**
 * Moves the stream to `message`; `undefined` when the app has it already (an offset not past
 * the last one delivered, in the same epoch). Another epoch is another stream: it starts anew.
 */
export function advance (stream: StreamState, message: ChannelMessage): Delivery | undefined {
  const place = placeOf(message)
  if (place === undefined) return { replayed: false }
  const last = stream.position
  if (last?.epoch === place.epoch && place.offset <= last.offset) return undefined
  stream.position = place
  return { replayed: within(place, stream.replayTo) }
}

/**
 * The `subscribed` answer. With `recovered: true` the missed messages follow, so the position
 * stays at the last one delivered until they come. Otherwise the stream goes on after the
 * position announced — except on a subscription already there in that epoch (its meta or echo
 * updated): its messages still in flight are not older than the ones it delivered.
 */
export function subscribedAt (stream: StreamState, frame: SubscribedFrame): void {
  const place = placeOf(frame)
  if (frame.recovered !== undefined) stream.replayTo = frame.recovered ? place : undefined
  if (frame.recovered === true) return
  if (frame.recovered === false || stream.position?.epoch !== place?.epoch) stream.position = place
}

/**
 * A position the app saved may come back from storage as anything: refused here, at once,
 * rather than by the server on every reconnect, which would drop the subscription.
 */
export function checkSince (since: StreamPosition | undefined): void {
  if (since === undefined) return
  const valid = typeof since === 'object' && since !== null && Number.isSafeInteger(since.offset) && since.offset >= 0 &&
    typeof since.epoch === 'string' && since.epoch !== ''
  if (!valid) {
    throw new TypeError('since must be { offset: a non-negative integer, epoch: a non-empty string }')
  }
}
