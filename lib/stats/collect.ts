import { ConnectionState, connectionStates } from '../connection/state'
import type { RealtimeNode } from '../composition/node'
import type { Stats } from './stats'

const TOP_CHANNELS = 20
const TOP_META_KEYS = 20

/** How many connections carry meta and, with `detail`, under which keys; values stay out (they may be personal). */
function metaSummary (node: RealtimeNode, detail: boolean): Stats['connectionMeta'] {
  const byKey = new Map<string, number>()
  let connections = 0
  for (const conn of node.directory.values()) {
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
function connectionCounts (node: RealtimeNode): Pick<Stats, 'connections' | 'users' | 'states'> {
  const states: Record<string, number> = Object.fromEntries(connectionStates.map((s) => [s, 0]))
  let connections = 0
  for (const conn of node.directory.values()) {
    const open = conn.isOpen
    states[open ? conn.state : ConnectionState.Disconnected]++
    if (open) connections++
  }
  let users = 0
  for (const conns of node.directory.users()) {
    for (const conn of conns) {
      if (!conn.isOpen) continue
      users++
      break
    }
  }
  return { connections, users, states }
}

/** Every live node as of its last heartbeat, and the cluster's connections and users now. */
async function clusterSummary (node: RealtimeNode, now: number): Promise<Stats['cluster']> {
  const nodes = await node.adapter.nodes()
  return {
    connections: await node.connections.count(),
    users: await node.connections.userCount(),
    nodes: nodes.map((node) => ({
      nodeId: node.nodeId,
      connections: node.connections,
      users: node.users,
      uptime: (now - node.startedAt) / 1000,
      lastSeen: new Date(node.lastSeen).toISOString()
    })).sort((a, b) => a.nodeId.localeCompare(b.nodeId))
  }
}

/**
 * A snapshot of this node; bounded in size whatever the number of channels. Without
 * `detail`, counts only: no channel names (`private:bob`) nor meta keys.
 */
export async function collectStats (node: RealtimeNode, detail: boolean): Promise<Stats> {
  const counts = connectionCounts(node)
  const channels = await node.channels.list()
  const { meter } = node
  return {
    nodeId: node.nodeId,
    adapter: node.adapter.name,
    uptime: (Date.now() - node.startedAt) / 1000,
    ...counts,
    channels: detail ? { count: channels.length, top: channels.slice(0, TOP_CHANNELS) } : { count: channels.length },
    connectionMeta: metaSummary(node, detail),
    endpoints: node.endpoints.map(({ path, connections }) => ({ path, connections })),
    groups: node.localGroups,
    presence: await node.presence.count(),
    topics: node.topicCount,
    messages: { in: meter.messagesIn, out: meter.messagesOut },
    errors: meter.errors,
    rateLimited: meter.rateLimited,
    slowConsumers: meter.slowConsumers,
    connectionsTotal: meter.connectionsTotal,
    cleanup: node.session.cleanup.metrics(),
    cluster: await clusterSummary(node, Date.now())
  }
}
