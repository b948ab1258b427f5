import type { Connection } from '../connection/connection'
import { CloseCode } from '../protocol/codes'
import { frames } from '../protocol/frames'
import { closeEvery, type OpenConnections, waitForEmpty } from './shutdown'

const REASON = 'server draining'

export interface HandoffDeps {
  connections: OpenConnections
  /** Ms a client has to finish the closing handshake before it is terminated. */
  closeTimeout: number
  /** A number in [0, 1), as `Math.random` gives. */
  random (): number
}

/**
 * Tells `conn` when it will be closed, and closes it then. The frame waits for the end of the
 * setup, so that `connected` stays the first frame of every connection.
 */
function leaveAt (conn: Connection, after: number): ReturnType<typeof setTimeout> {
  void conn.setup.then(() => conn.send(frames.reconnect(after)))
  return setTimeout(() => conn.close(CloseCode.GoingAway, REASON), after)
}

/**
 * A rolling deploy's drain: each client is told `reconnect` with its own time, uniformly
 * random over [0, `timeout`), and closed with 1001 at that time, so that the other nodes take
 * this node's clients a few at a time rather than all at once. Whoever is left at `timeout`
 * is closed like at shutdown. Resolves when every connection is gone.
 */
export async function handOff (deps: HandoffDeps, timeout: number): Promise<void> {
  const timers = [...deps.connections.values()].map((conn) => leaveAt(conn, Math.floor(deps.random() * timeout)))
  await waitForEmpty(deps.connections, timeout)
  for (const timer of timers) clearTimeout(timer)
  // A late timer (a busy event loop) finds its connection closed already, with the same words.
  await closeEvery(deps.connections, deps.closeTimeout, REASON)
}
