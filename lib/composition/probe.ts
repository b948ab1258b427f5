import { MemberTable } from '../adapters/member-table'
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
  /** Shared sets in this process's member table (channels' subscriptions, presence channels), and their users; -1 when the adapter keeps them elsewhere. */
  readonly memberSets: number
  readonly memberUsers: number
  readonly channelRecords: number
  /** Bytes parked in every connection's inbox. */
  readonly inboxBytes: number
  readonly draining: boolean
}

export function probe (node: RealtimeNode): NodeProbe {
  const store = node.adapter.presence
  const members = node.adapter.members
  return {
    connectionsById: node.directory.size,
    connectionsByUser: node.directory.userCount,
    hubTopics: node.hub.topicCount,
    groupMemberships: node.groups.size,
    userGroups: node.groups.userCount,
    presenceUsers: store instanceof PresenceTable ? store.userCount : -1,
    memberSets: members instanceof MemberTable ? members.counts.sets : -1,
    memberUsers: members instanceof MemberTable ? members.counts.users : -1,
    channelRecords: node.channels.registry.size,
    inboxBytes: node.session.inboxBudget.used,
    draining: node.session.draining
  }
}
