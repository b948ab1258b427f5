import { setTimeout as sleep } from 'node:timers/promises'
import { CloseCode } from '../protocol/codes'
import type { Connection } from '../connection/connection'

const POLL_MS = 10

/** The node's open connections, as the directory holds them. */
export interface OpenConnections {
  values (): IterableIterator<Connection>
  readonly size: number
}

export interface DrainDeps {
  /** Refuses new connections from now on. */
  stopAccepting (): void
  connections: OpenConnections
  /** Ms a client has to finish the closing handshake before it is terminated. */
  closeTimeout: number
  /** The departures still being cleaned up. */
  cleanup: { drain (): Promise<void> }
  /** Tasks waiting for their time (presence leave grace), run at once. */
  deferrals: { flush (): Promise<void> }
}

/** Resolves once no connection is left, or after `ms`, whichever comes first. */
export async function waitForEmpty (connections: OpenConnections, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (connections.size > 0 && Date.now() < deadline) await sleep(POLL_MS)
}

/**
 * Every client gets 1001 with `reason`; those that have not finished the closing handshake
 * within `closeTimeout` are terminated, so that the caller resolves promptly.
 */
export async function closeEvery (connections: OpenConnections, closeTimeout: number, reason: string): Promise<void> {
  for (const conn of connections.values()) conn.close(CloseCode.GoingAway, reason)
  await waitForEmpty(connections, closeTimeout)
  for (const conn of connections.values()) conn.terminate()
  await waitForEmpty(connections, closeTimeout)
}

/** Graceful shutdown: new connections refused, every connection closed, then the cleanup finished. */
export async function drain (deps: DrainDeps): Promise<void> {
  deps.stopAccepting()
  await closeEvery(deps.connections, deps.closeTimeout, 'server shutting down')
  // Closed connections may still hold subscriptions and presence until their cleanup ran.
  await deps.cleanup.drain()
  await deps.deferrals.flush()
}
