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
