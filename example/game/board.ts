export const WIDTH = 20
export const HEIGHT = 14

export interface Cell { x: number, y: number }
interface Player extends Cell { color: string, target: Cell }
/** What one tick tells the room: the players that moved or arrived, and those gone. */
export interface Delta { players: Record<string, Cell & { color: string }>, gone: string[] }

/** A number from a user id, so a player gets the same colour and starting cell every time. */
function hash (userId: string): number {
  let h = 0
  for (const char of userId) h = (h * 31 + char.charCodeAt(0)) >>> 0
  return h
}

const step = (from: number, to: number): number => from + Math.sign(to - from)

/**
 * The authoritative board: where every player is and where they are heading. Clients only say
 * where they want to go; the board moves each player one cell per tick towards it, so nobody
 * moves faster or leaves the board, whatever a client sends.
 */
export class Board {
  private readonly players = new Map<string, Player>()
  private readonly moved = new Set<string>()
  private readonly gone = new Set<string>()

  /** A player joins (or opens a second tab): the next tick carries the whole board, for them. */
  join (userId: string): void {
    if (!this.players.has(userId)) {
      const h = hash(userId)
      const at = { x: h % WIDTH, y: (h >>> 8) % HEIGHT }
      this.players.set(userId, { ...at, target: at, color: `hsl(${h % 360} 70% 45%)` })
      this.gone.delete(userId)
    }
    for (const id of this.players.keys()) this.moved.add(id)
  }

  leave (userId: string): void {
    if (this.players.delete(userId)) this.gone.add(userId)
    this.moved.delete(userId)
  }

  aim (userId: string, target: Cell): void {
    const player = this.players.get(userId)
    if (player !== undefined) player.target = target
  }

  /** Moves everyone one cell towards their target; what changed since the last tick, or `undefined` when nothing did. */
  tick (): Delta | undefined {
    for (const [id, player] of this.players) {
      if (player.x === player.target.x && player.y === player.target.y) continue
      player.x = step(player.x, player.target.x)
      player.y = step(player.y, player.target.y)
      this.moved.add(id)
    }
    if (this.moved.size === 0 && this.gone.size === 0) return undefined
    const players: Delta['players'] = {}
    for (const id of this.moved) {
      const { x, y, color } = this.players.get(id) as Player
      players[id] = { x, y, color }
    }
    const delta = { players, gone: [...this.gone] }
    this.moved.clear()
    this.gone.clear()
    return delta
  }
}
