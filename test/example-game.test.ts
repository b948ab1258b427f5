import t from 'tap'
import { Board, HEIGHT, WIDTH } from '../example/game/board'

t.test('the board moves a player one cell per tick towards their target, and tells only what changed', async (t) => {
  const board = new Board()
  board.join('alice')
  const first = board.tick()
  t.same(Object.keys(first?.players ?? {}), ['alice'], 'a join: the whole board')
  const at = first!.players.alice
  t.ok(at.x >= 0 && at.x < WIDTH && at.y >= 0 && at.y < HEIGHT, 'on the board')
  t.equal(board.tick(), undefined, 'nothing changed: nothing to send')

  const target = { x: WIDTH - 1 - at.x, y: at.y }
  board.aim('alice', target)
  const steps = []
  for (let delta = board.tick(); delta !== undefined; delta = board.tick()) steps.push(delta.players.alice.x)
  t.equal(steps.length, Math.abs(target.x - at.x), 'one cell per tick')
  t.equal(steps.at(-1), target.x, 'until the target')

  board.join('bob')
  t.same(Object.keys(board.tick()?.players ?? {}).sort(), ['alice', 'bob'], 'a newcomer gets everyone')
  board.leave('alice')
  board.aim('alice', { x: 0, y: 0 })
  t.same(board.tick(), { players: {}, gone: ['alice'] }, 'a leave, once')
  t.equal(board.tick(), undefined)
})
