import { setTimeout as sleep } from 'node:timers/promises'
import { CloseCode } from '../protocol/codes'
import type { Connection } from '../connection/connection'

const POLL_MS = 10

export interface DrainDeps {
  /** Refuses new connections from now on. */
  stopAccepting (): void
  connections: { values (): IterableIterator<Connection>, readonly size: number }
  /** Ms a client has to finish the closing handshake before it is terminated. */
  closeTimeout: number
  /** The departures still being cleaned up. */
  cleanup: { drain (): Promise<void> }
  /** Tasks waiting for their time (presence leave grace), run at once. */
  deferrals: { flush (): Promise<void> }
}

async function waitForEmpty (deps: DrainDeps): Promise<void> {
  const deadline = Date.now() + deps.closeTimeout
  while (deps.connections.size > 0 && Date.now() < deadline) await sleep(POLL_MS)
}

/**
 * Graceful shutdown: every client gets 1001; those that have not finished the closing
 * handshake within `closeTimeout` are terminated, so `app.close()` resolves promptly.
 */
export async function drain (deps: DrainDeps): Promise<void> {
  deps.stopAccepting()
  for (const conn of deps.connections.values()) conn.close(CloseCode.GoingAway, 'server shutting down')
  await waitForEmpty(deps)
  for (const conn of deps.connections.values()) conn.terminate()
  await waitForEmpty(deps)
  // Closed connections may still hold subscriptions and presence until their cleanup ran.
  await deps.cleanup.drain()
  await deps.deferrals.flush()
}
