import type { Connection } from '../connection/connection'
import { errors } from '../errors'

/** This node's open connections, by id and by user. */
export class ConnectionDirectory {
  private readonly byId = new Map<string, Connection>()
  private readonly byUser = new Map<string, Set<Connection>>()

  get (id: string): Connection | undefined {
    return this.byId.get(id)
  }

  /** The connection itself, or the one with this id; HAUYNA_UNKNOWN_CONNECTION when there is none. */
  resolve (target: Connection | string): Connection {
    if (typeof target !== 'string') return target
    const conn = this.byId.get(target)
    if (conn === undefined) throw new errors.UnknownConnection(target)
    return conn
  }

  ofUser (userId: string): Connection[] {
    const set = this.byUser.get(userId)
    return set === undefined ? [] : [...set]
  }

  countOfUser (userId: string): number {
    return this.byUser.get(userId)?.size ?? 0
  }

  /** The user's connections here, as the bus delivers to them (no copy). */
  ofUserSet (userId: string): ReadonlySet<Connection> | undefined {
    return this.byUser.get(userId)
  }

  /** Returns `true` for the user's first connection here. */
  add (conn: Connection): boolean {
    this.byId.set(conn.id, conn)
    const set = this.byUser.get(conn.userId)
    if (set !== undefined) {
      set.add(conn)
      return false
    }
    this.byUser.set(conn.userId, new Set<Connection>().add(conn))
    return true
  }

  /** Returns `true` when the user's last connection here went. */
  remove (conn: Connection): boolean {
    if (!this.byId.delete(conn.id)) return false
    const set = this.byUser.get(conn.userId)
    if (set === undefined || !set.delete(conn) || set.size > 0) return false
    this.byUser.delete(conn.userId)
    return true
  }

  get size (): number {
    return this.byId.size
  }

  /** Users with at least one connection registered. */
  get userCount (): number {
    return this.byUser.size
  }

  values (): IterableIterator<Connection> {
    return this.byId.values()
  }

  /** Each user's connections. */
  users (): IterableIterator<ReadonlySet<Connection>> {
    return this.byUser.values()
  }
}
