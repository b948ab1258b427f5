import { type Static, Type } from '@sinclair/typebox'
import { connectionStates } from '../connection/state'
import type { Runtime } from './runtime'

const TOP_CHANNELS = 20

export const StatsSchema = Type.Object({
  nodeId: Type.String(),
  adapter: Type.String(),
  uptime: Type.Number({ description: 'seconds since the plugin started' }),
  connections: Type.Integer(),
  users: Type.Integer(),
  states: Type.Record(Type.String(), Type.Integer()),
  channels: Type.Object({
    count: Type.Integer(),
    top: Type.Array(Type.Object({ channel: Type.String(), subscribers: Type.Integer() }))
  }),
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

/** A snapshot of this node; bounded in size whatever the number of channels. */
export async function collectStats (runtime: Runtime): Promise<Stats> {
  const states: Record<string, number> = Object.fromEntries(connectionStates.map((s) => [s, 0]))
  for (const conn of runtime.connectionsById.values()) states[conn.state]++
  const channels = await runtime.channels.list()
  const { counters } = runtime
  return {
    nodeId: runtime.nodeId,
    adapter: runtime.adapter.name,
    uptime: (Date.now() - runtime.startedAt) / 1000,
    connections: runtime.connectionsById.size,
    users: runtime.connectionsByUser.size,
    states,
    channels: { count: channels.length, top: channels.slice(0, TOP_CHANNELS) },
    groups: runtime.groups.size,
    presence: await runtime.presence.count(),
    topics: runtime.hub.topicCount,
    messages: { in: counters.messagesIn, out: counters.messagesOut },
    errors: counters.errors,
    rateLimited: counters.rateLimited,
    slowConsumers: counters.slowConsumers,
    connectionsTotal: counters.connectionsTotal,
    cleanup: runtime.cleanup.metrics()
  }
}
