import { type HauynaOptions, redisAdapter } from '../lib/index'

/**
 * `REDIS_URL` set: the examples scale out over Redis, so several processes on several ports
 * are one app. Unset: the embedded default, nothing else to run.
 */
export function adapterFromEnv (env: NodeJS.ProcessEnv = process.env): HauynaOptions['adapter'] {
  const url = env.REDIS_URL
  return url === undefined || url === '' ? undefined : redisAdapter({ url })
}
