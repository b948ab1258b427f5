import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

const TIME_BYTES = 8
const TAG_BYTES = 8
const STAMP_BYTES = TIME_BYTES + TAG_BYTES
// Signs stamps: a client cannot make up a pong for a ping it never read.
const STAMP_KEY = randomBytes(32)

// Tags of the stamps sent lately, by send time: most pongs answer one of a few hundred
// slices' stamps, so a pong is checked by a lookup rather than an HMAC (and its garbage).
// Only stamps this process made are kept, so forged pongs cannot crowd them out.
const recentTags = new Map<number, Buffer>()
const RECENT_TAGS = 4096

function tagOf (time: Buffer): Buffer {
  return createHmac('sha256', STAMP_KEY).update(time).digest().subarray(0, TAG_BYTES)
}

function remember (time: number, tag: Buffer): void {
  recentTags.set(time, tag)
  if (recentTags.size > RECENT_TAGS) recentTags.delete(recentTags.keys().next().value as number)
}

/**
 * A ping's payload: the time it was sent (`performance.now()`) and a tag signing it. The pong
 * echoes both, so the round trip is known and checked without any per-connection state.
 */
export function pingStamp (now: number): Buffer {
  const stamp = Buffer.allocUnsafe(STAMP_BYTES)
  stamp.writeDoubleBE(now)
  const tag = tagOf(stamp.subarray(0, TIME_BYTES))
  tag.copy(stamp, TIME_BYTES)
  remember(now, tag)
  return stamp
}

/**
 * Milliseconds since the ping a pong answers, or `undefined` for a pong that answers none of
 * ours within `timeout` (unsolicited, forged, or replayed too late).
 */
export function roundTrip (pong: Buffer, now: number, timeout: number): number | undefined {
  if (pong.length !== STAMP_BYTES) return undefined
  const sent = pong.readDoubleBE(0)
  const ms = now - sent
  if (!(ms >= 0 && ms <= timeout)) return undefined
  const tag = recentTags.get(sent) ?? tagOf(pong.subarray(0, TIME_BYTES))
  return timingSafeEqual(tag, pong.subarray(TIME_BYTES)) ? ms : undefined
}
