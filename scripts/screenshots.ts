import type { FastifyInstance } from 'fastify'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { buildGameApp } from '../example/game/app'
import { buildNotificationsApp } from '../example/notifications/app'
import { launchChromium, newUser, openPage, portOf } from './chromium'

/**
 * The examples' screenshots, taken of the real pages in headless Chromium:
 * `npm run screenshots` takes them all, `npm run screenshots -- game` the ones named.
 * Another page is one more entry in `shots`.
 */
interface Shot {
  name: string
  /** Where the PNG is written, from the repository's root. */
  file: string
  build: () => Promise<FastifyInstance>
  /** Brings the example to a state worth showing, on the app at `base`; the page to shoot. */
  scene: (browser: Browser, base: string) => Promise<Page>
}

const shots: Shot[] = [
  {
    name: 'notifications',
    file: 'example/notifications/screenshot.png',
    build: () => buildNotificationsApp({ logger: false }),
    scene: async (browser, base) => {
      const page = await openPage(await newUser(browser, { width: 760, height: 250 }), `${base}/?userId=alice`)
      await notify(`${base}/notify`, { title: 'Welcome to the team', body: 'say hi in #lobby' })
      await page.getByTestId('unread').filter({ hasText: /^1$/ }).waitFor()
      await page.getByTestId('history').click() // read
      await notify(`${base}/notify`, { title: 'Maintenance tonight', body: '22:00 to 22:15 UTC' })
      await notify(`${base}/notify/alice`, { title: 'Your report is ready' })
      await page.getByTestId('unread').filter({ hasText: /^2$/ }).waitFor()
      return page
    }
  },
  {
    name: 'game',
    file: 'example/game/screenshot.png',
    build: () => buildGameApp({ logger: false }),
    scene: async (browser, base) => {
      const pages = await Promise.all(['alice', 'bob', 'carol'].map(async (userId) =>
        openPage(await newUser(browser, { width: 800, height: 420 }), `${base}/?userId=${userId}`)))
      for (const player of ['alice', 'bob', 'carol']) await pages[0].locator(`.dot[data-player="${player}"]`).waitFor()
      await pages[0].getByTestId('players').filter({ hasText: /carol/ }).waitFor()
      return pages[0]
    }
  }
]

async function notify (url: string, body: object): Promise<void> {
  const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  if (!response.ok) throw new Error(`POST ${url}: ${response.status}`)
}

async function take (browser: Browser, shot: Shot): Promise<void> {
  const app = await shot.build()
  try {
    await app.listen({ port: 0, host: '127.0.0.1' })
    const page = await shot.scene(browser, `http://127.0.0.1:${portOf(app)}`)
    await page.screenshot({ path: join(__dirname, '..', shot.file) })
    console.log(`${shot.name}: ${shot.file}`)
  } finally {
    await app.close()
  }
}

async function main (names: string[]): Promise<void> {
  const browser = await launchChromium()
  try {
    for (const shot of shots) if (names.length === 0 || names.includes(shot.name)) await take(browser, shot)
  } finally {
    await browser.close()
  }
}

main(process.argv.slice(2)).catch((error) => {
  console.error(error)
  process.exit(1)
})
