import type { BrowserContext, Page } from 'playwright-core'
import t from 'tap'
import { buildNotificationsApp } from '../example/notifications/app'
import { newUser, openPage } from '../scripts/chromium'
import { appAndBrowser, chromiumHere, skipWithoutChromium } from './browser-helpers'

// The notifications page in headless Chromium, two users, each in a browser context of their own.
const skip = skipWithoutChromium('the headless-Chromium notifications test')

async function waitForText (page: Page, testId: string, text: string | RegExp): Promise<void> {
  await page.getByTestId(testId).filter({ hasText: text }).waitFor({ timeout: 15_000 })
}

t.test('the notifications page: shown as they arrive, counted unread, and kept for a page that was closed', { skip }, async (t) => {
  if (!chromiumHere(t)) return
  const { port, browser } = await appAndBrowser(t, () => buildNotificationsApp({ logger: false }))
  const base = `http://127.0.0.1:${port}`
  const open = (user: BrowserContext, userId: string): Promise<Page> => openPage(user, `${base}/?userId=${userId}`)
  const notify = (path: string, title: string): Promise<Response> => fetch(`${base}${path}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ title })
  })
  const aliceUser = await newUser(browser)
  const bobUser = await newUser(browser)
  const alice = await open(aliceUser, 'alice')
  let bob = await open(bobUser, 'bob')

  // Alice notifies everyone from her page; bob sees it arrive and counted.
  await alice.getByTestId('title').fill('deploy finished')
  await alice.getByRole('button', { name: 'Notify' }).click()
  await waitForText(bob, 'toast', 'deploy finished')
  await waitForText(bob, 'unread', /^1$/)
  await waitForText(bob, 'history', 'deploy finished')

  // One for bob alone, from the HTTP API: his count goes up, alice's page never shows it.
  t.equal((await notify('/notify/bob', 'your build is green')).status, 200)
  await waitForText(bob, 'toast', 'your build is green')
  await waitForText(bob, 'unread', /^2$/)
  await waitForText(alice, 'unread', /^1$/)
  t.notMatch(await alice.getByTestId('history').innerText(), /your build is green/, 'alice does not see bob\'s')

  // Bob reads them: a click on the list.
  await bob.getByTestId('history').click()
  await waitForText(bob, 'unread', /^0$/)

  // Bob closes the page; one arrives meanwhile; the page, reopened, shows it in its history, unread.
  await bob.close()
  t.equal((await notify('/notify/bob', 'sent while you were away')).status, 200)
  bob = await open(bobUser, 'bob')
  await waitForText(bob, 'history', 'sent while you were away')
  await waitForText(bob, 'unread', /^1$/)
  t.match(await bob.getByTestId('history').innerText(),
    /sent while you were away[\s\S]*your build is green[\s\S]*deploy finished/, 'the whole history, newest first')
  t.equal(await bob.locator('li.unread').count(), 1, 'only the one sent while away is unread')
})

t.test('POST /notify validates its body', async (t) => {
  const app = await buildNotificationsApp({ logger: false })
  t.teardown(() => app.close())
  const bad = await app.inject({ method: 'POST', url: '/notify', payload: { text: 'no title' } })
  t.equal(bad.statusCode, 400)
  const good = await app.inject({ method: 'POST', url: '/notify/alice', payload: { title: 'hi' } })
  t.same(good.json(), { delivered: 0 }, 'nobody listens yet; the inbox keeps it')
  const feeds = (await app.inject('/notifications/alice')).json()
  t.match(feeds, [{ channel: 'notifications', messages: [] }, { channel: 'inbox:alice', messages: [{ data: { title: 'hi' } }] }])
})
