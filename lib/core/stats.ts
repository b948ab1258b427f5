import { type Static, Type } from '@sinclair/typebox'
import { ConnectionState, connectionStates } from '../connection/state'
import type { Runtime } from './runtime'

const TOP_CHANNELS = 20
const TOP_META_KEYS = 20

export const StatsSchema = Type.Object({
  nodeId: Type.String(),
  adapter: Type.String(),
  uptime: Type.Number({ description: 'seconds since the plugin started' }),
  connections: Type.Integer({ description: 'open connections (closing ones count as disconnected)' }),
  users: Type.Integer({ description: 'distinct users with an open connection' }),
  states: Type.Record(Type.String(), Type.Integer()),
  channels: Type.Object({
    count: Type.Integer(),
    top: Type.Optional(Type.Array(Type.Object({ channel: Type.String(), subscribers: Type.Integer() }),
      { description: 'up to 20 channels, largest first; with `detail` only (channel names can name users)' }))
  }),
  connectionMeta: Type.Object({
    connections: Type.Integer({ description: 'connections with at least one meta key' }),
    keys: Type.Optional(Type.Array(Type.Object({ key: Type.String(), connections: Type.Integer() }),
      { description: 'up to 20 meta keys, most used first; with `detail` only' }))
  }, { description: 'connection meta, summarized: stats stay bounded however many connections exist' }),
  endpoints: Type.Array(Type.Object({ path: Type.String(), connections: Type.Integer() }),
    { description: 'every WebSocket endpoint with its open connections on this node' }),
  groups: Type.Integer(),
  presence: Type.Integer(),
  topics: Type.Integer({ description: 'topics with a local subscriber (channels, users, groups, all)' }),
  messages: Type.Object({ in: Type.Integer(), out: Type.Integer() }),
  errors: Type.Integer(),
  rateLimited: Type.Integer(),
  slowConsumers: Type.Integer(),
  connectionsTotal: Type.Integer(),
  cleanup: Type.Object({
    processed: Type.Integer({ description: 'disconnect cleanups finished' }),
    errors: Type.Integer({ description: 'cleanup steps that failed after every retry' }),
    retries: Type.Integer({ description: 'cleanup steps retried' }),
    overflow: Type.Integer({ description: 'cleanups run at once because the queue was full' }),
    queueSize: Type.Integer({ description: 'cleanups waiting now' }),
    avgProcessTimeMs: Type.Number({ description: 'mean milliseconds per cleanup' })
  }, { description: 'the disconnect cleanup queue' })
})
export type Stats = Static<typeof StatsSchema>

/** How many connections carry meta and, with `detail`, under which keys; values stay out (they may be personal). */
function metaSummary (runtime: Runtime, detail: boolean): Stats['connectionMeta'] {
  const byKey = new Map<string, number>()
  let connections = 0
  for (const conn of runtime.directory.values()) {
    const keys = Object.keys(conn.meta)
    if (keys.length > 0) connections++
    if (detail) for (const key of keys) byKey.set(key, (byKey.get(key) ?? 0) + 1)
  }
  if (!detail) return { connections }
  const keys = [...byKey].map(([key, count]) => ({ key, connections: count }))
  return { connections, keys: keys.sort((a, b) => b.connections - a.connections).slice(0, TOP_META_KEYS) }
}

/**
 * Connections per state, open ones and their users. A closed connection stays registered
 * until its socket's 'close' event: it counts as disconnected already.
 */
function connectionCounts (runtime: Runtime): Pick<Stats, 'connections' | 'users' | 'states'> {
  const states: Record<string, number> = Object.fromEntries(connectionStates.map((s) => [s, 0]))
  let connections = 0
  for (const conn of runtime.directory.values()) {
    const open = conn.isOpen
    states[open ? conn.state : ConnectionState.Disconnected]++
    if (open) connections++
  }
  let users = 0
  for (const conns of runtime.directory.users()) {
    for (const conn of conns) {
      if (!conn.isOpen) continue
      users++
      break
    }
  }
  return { connections, users, states }
}

/**
 * A snapshot of this node; bounded in size whatever the number of channels. Without
 * `detail`, counts only: no channel names (`private:bob`) nor meta keys.
 */
export async function collectStats (runtime: Runtime, detail: boolean): Promise<Stats> {
  const counts = connectionCounts(runtime)
  const channels = await runtime.channels.list()
  const { meter } = runtime
  return {
    nodeId: runtime.nodeId,
    adapter: runtime.adapter.name,
    uptime: (Date.now() - runtime.startedAt) / 1000,
    ...counts,
    channels: detail ? { count: channels.length, top: channels.slice(0, TOP_CHANNELS) } : { count: channels.length },
    connectionMeta: metaSummary(runtime, detail),
    endpoints: runtime.endpoints.map(({ path, connections }) => ({ path, connections })),
    groups: runtime.groups.size,
    presence: await runtime.presence.count(),
    topics: runtime.hub.topicCount,
    messages: { in: meter.messagesIn, out: meter.messagesOut },
    errors: meter.errors,
    rateLimited: meter.rateLimited,
    slowConsumers: meter.slowConsumers,
    connectionsTotal: meter.connectionsTotal,
    cleanup: runtime.cleanup.metrics()
  }
}
