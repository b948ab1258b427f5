import { PresenceTable } from '../adapters/presence-table'
import type { RealtimeNode } from './node'

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

export function probe (node: RealtimeNode): NodeProbe {
  const store = node.adapter.presence
  return {
    connectionsById: node.directory.size,
    connectionsByUser: node.directory.userCount,
    hubTopics: node.hub.topicCount,
    groupMemberships: node.groups.size,
    userGroups: node.groups.userCount,
    presenceUsers: store instanceof PresenceTable ? store.userCount : -1,
    presenceChannels: node.channelPresence.counts.channels,
    presenceChannelUsers: node.channelPresence.counts.users,
    channelRecords: node.channels.registry.size,
    inboxBytes: node.session.inboxBudget.used,
    draining: node.session.draining
  }
}
