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

  add (conn: Connection): void {
    this.byId.set(conn.id, conn)
    let set = this.byUser.get(conn.userId)
    if (set === undefined) this.byUser.set(conn.userId, set = new Set())
    set.add(conn)
  }

  remove (conn: Connection): void {
    this.byId.delete(conn.id)
    const set = this.byUser.get(conn.userId)
    set?.delete(conn)
    if (set?.size === 0) this.byUser.delete(conn.userId)
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
