import type { Envelope } from './adapter'

/*
 * A pub/sub message is `<n>:<nodeId><n>:<origin><n>:<skip><payload>`, each `<n>` the length
 * of the field after it (0 for an absent one: connection ids are never empty). The payload is
 * already JSON text, so a length-prefixed header carries the rest without re-escaping the
 * payload into another JSON string, and a receiver never parses the payload.
 */
export function field (value: string | undefined): string {
  return value === undefined ? '0:' : `${value.length}:${value}`
}

function readField (text: string, at: number): { value: string | undefined, next: number } {
  const colon = text.indexOf(':', at)
  const end = colon + 1 + Number(text.slice(at, colon))
  return { value: end === colon + 1 ? undefined : text.slice(colon + 1, end), next: end }
}

export function decodeMessage (text: string): Envelope {
  const node = readField(text, 0)
  const origin = readField(text, node.next)
  const skip = readField(text, origin.next)
  return { payload: text.slice(skip.next), origin: origin.value, skip: skip.value }
}
