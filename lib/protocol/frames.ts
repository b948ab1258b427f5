/** Builders for the delivery frames, shared by the client path and the server API. */

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

export const frames = {
  message: (channel: string, from: string | null, data: unknown) => ({ type: 'message', channel, from, data, ts: isoNow() }),
  direct: (from: string | null, data: unknown) => ({ type: 'direct', from, data, ts: isoNow() }),
  group: (group: string, from: string | null, data: unknown) => ({ type: 'group', group, from, data, ts: isoNow() }),
  broadcast: (from: string | null, data: unknown) => ({ type: 'broadcast', from, data, ts: isoNow() })
}
