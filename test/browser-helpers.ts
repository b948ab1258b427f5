import { existsSync } from 'node:fs'
import type { FastifyInstance } from 'fastify'
import type { Browser } from 'playwright-core'
import type { Test } from 'tap'
import { CHROMIUM, launchChromium, portOf } from '../scripts/chromium'
import { IN_CI } from './helpers'

// Without Chromium the browser tests are skipped loudly on a developer's machine, and fail in CI.
const missing = existsSync(CHROMIUM)
  ? undefined
  : `${CHROMIUM} not found: install Debian's chromium (apt-get install -y chromium; .ci/run does this)`

/** The `skip` option of a browser test, with a banner when it is skipped. */
export function skipWithoutChromium (what: string): string | false {
  if (missing === undefined || IN_CI) return false
  console.error(`\n${'!'.repeat(100)}\n!!! SKIPPING ${what}: ${missing}\n${'!'.repeat(100)}\n`)
  return `SKIPPED LOUDLY: ${missing}`
}

/** Fails in CI when Chromium is missing (the test is skipped loudly elsewhere); `true` when it can run. */
export function chromiumHere (t: Test): boolean {
  if (missing !== undefined) t.fail(`CI must run the browser test: ${missing}`)
  return missing === undefined
}

/** An example app listening on a random loopback port, and a browser; both closed when `t` ends. */
export async function appAndBrowser (t: Test, build: () => Promise<FastifyInstance>): Promise<{ app: FastifyInstance, port: number, browser: Browser }> {
  const app = await build()
  await app.listen({ port: 0, host: '127.0.0.1' })
  t.teardown(() => app.close())
  const browser = await launchChromium()
  t.teardown(() => browser.close())
  return { app, port: portOf(app), browser }
}
