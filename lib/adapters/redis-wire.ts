import type { Envelope, StreamPosition } from './adapter'

/*
 * A pub/sub message is `<n>:<place><n>:<nodeId><n>:<origin><n>:<skip><payload>`, each `<n>` the
 * length of the field after it (0 for an absent one: connection ids are never empty). The
 * payload is already JSON text, so a length-prefixed header carries the rest without re-escaping
 * the payload into another JSON string, and a receiver never parses the payload.
 *
 * `place` is the message's entry ID in its channel's history stream, `<epoch>-<offset>`, on a
 * channel that keeps history (the append script writes it, see `redis-history.ts`), and absent
 * on any other message. It comes first so that a node's other messages all open with the same
 * few characters, `0:<n>:<nodeId>` (`headerOf`): the node recognizes them with one
 * `startsWith` and drops them when Redis sends them back, since it delivered them itself at once;
 * its own history messages open with their place, and it delivers them only as they come back,
 * in their offset order among the other nodes' messages.
 */
export function field (value: string | undefined): string {
  return value === undefined ? '0:' : `${value.length}:${value}`
}

/** The opening of every message of this node without a place. */
export function headerOf (nodeId: string): string {
  return field(undefined) + field(nodeId)
}

function readField (text: string, at: number): { value: string | undefined, next: number } {
  const colon = text.indexOf(':', at)
  const end = colon + 1 + Number(text.slice(at, colon))
  return { value: end === colon + 1 ? undefined : text.slice(colon + 1, end), next: end }
}

/** A message as a receiver reads it: the envelope to deliver, and where it came from. */
export interface Received {
  /** The publishing node. */
  nodeId: string | undefined
  /** The history stream's entry ID, on a channel that keeps history. */
  place: string | undefined
  envelope: Envelope
}

/** The offset and epoch that an entry ID `<epoch>-<offset>` stands for. */
export function positionOf (place: string): StreamPosition {
  const dash = place.lastIndexOf('-')
  return { offset: Number(place.slice(dash + 1)), epoch: place.slice(0, dash) }
}

export function decodeMessage (text: string): Received {
  const place = readField(text, 0)
  const node = readField(text, place.next)
  const origin = readField(text, node.next)
  const skip = readField(text, origin.next)
  const payload = text.slice(skip.next)
  const envelope: Envelope = place.value === undefined
    ? { payload, origin: origin.value, skip: skip.value }
    : { payload, origin: origin.value, skip: skip.value, ...positionOf(place.value) }
  return { nodeId: node.value, place: place.value, envelope }
}
