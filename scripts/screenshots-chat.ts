// `npm run screenshots:chat`: the chat example's screenshot (example/chat/screenshot.png) and its
// dashboard's (docs/dashboard.png), taken in headless Chromium (CHROMIUM_PATH, default
// /usr/bin/chromium) against a chat server on a free port, with a few scripted users.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import WebSocket from 'ws'
import { HauynaClient } from '../lib/client/index'
import { buildChatApp } from '../example/chat/app'
import { CHROMIUM, launchChromium, newUser, openPage, portOf } from './chromium'

const ROOT = join(__dirname, '..')
const CHAT_SHOT = join(ROOT, 'example/chat/screenshot.png')
const DASHBOARD_SHOT = join(ROOT, 'docs/dashboard.png')
const BOTS = 8
// Long enough for the dashboard (a sample every 2 s) to draw lines worth looking at.
const ACTIVITY_MS = 40_000

const delay = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

async function openChat (browser: Browser, port: number, userId: string): Promise<Page> {
  return openPage(await newUser(browser), `http://127.0.0.1:${port}/?userId=${userId}&room=lobby`)
}

async function say (page: Page, text: string): Promise<void> {
  await page.getByTestId('text').fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
}

/** A scripted user of the SDK in Node, in the `load` room, where alice is not, and in `rooms`. */
async function bot (port: number, name: string, rooms: string[] = []): Promise<HauynaClient> {
  const client = new HauynaClient(`ws://127.0.0.1:${port}/ws?userId=${name}`, { WebSocket })
  for (const room of ['load', ...rooms]) client.subscribe(room, () => {})
  await client.start()
  return client
}

/**
 * Bots arrive one by one and chatter in `load`, now and then in `random` (unread on alice's
 * page); half of them leave before the end, so that the lines go down too.
 */
async function activity (port: number): Promise<void> {
  const bots: HauynaClient[] = []
  const started = Date.now()
  for (let tick = 0; Date.now() - started < ACTIVITY_MS; tick++) {
    if (tick < 60 && tick % 4 === 0 && bots.length < BOTS) bots.push(await bot(port, `bot${bots.length + 1}`, bots.length === 0 ? ['random'] : []))
    if (tick === 60) for (const leaving of bots.splice(BOTS / 2)) await leaving.stop()
    await Promise.all(bots.map(async (b, i) => {
      if ((tick + i) % 3 === 0) await b.publish('load', `message ${tick} from bot${i + 1}`)
    }))
    if (tick % 25 === 5) await bots[0].publish('random', `anyone up for lunch? (${tick / 25 + 1})`)
    await delay(500)
  }
  await Promise.all(bots.map(async (b) => await b.stop()))
}

/** Alice's page: bob away, an unread room and an unread direct message, and bob typing. */
async function chatScene (browser: Browser, port: number): Promise<{ alice: Page, bob: Page }> {
  const alice = await openChat(browser, port, 'alice')
  const bob = await openChat(browser, port, 'bob')
  await say(alice, 'hi bob! the release is out')
  await say(bob, 'great, trying it now')
  await alice.getByTestId('join-room').fill('random')
  await alice.getByRole('button', { name: 'Join' }).click()
  await alice.locator('#rooms [data-conversation="#lobby"]').click()
  await bob.getByTestId('my-status').selectOption('away')
  await bob.locator('#users [data-user="alice"]').click()
  await say(bob, 'back in 5 minutes')
  await bob.locator('#rooms [data-conversation="#lobby"]').click()
  return { alice, bob }
}

async function main (): Promise<void> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: install Debian's chromium or set CHROMIUM_PATH`)
  if (!existsSync(join(ROOT, 'dist/client/hauyna-client.js'))) throw new Error('the client bundle is not built: run npm run build:client')
  const app = await buildChatApp({ logger: false })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const port = portOf(app)
  const browser = await launchChromium()
  try {
    const dashboard = await (await newUser(browser, { width: 1280, height: 860 })).newPage()
    await dashboard.goto(`http://127.0.0.1:${port}/ws/dashboard`)
    const { alice, bob } = await chatScene(browser, port)
    await activity(port)
    // Bob types last, so that alice's page shows it when the picture is taken.
    await bob.getByTestId('text').fill('one more thing')
    await alice.getByTestId('typing').filter({ hasText: 'bob is typing' }).waitFor({ timeout: 10_000 })
    await alice.screenshot({ path: CHAT_SHOT })
    await dashboard.screenshot({ path: DASHBOARD_SHOT, fullPage: true })
    console.log(`wrote ${CHAT_SHOT} and ${DASHBOARD_SHOT}`)
  } finally {
    await browser.close()
    await app.close()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
