/** Builders for the delivery frames, shared by the client path and the server API. */
const now = (): string => new Date().toISOString()

export const frames = {
  message: (channel: string, from: string | null, data: unknown) => ({ type: 'message', channel, from, data, ts: now() }),
  direct: (from: string | null, data: unknown) => ({ type: 'direct', from, data, ts: now() }),
  group: (group: string, from: string | null, data: unknown) => ({ type: 'group', group, from, data, ts: now() }),
  broadcast: (from: string | null, data: unknown) => ({ type: 'broadcast', from, data, ts: now() })
}
