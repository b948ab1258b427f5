import { setTimeout as sleep } from 'node:timers/promises'
import { CloseCode } from '../protocol/codes'
import type { Runtime } from './runtime'

const POLL_MS = 10

async function waitForEmpty (runtime: Runtime, ms: number): Promise<void> {
  const deadline = Date.now() + ms
  while (runtime.directory.size > 0 && Date.now() < deadline) await sleep(POLL_MS)
}

/**
 * Graceful shutdown: every client gets 1001; those that have not finished the closing
 * handshake within `closeTimeout` are terminated, so `app.close()` resolves promptly.
 */
export async function drain (runtime: Runtime): Promise<void> {
  runtime.draining = true
  for (const conn of runtime.directory.values()) conn.close(CloseCode.GoingAway, 'server shutting down')
  await waitForEmpty(runtime, runtime.options.closeTimeout)
  for (const conn of runtime.directory.values()) conn.terminate()
  await waitForEmpty(runtime, runtime.options.closeTimeout)
  // Closed connections may still hold subscriptions and presence until their cleanup ran.
  await runtime.cleanup.drain()
  await runtime.deferrals.flush()
}
