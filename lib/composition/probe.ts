import { GroupTable } from '../adapters/group-table'
import { HistoryTable } from '../adapters/history-table'
import { SessionTable } from '../adapters/session-table'
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
  /** Shared sets in this process's member table, per kind (`channel`, `presence`, `user`, `group`); `undefined` when the adapter keeps them elsewhere. */
  readonly sharedSets: Record<string, { sets: number, users: number }> | undefined
  readonly channelRecords: number
  /** Channel streams (history) in this process; -1 when the adapter keeps them elsewhere. */
  readonly historyStreams: number
  /** Sessions waiting for resume in this process; -1 when the adapter keeps them elsewhere. */
  readonly suspendedSessions: number
  /** Bytes parked in every connection's inbox. */
  readonly inboxBytes: number
  readonly draining: boolean
}

export function probe (node: RealtimeNode): NodeProbe {
  const store = node.adapter.presence
  const members = node.adapter.members
  const groups = node.adapter.groups
  return {
    connectionsById: node.directory.size,
    connectionsByUser: node.directory.userCount,
    hubTopics: node.hub.topicCount,
    groupMemberships: groups instanceof GroupTable ? groups.counts.groups : -1,
    userGroups: groups instanceof GroupTable ? groups.counts.users : -1,
    presenceUsers: store instanceof PresenceTable ? store.userCount : -1,
    sharedSets: members instanceof MemberTable ? members.counts : undefined,
    channelRecords: node.channels.registry.size,
    historyStreams: node.adapter.history instanceof HistoryTable ? node.adapter.history.size : -1,
    suspendedSessions: node.adapter.sessions instanceof SessionTable ? node.adapter.sessions.size : -1,
    inboxBytes: node.session.inboxBudget.used,
    draining: node.session.draining
  }
}
