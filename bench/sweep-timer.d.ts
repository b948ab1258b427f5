// Types of bench/sweep-timer.js for the TypeScript callers (bench/heartbeat-sweep.ts, stress/).
export interface SweepTimes {
  /** Wall-clock ms of each synchronous call. */
  wall: number[]
  /** CPU ms (user + system, every thread) of each call. */
  cpu: number[]
  /** Wall-clock ms of each round's calls together. */
  rounds: number[]
  /** CPU ms of each round's calls together. */
  roundsCpu: number[]
}

export declare function timeSweepWork (Monitor: abstract new (...args: any[]) => unknown): SweepTimes
