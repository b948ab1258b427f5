import { type Static, Type } from '@sinclair/typebox'

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
  groups: Type.Integer({ description: 'groups with a member connected to this node' }),
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
  }, { description: 'the disconnect cleanup queue' }),
  cluster: Type.Object({
    connections: Type.Integer({ description: 'connections set up on every node, now' }),
    users: Type.Integer({ description: 'distinct users connected to any node, now' }),
    nodes: Type.Array(Type.Object({
      nodeId: Type.String(),
      connections: Type.Integer(),
      users: Type.Integer({ description: 'distinct users connected to that node' }),
      uptime: Type.Number({ description: 'seconds since that node started' }),
      lastSeen: Type.String({ description: 'that node\'s last heartbeat (ISO 8601)' })
    }), { description: 'every live node of the cluster, by nodeId; this node alone on the memory adapter' })
  }, { description: 'the cluster as the adapter shares it' })
})
export type Stats = Static<typeof StatsSchema>
