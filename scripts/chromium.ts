import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

/** Debian's headless Chromium, which the browser tests and the screenshots drive. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'
]

export function launchChromium (): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS, headless: true })
}

/** The port an example app listens on. */
export function portOf (app: FastifyInstance): number {
  const address = app.server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

/** A browser context of its own: one user, with their own storage, as a second browser would be. */
export function newUser (browser: Browser, viewport = { width: 900, height: 520 }): Promise<BrowserContext> {
  return browser.newContext({ viewport })
}

/**
 * Opens an example's page and waits until its client is connected (its `status` element says
 * `open`); fails on any script error the page threw meanwhile.
 */
export async function openPage (user: BrowserContext, url: string): Promise<Page> {
  const page = await user.newPage()
  const problems: string[] = []
  page.on('pageerror', (error) => problems.push(error.message))
  await page.goto(url)
  await page.getByTestId('status').filter({ hasText: /^open$/ }).waitFor({ timeout: 10_000 })
  if (problems.length > 0) throw new Error(`page errors at ${url}: ${problems.join('; ')}`)
  return page
}
