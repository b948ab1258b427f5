import { PresenceTable } from '../adapters/memory'
import type { Runtime } from '../core/runtime'

/**
 * The sizes of a node's internal maps, for the test suite only: stats count what users see,
 * while a leak hides in the maps behind them (a user's group set, a presence entry, a topic
 * nobody holds). Not API; see `internalsOf` in plugin.ts.
 */
export interface NodeProbe {
  readonly connectionsById: number
  readonly connectionsByUser: number
  readonly hubTopics: number
  readonly groupMemberships: number
  readonly userGroups: number
  /** Users in this process's presence table; -1 when the adapter keeps presence elsewhere. */
  readonly presenceUsers: number
  /** Channels holding presence members, and users who are members of one. */
  readonly presenceChannels: number
  readonly presenceChannelUsers: number
  readonly channelRecords: number
  /** Bytes parked in every connection's inbox. */
  readonly inboxBytes: number
  readonly draining: boolean
}

export function probe (runtime: Runtime): NodeProbe {
  const store = runtime.adapter.presence
  return {
    connectionsById: runtime.directory.size,
    connectionsByUser: runtime.directory.userCount,
    hubTopics: runtime.hub.topicCount,
    groupMemberships: runtime.groups.size,
    userGroups: runtime.groups.userCount,
    presenceUsers: store instanceof PresenceTable ? store.userCount : -1,
    presenceChannels: runtime.channelPresence.counts.channels,
    presenceChannelUsers: runtime.channelPresence.counts.users,
    channelRecords: runtime.channels.registry.size,
    inboxBytes: runtime.inboxBudget.used,
    draining: runtime.draining
  }
}
