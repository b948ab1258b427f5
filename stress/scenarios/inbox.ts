// Scenario 3, inbox: 50 connections, each within its rate limit (the default: a burst of 100,
// then 50/s; sent here at 45/s), send max-size frames of an app type whose handler takes 1 s,
// so frames park in the connection's inbox. Server RSS peak, and how many got `rate_limited`.
import { encodeText } from '../../bench/lean-client'
import type { LeanClient } from '../../bench/lean-client'
import { connect } from '../attack'
import { mb, now, sleep } from '../measure'
import { startServer } from '../processes'
import { budget, type Scenario } from '../scenario'

const CONNECTIONS = 50
const BURST = 100
const PER_SECOND = 45
const MAX_PAYLOAD = 64 * 1024

/** A `slow` frame of exactly maxPayload bytes (the largest the server accepts). */
function maxFrame (): Buffer {
  const empty = JSON.stringify({ type: 'slow', data: '' })
  return encodeText(JSON.stringify({ type: 'slow', data: 'x'.repeat(MAX_PAYLOAD - empty.length) }))
}

export const inbox: Scenario = {
  name: 'inbox',
  async run ({ quick }) {
    const seconds = quick ? 4 : 8
    const server = await startServer({ slowMs: 1000 })
    try {
      let rateLimited = 0
      const onMessage = (text: string | null): void => { if (text?.includes('"rate_limited"') === true) rateLimited++ }
      const clients: LeanClient[] = []
      for (let i = 0; i < CONNECTIONS; i++) clients.push(await connect(server.port, `inbox-${i}`, { decode: true, onMessage }))
      const frame = maxFrame()
      let sent = 0
      let peak = 0
      const started = now()
      const send = (count: number): void => {
        for (const client of clients) for (let k = 0; k < count; k++) client.write(frame)
        sent += count * clients.length
      }
      send(BURST)
      // Then PER_SECOND per connection, in ten steps a second, sampling the RSS peak as it goes.
      for (let step = 1; step <= seconds * 10; step++) {
        await sleep(Math.max(0, started + step * 100 - now()))
        send(PER_SECOND / 10 + (step % 2 === 0 ? 0.5 : -0.5))
        if (step % 5 === 0) peak = Math.max(peak, (await server.probe()).maxRss)
      }
      await sleep(1000)
      peak = Math.max(peak, (await server.probe()).maxRss)
      const closed = clients.filter((c) => c.closeCode !== undefined || c.socket.destroyed).length
      for (const client of clients) client.destroy()
      return {
        figures: { 'frames sent': sent, 'RSS peak MB': mb(peak), rate_limited: rateLimited, closed: `${closed}/${CONNECTIONS}` },
        budgets: [budget('RSS < 300 MB under the inbox attack', peak < 300 * 2 ** 20, `${mb(peak)} MB`)]
      }
    } finally {
      await server.stop()
    }
  }
}
