import { Type } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { join } from 'node:path'
import hauyna, { type Connection, type HauynaOptions } from '../../lib/index'
import { servePage } from '../page'
import { Board, HEIGHT, WIDTH } from './board'

/** The room every player is in: clients subscribe to it, and see who is there (presence). */
const ROOM = 'game'
/** 20 Hz: at most one state message per tick, whatever the number of moves. */
const TICK_MS = 50

/** A move intent: the cell the player wants to go to. */
const Move = Type.Object({
  x: Type.Integer({ minimum: 0, maximum: WIDTH - 1 }),
  y: Type.Integer({ minimum: 0, maximum: HEIGHT - 1 })
})

/**
 * The game example: a board of coloured dots, one per player, at `/`. The server is
 * authoritative: clients send `move` intents, the board moves players one cell per tick, and
 * each tick that changed something is one `message` to the room. The board lives in this
 * process (with REDIS_URL, connections and presence are shared, but each node has its own board).
 */
export async function buildGameApp (options: { logger?: boolean, adapter?: HauynaOptions['adapter'] } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  // A demo: anyone may be anyone (?userId=). A real app sets `authenticate` (docs/AUTH.md).
  await app.register(hauyna, {
    path: '/ws',
    adapter: options.adapter,
    allowUnverifiedIdentity: true,
    // Clients only listen to the room: what they say goes through `move`, which the board judges.
    channels: { default: 'deny', policies: { [ROOM]: { subscribe: true, publish: false, presence: true } } }
  })
  const board = new Board()

  app.events.on('subscribe', (conn, channel) => { if (channel === ROOM) board.join(conn.userId) })
  app.events.on('unsubscribe', (conn, channel) => {
    if (channel === ROOM && !stillPlaying(app, conn)) board.leave(conn.userId)
  })
  app.events.on('move', { schema: Move }, (conn, msg) => { board.aim(conn.userId, { x: msg.x, y: msg.y }) })

  // One broadcast per tick, and only when something changed: the plugin encodes it once for
  // every subscriber, so a tick costs one JSON.stringify however many players watch.
  const timer = setInterval(() => {
    const delta = board.tick()
    if (delta !== undefined) app.channels.broadcastTo(ROOM, delta).catch((error) => app.log.error(error, 'tick'))
  }, TICK_MS)
  app.addHook('onClose', async () => { clearInterval(timer) })

  app.get('/board', async () => ({ width: WIDTH, height: HEIGHT }))
  await servePage(app, join(__dirname, 'public', 'index.html'))
  return app
}

/** Whether another of the user's connections here is still in the room (a second tab). */
function stillPlaying (app: FastifyInstance, leaving: Connection): boolean {
  return app.connections.byUser(leaving.userId).some((conn) => conn.id !== leaving.id && conn.subscriptions.has(ROOM))
}
