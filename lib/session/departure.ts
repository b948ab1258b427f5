import type { Connection } from '../connection/connection'
import { ConnectionState } from '../connection/state'
import type { CleanupStep } from '../util/cleanup-queue'
import type { Later } from '../util/deferrals'
import type { PresenceService } from '../services/presence'

/** A closed connection, already out of the registry, whose resources are still held. */
export interface Departure {
  readonly conn: Connection
  readonly code: number
  readonly reason: string
  /** The session waits for its client (session resume): presence leaves wait for the resume window. */
  readonly resumable: boolean
}

/** What the departure steps release, and when a presence leave happens. */
export interface DepartureDeps {
  channels: { detach (conn: Connection, presenceLeave: Later): Promise<void> }
  groups: { detach (conn: Connection): Promise<void> }
  presence: Pick<PresenceService, 'untrack'>
  /** Runs the `disconnect` listeners, the built-in one first. */
  events: { emitAfter (first: ((...args: never[]) => unknown) | undefined, event: string, args: unknown[]): Promise<void> }
  autoUntrack: boolean
  /** The leave grace period: a quick reconnect (page reload) keeps the user present throughout. */
  grace: Later
  /** The resume window, for a session that waits for its client. */
  resumeGrace: Later
}

/**
 * What a departure releases, in order, run by the cleanup queue. A failing step is retried
 * on its own, so every step must be safe to run again after a partial failure.
 */
export function departureSteps (deps: DepartureDeps): ReadonlyArray<CleanupStep<Departure>> {
  return [
    async function leaveChannels ({ conn, resumable }: Departure) {
      await deps.channels.detach(conn, resumable ? deps.resumeGrace : deps.grace)
    },
    async function leaveGroups ({ conn }: Departure) {
      await deps.groups.detach(conn)
    },
    async function untrackPresence ({ conn, resumable }: Departure) {
      if (deps.autoUntrack) await (resumable ? deps.resumeGrace : deps.grace)(async () => { await deps.presence.untrack(conn) })
    },
    async function endReconnecting ({ conn, resumable }: Departure) {
      if (resumable) await deps.resumeGrace(async () => { conn.transition(ConnectionState.Disconnected) })
    },
    async function announceDisconnect ({ conn, code, reason }: Departure) {
      await deps.events.emitAfter(conn.endpointConfig.onDisconnect, 'disconnect', [conn, { code, reason }])
    }
  ]
}
