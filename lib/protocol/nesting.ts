/** Inbound frames may nest objects and arrays this deep (PROTOCOL.md, "Limits"). */
export const MAX_NESTING = 64

const QUOTE = 0x22
const BACKSLASH = 0x5c
const OPEN_BRACE = 0x7b
const OPEN_BRACKET = 0x5b
const CLOSE_BRACE = 0x7d
const CLOSE_BRACKET = 0x5d

/**
 * Whether JSON text nests deeper than `max`, read from the bytes before parsing: a parsed
 * value thousands of levels deep would overflow the stack of whatever walks it later
 * (serializing, validating). UTF-8 continuation bytes are never ASCII, so a byte scan is exact.
 * A frame shorter than `max` cannot nest deeper and is not scanned.
 */
export function nestsDeeperThan (data: Buffer, max: number): boolean {
  if (data.length <= max) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < data.length; i++) {
    const byte = data[i]
    if (inString) {
      if (byte === BACKSLASH) i++
      else if (byte === QUOTE) inString = false
    } else if (byte === QUOTE) {
      inString = true
    } else if (byte === OPEN_BRACE || byte === OPEN_BRACKET) {
      if (++depth > max) return true
    } else if (byte === CLOSE_BRACE || byte === CLOSE_BRACKET) {
      depth--
    }
  }
  return false
}
