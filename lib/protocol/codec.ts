/**
 * Translates between the wire and protocol v1, for apps that must speak an existing protocol
 * (see example/presence-server). Encoding happens once per fan-out, like plain JSON.
 */
export interface Codec {
  /** Turns a parsed client frame into a v1 message; throwing answers `invalid_message`. */
  decode?: (frame: unknown) => unknown
  /** Turns a v1 server message into the frame to send; `undefined` sends nothing. */
  encode?: (message: Record<string, unknown>) => object | undefined
}

/** The text of a server message on the wire, or `undefined` when the codec drops it. */
export function encodeMessage (codec: Codec | undefined, message: object): string | undefined {
  if (codec?.encode === undefined) return JSON.stringify(message)
  const frame = codec.encode(message as Record<string, unknown>)
  return frame === undefined ? undefined : JSON.stringify(frame)
}

/**
 * A channel message kept in history, with its place in the channel's stream: the message was
 * kept as plain v1 JSON (`payload`), so its offset and epoch are written in once per delivery,
 * by the codec when there is one. `undefined` when the codec drops it.
 */
export function placeMessage (codec: Codec | undefined, payload: string, offset: number, epoch: string): string | undefined {
  if (codec?.encode === undefined) return `${payload.slice(0, -1)},"offset":${offset},"epoch":${JSON.stringify(epoch)}}`
  return encodeMessage(codec, { ...JSON.parse(payload) as object, offset, epoch })
}
