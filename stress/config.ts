import type { HauynaOptions } from '../lib/index'

/** What the harness asks of one stress server process (stress/server.ts), passed as JSON. */
export interface ServerConfig {
  /** Plugin options that survive JSON; `presence:*` channels always have presence on. */
  options?: Pick<HauynaOptions, 'rateLimit' | 'maxQueuedMessages' | 'maxBufferedBytes' | 'heartbeat' | 'idleTimeout' | 'maxConnectionsPerUser' | 'maxSubscriptionsPerConnection' | 'nodeId'>
  /** Logger at level info into this file; no logger when left out. */
  logFile?: string
  /** Redis adapter on this URL; the memory adapter when left out. */
  redisUrl?: string
  /** Declares the app message type `slow` ({ data: string }) whose handler awaits this many ms. */
  slowMs?: number
}

/** The answer of the server's `GET /stress/probe`. */
export interface Probe {
  /** process.cpuUsage() user + system, microseconds. */
  cpuUs: number
  rss: number
  /** Peak RSS of the process so far, bytes. */
  maxRss: number
  heapUsed: number
  /** Longest event-loop delay since the last reset, ms. */
  loopMaxMs: number
  /** 99th percentile of the event-loop delay since the last reset, ms. */
  loopP99Ms: number
  /** Longest synchronous slice of the heartbeat sweep since the last reset, wall-clock ms. */
  sweepSliceMaxMs: number
  /** Whether Object.prototype gained, lost or changed a property since the server started. */
  polluted: boolean
}
