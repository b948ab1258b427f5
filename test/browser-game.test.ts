import type { Page } from 'playwright-core'
import t from 'tap'
import { buildGameApp } from '../example/game/app'
import { HEIGHT, WIDTH } from '../example/game/board'
import { newUser, openPage } from '../scripts/chromium'
import { appAndBrowser, chromiumHere, skipWithoutChromium } from './browser-helpers'

// The game page in headless Chromium: players in browser contexts of their own.
const skip = skipWithoutChromium('the headless-Chromium game test')
const CELL = 28

const dot = (page: Page, player: string) => page.locator(`.dot[data-player="${player}"]`)

async function cellOf (page: Page, player: string): Promise<{ x: number, y: number }> {
  await dot(page, player).waitFor({ timeout: 15_000 })
  const [x, y] = await Promise.all([dot(page, player).getAttribute('data-x'), dot(page, player).getAttribute('data-y')])
  return { x: Number(x), y: Number(y) }
}

/** Waits until `page` shows `player`'s dot at that cell. */
async function dotAt (page: Page, player: string, x: number, y: number): Promise<void> {
  await page.locator(`.dot[data-player="${player}"][data-x="${x}"][data-y="${y}"]`).waitFor({ timeout: 15_000 })
}

async function players (page: Page, text: RegExp): Promise<void> {
  await page.getByTestId('players').filter({ hasText: text }).waitFor({ timeout: 15_000 })
}

t.test('the game page: a move shows on the other player\'s board, players join and leave live', { skip }, async (t) => {
  if (!chromiumHere(t)) return
  const { port, browser } = await appAndBrowser(t, () => buildGameApp({ logger: false }))
  const open = async (userId: string): Promise<Page> => openPage(await newUser(browser), `http://127.0.0.1:${port}/?userId=${userId}`)
  const alice = await open('alice')
  const bob = await open('bob')
  await players(alice, /bob/)
  const start = await cellOf(bob, 'alice')
  t.same(await cellOf(alice, 'alice'), start, 'both boards show alice in the same cell')

  // A key: one cell, seen on bob's board.
  const down = start.y < HEIGHT - 1
  await alice.keyboard.press(down ? 'ArrowDown' : 'ArrowUp')
  const y = start.y + (down ? 1 : -1)
  await dotAt(bob, 'alice', start.x, y)
  t.pass('alice\'s key moved her dot on bob\'s board')

  // A click across the board: the server walks her there, a cell per tick.
  const x = WIDTH - 1 - start.x
  await alice.getByTestId('board').click({ position: { x: x * CELL + CELL / 2, y: y * CELL + CELL / 2 } })
  await dotAt(bob, 'alice', x, y)
  t.pass('alice\'s click moved her dot on bob\'s board')

  // Carol comes and goes.
  const carol = await open('carol')
  await dot(bob, 'carol').waitFor({ timeout: 15_000 })
  await players(bob, /carol/)
  t.same(await cellOf(carol, 'alice'), { x, y }, 'the newcomer sees alice where she is')
  await carol.close()
  await dot(bob, 'carol').waitFor({ state: 'detached', timeout: 15_000 })
  await bob.getByTestId('players').filter({ hasNotText: /carol/ }).waitFor({ timeout: 15_000 })
  t.pass('carol\'s dot and name went from bob\'s page')
})
