import type { Connection } from '../connection/connection'
import type { CleanupStep } from '../util/cleanup-queue'
import { ALL_TOPIC, userTopic } from '../pubsub/topics'

/** A closed connection, already out of the registry, whose resources are still held. */
export interface Departure {
  readonly conn: Connection
  /** It was its user's last connection on this node. */
  readonly last: boolean
  readonly code: number
  readonly reason: string
}

/**
 * What a departure releases, in order, run by the cleanup queue. A failing step is retried
 * on its own, so every step must be safe to run again after a partial failure.
 */
export const departureSteps: ReadonlyArray<CleanupStep<Departure>> = [
  async function leaveChannels ({ conn }: Departure) {
    await conn.runtime.channels.detach(conn, conn.runtime.leaveGrace)
  },
  async function leaveGroups ({ conn, last }: Departure) {
    await conn.runtime.groups.detach(conn, last)
  },
  async function leaveOwnTopics ({ conn }: Departure) {
    await conn.runtime.leave(conn, userTopic(conn.userId))
    await conn.runtime.leave(conn, ALL_TOPIC)
  },
  // A quick reconnect (page reload) within the grace period keeps the user present throughout.
  async function untrackPresence ({ conn }: Departure) {
    const { runtime } = conn
    if (!runtime.options.presence.autoUntrack) return
    await runtime.leaveGrace(async () => { await runtime.presence.untrack(conn) })
  },
  async function announceDisconnect ({ conn, code, reason }: Departure) {
    await conn.runtime.events.emitAfter(conn.route.onDisconnect, 'disconnect', [conn, { code, reason }])
  }
]
