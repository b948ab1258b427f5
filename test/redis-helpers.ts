import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Test } from 'tap'
import { IN_CI } from './helpers'

export const REDIS_URL = 'redis://127.0.0.1:6379'

// Run in a child process so the answer is known synchronously, when the tests are declared
// (tap's `skip` option), without a top-level await.
const PROBE = `
const socket = require('node:net').connect(6379, '127.0.0.1')
socket.setTimeout(2000, () => process.exit(2))
socket.on('error', () => process.exit(1))
socket.on('data', (data) => process.exit(String(data).startsWith('+PONG') ? 0 : 3))
socket.write('PING\\r\\n')`

function probe (): string | undefined {
  const result = spawnSync(process.execPath, ['-e', PROBE], { timeout: 5000 })
  return result.status === 0
    ? undefined
    : 'no Redis answers PING on 127.0.0.1:6379: start redis-server (apt-get install -y redis-server; .ci/run does this)'
}

/** Why the Redis suites cannot run here, or `undefined` when Redis answers. */
export const redisMissing = probe()

/**
 * tap's `skip` option for a suite that needs what `missing` says is absent: skipped loudly on
 * a developer's machine, never in CI, where `requireOrFail` fails it instead.
 */
export function skipLoudly (missing: string | undefined): string | false {
  if (missing === undefined || IN_CI) return false
  console.error(`\n${'!'.repeat(100)}\n!!! SKIPPING Redis suites: ${missing}\n${'!'.repeat(100)}\n`)
  return `SKIPPED LOUDLY: ${missing}`
}

/** Fails the test when `missing` says what it needs is absent (in CI); `true` when it is there. */
export function requireOrFail (t: Test, missing: string | undefined): boolean {
  if (missing === undefined) return true
  t.fail(`CI must run the Redis suites: ${missing}`)
  return false
}

/** tap's `skip` option for a test that needs Redis. */
export const skipRedis = skipLoudly(redisMissing)

/** Fails the test when Redis is missing (in CI, where it is not skipped); `true` when Redis is there. */
export function requireRedis (t: Test): boolean {
  return requireOrFail(t, redisMissing)
}

/** Every key under `prefix`, found with SCAN (never KEYS, which blocks the server). */
export async function keysUnder (redis: Redis, prefix: string): Promise<string[]> {
  const keys: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500)
    keys.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return keys.sort()
}

async function deleteUnder (prefix: string): Promise<void> {
  const redis = new Redis(REDIS_URL)
  try {
    const keys = await keysUnder(redis, prefix)
    if (keys.length > 0) await redis.del(...keys)
  } finally {
    redis.disconnect()
  }
}

/**
 * A fresh `hauyna-test:<random>:` prefix whose keys are deleted when `t` ends. Call it before
 * anything that writes under the prefix: teardowns run last-registered first, so the keys go
 * after every adapter of the test has closed.
 */
export function testPrefix (t: Test): string {
  const prefix = `hauyna-test:${randomBytes(6).toString('hex')}:`
  t.teardown(() => deleteUnder(prefix))
  return prefix
}

/** A plain connection for inspecting Redis from a test, closed when `t` ends. */
export function rawRedis (t: Test): Redis {
  const redis = new Redis(REDIS_URL)
  t.teardown(() => { redis.disconnect() })
  return redis
}
