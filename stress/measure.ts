// Measuring tools shared by the scenarios: bounded waits, percentiles, and the two probes that
// run beside an attack (GET /health latency, and a bystander's publish → receive latency).
import { setTimeout as sleep } from 'node:timers/promises'
import { protocols } from '../bench/protocols'
import { subscriber } from '../bench/subscriber'
import { httpGet } from './processes'

export { sleep }
export const now = (): number => performance.timeOrigin + performance.now()

export function withTimeout<T> (promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(message)), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/** Polls `check` every `every` ms until it is true or `ms` have passed; resolves to whether it became true. */
export async function waitFor (check: () => boolean | Promise<boolean>, ms: number, every = 100): Promise<boolean> {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (await check()) return true
    await sleep(every)
  }
  return check()
}

export function percentile (samples: number[], p: number): number {
  if (samples.length === 0) return NaN
  const sorted = [...samples].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]
}

export const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0)
export const ms = (x: number): string => (Number.isNaN(x) ? '—' : x >= 100 ? x.toFixed(0) : x.toFixed(1))

export interface Sampler {
  /** Stops sampling and resolves to the latencies seen, in ms. */
  stop (): Promise<number[]>
}

/** GET /health one after the other, `every` ms apart, at most 20,000 times; a timeout counts as its 10 s. */
export function sampleHealth (port: number, every = 20): Sampler {
  const samples: number[] = []
  let running = true
  const loop = (async () => {
    while (running && samples.length < 20_000) {
      const started = now()
      await httpGet(port, '/health').catch(() => undefined)
      samples.push(now() - started)
      await sleep(every)
    }
  })()
  return { stop: async () => { running = false; await loop; return samples } }
}

/**
 * A bystander on `channel` publishing a timestamp every `every` ms (at most 20,000) and
 * hearing its own echo: the publish → receive latency of a well-behaved client.
 */
export async function sampleBystander (port: number, channel: string, every = 50): Promise<Sampler> {
  const proto = protocols.hauyna
  const samples: number[] = []
  let sent = 0
  const client = await subscriber(port, proto, `bystander-${channel}`, channel, {
    decodeAll: true,
    onData: (msg) => { if (msg.type === 'message' && typeof msg.data?.t === 'number') samples.push(now() - msg.data.t) }
  })
  const timer = setInterval(() => { if (sent++ < 20_000) client.send(proto.publish(channel, { t: now() })) }, every)
  return {
    stop: async () => {
      clearInterval(timer)
      await sleep(Math.min(2_000, every * 4))
      client.destroy()
      // A message never heard back counts as late as the whole window.
      return [...samples, ...Array<number>(Math.max(0, sent - samples.length)).fill(Infinity)]
    }
  }
}
