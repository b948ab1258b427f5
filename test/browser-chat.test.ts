import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Browser, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { buildChatApp } from '../example/chat/app'
import { newUser, openPage } from '../scripts/chromium'
import { appAndBrowser, chromiumHere, skipWithoutChromium } from './browser-helpers'

// The example chat page in Debian's headless Chromium, speaking through the SDK bundle, and
// the example's live dashboard.
const BUNDLE = join(__dirname, '..', 'dist/client/hauyna-client.js')
const SCREENSHOT = '/tmp/chat.png'

async function startChat (port: number): Promise<FastifyInstance> {
  const app = await buildChatApp({ logger: false })
  await app.listen({ port, host: '127.0.0.1' })
  return app
}

/** A page in a browser context of its own, as another person's browser would be. */
async function openChat (browser: Browser, port: number, userId: string): Promise<Page> {
  return openPage(await newUser(browser), `http://127.0.0.1:${port}/?userId=${userId}&room=lobby`)
}

/** Waits until the page's log holds `count` lines matching `text`. */
async function logLines (page: Page, text: string, count = 1): Promise<void> {
  await page.waitForFunction(([wanted, n]) =>
    [...document.querySelectorAll('#log div')].filter((d) => d.textContent?.includes(wanted as string)).length >= (n as number),
  [text, count] as const, { timeout: 15_000 })
}

async function say (page: Page, text: string): Promise<void> {
  await page.getByTestId('text').fill(text)
  await page.getByRole('button', { name: 'Send' }).click()
}

const skip = skipWithoutChromium('the headless-Chromium chat test')

/** A chat server and a browser, both closed when `t` ends, with alice's and bob's pages open in the lobby. */
async function twoUsers (t: Test): Promise<{ app: FastifyInstance, port: number, browser: Browser, alice: Page, bob: Page }> {
  const { app, port, browser } = await appAndBrowser(t, () => buildChatApp({ logger: false }))
  const alice = await openChat(browser, port, 'alice')
  const bob = await openChat(browser, port, 'bob')
  await logLines(alice, 'joined #lobby')
  await logLines(bob, 'joined #lobby')
  return { app, port, browser, alice, bob }
}

t.test('the chat page in headless Chromium: two users, a message, a server restart, another message', {
  skip
}, async (t) => {
  if (!chromiumHere(t)) return
  t.ok(existsSync(BUNDLE), 'the SDK bundle is built (npm run build)')
  const users = await twoUsers(t)
  const { port, alice, bob } = users
  let app = users.app
  t.teardown(() => app.close())

  await say(alice, 'hello bob')
  await logLines(bob, '[#lobby] alice: hello bob')
  t.pass('bob saw alice\'s message')

  // A restart on the same port: the old app closes (1001), a new one takes its place.
  await app.close()
  await bob.getByTestId('status').filter({ hasText: /^(reconnecting|open)$/ }).waitFor({ timeout: 10_000 })
  app = await startChat(port)
  await logLines(alice, 'joined #lobby', 2)
  await logLines(bob, 'joined #lobby', 2)
  t.equal(await alice.getByTestId('status').textContent(), 'open')
  t.equal(await bob.getByTestId('status').textContent(), 'open')
  await logLines(bob, 'connection lost; reconnecting')

  await say(bob, 'hi alice, still here')
  await logLines(alice, '[#lobby] bob: hi alice, still here')
  await logLines(bob, '[#lobby] bob: hi alice, still here')
  t.pass('alice saw bob\'s message after the restart')
  await alice.screenshot({ path: SCREENSHOT })
  t.ok(existsSync(SCREENSHOT), `screenshot at ${SCREENSHOT}`)

  const log = await alice.locator('#log').innerText()
  t.match(log, /\[#lobby\] alice: hello bob[\s\S]*\[#lobby\] bob: hi alice, still here/, 'both messages, in order, in alice\'s page')
})

t.test('the chat page shows what was said while it was away, and a new page what was said before', {
  skip
}, async (t) => {
  if (!chromiumHere(t)) return
  const { app, port, browser, alice, bob } = await twoUsers(t)
  await say(alice, 'before the tunnel')
  await logLines(bob, '[#lobby] alice: before the tunnel')

  // Bob's connection drops (as in a tunnel); the page reconnects within half a second or so.
  const [bobConnection] = app.connections.byUser('bob')
  bobConnection.socket.terminate()
  await app.channels.broadcastTo('lobby', 'said while bob was away', { from: 'alice' })
  await logLines(bob, '[#lobby] alice: said while bob was away  (while you were away)')
  await say(alice, 'after the tunnel')
  await logLines(bob, '[#lobby] alice: after the tunnel')
  const log = await bob.locator('#log').innerText()
  t.equal(log.split('said while bob was away').length, 2, 'shown once')
  t.match(log, /before the tunnel[\s\S]*said while bob was away[\s\S]*after the tunnel/, 'in order')

  const carol = await openChat(browser, port, 'carol')
  await logLines(carol, '[#lobby] alice: after the tunnel')
  t.match(await carol.locator('#log').innerText(), /before the tunnel[\s\S]*said while bob was away[\s\S]*after the tunnel[\s\S]*joined #lobby/,
    'a new page loads the room\'s history, then joins')
})

t.test('the chat page: a status change shows in the other user\'s list, a direct message arrives unread, typing shows', {
  skip
}, async (t) => {
  if (!chromiumHere(t)) return
  const { alice, bob } = await twoUsers(t)
  const aliceInBobsList = bob.locator('#users [data-user="alice"]')
  await aliceInBobsList.and(bob.locator('[data-status="online"]')).waitFor({ timeout: 10_000 })
  await alice.getByTestId('my-status').selectOption('away')
  await aliceInBobsList.and(bob.locator('[data-status="away"]')).waitFor({ timeout: 10_000 })
  t.match(await aliceInBobsList.innerText(), /alice — away/, 'bob sees alice away')

  // Bob opens a conversation with alice from the list; alice is in the lobby, so it is unread there.
  await aliceInBobsList.click()
  await say(bob, 'psst, alice')
  await logLines(alice, '(direct) bob: psst, alice')
  const fromBob = alice.locator('#dms [data-conversation="@bob"]')
  await fromBob.getByTestId('unread').filter({ hasText: /^1$/ }).waitFor({ timeout: 10_000 })
  t.notOk(await alice.locator('#log div', { hasText: '(direct) bob: psst, alice' }).isVisible(), 'hidden while the lobby is open')
  await fromBob.click()
  t.ok(await alice.locator('#log div', { hasText: '(direct) bob: psst, alice' }).isVisible(), 'shown in the conversation')
  t.equal(await fromBob.getByTestId('unread').count(), 0, 'no longer unread once opened')

  await alice.locator('#rooms [data-conversation="#lobby"]').click()
  await bob.locator('#rooms [data-conversation="#lobby"]').click()
  await bob.getByTestId('text').fill('typing away')
  await alice.getByTestId('typing').filter({ hasText: 'bob is typing' }).waitFor({ timeout: 10_000 })
  t.pass('alice sees bob typing')
})

t.test('the chat page shows a banner when the server drops its connection, and when it is back', {
  skip
}, async (t) => {
  if (!chromiumHere(t)) return
  const { app, bob } = await twoUsers(t)
  t.ok(await bob.getByTestId('banner').isHidden(), 'no banner while connected')
  const [bobConnection] = app.connections.byUser('bob')
  bobConnection.socket.terminate()
  await bob.getByTestId('banner').filter({ hasText: 'Connection lost' }).waitFor({ timeout: 10_000 })
  t.pass('the banner says the connection is lost')
  await bob.getByTestId('banner').filter({ hasText: 'Reconnected' }).waitFor({ timeout: 10_000 })
  t.pass('then that it is back')
})

t.test('the dashboard of the chat example, in headless Chromium: the connections counter moves as clients connect', {
  skip
}, async (t) => {
  if (!chromiumHere(t)) return
  const { port, browser } = await twoUsers(t)
  const dashboard = await (await newUser(browser, { width: 1200, height: 800 })).newPage()
  const problems: string[] = []
  dashboard.on('pageerror', (error) => problems.push(error.message))
  await dashboard.goto(`http://127.0.0.1:${port}/ws/dashboard`)
  await dashboard.getByTestId('feed').filter({ hasText: /^live$/ }).waitFor({ timeout: 10_000 })
  await dashboard.getByTestId('connections').filter({ hasText: /^2$/ }).waitFor({ timeout: 10_000 })
  await openChat(browser, port, 'carol')
  await dashboard.getByTestId('connections').filter({ hasText: /^3$/ }).waitFor({ timeout: 10_000 })
  t.pass('alice and bob, then carol, counted')
  t.same(problems, [], 'no page errors')
})
