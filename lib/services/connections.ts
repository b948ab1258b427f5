import type { Connection } from '../connection/connection'
import type { ConnectionState } from '../connection/state'
import { ALL_TOPIC, userTopic } from '../pubsub/topics'
import { errors } from '../errors'
import { CloseCode, isValidCloseCode } from '../protocol/codes'
import { frames } from '../protocol/frames'
import { checkUserId, userKey } from '../protocol/names'
import type { ConnectionLookup, Publisher } from './ports'
import { type SendOptions, senderOf } from './send-options'

export interface ConnectionsDeps {
  connections: ConnectionLookup
  publisher: Publisher
}

/** The live registry of this node's connections, direct messages and broadcasts. */
export class ConnectionsService {
  private readonly connections: ConnectionLookup
  private readonly publisher: Publisher

  /** @internal */
  constructor (deps: ConnectionsDeps) {
    this.connections = deps.connections
    this.publisher = deps.publisher
  }

  get (id: string): Connection | undefined {
    return this.connections.get(id)
  }

  byUser (userId: string): Connection[] {
    return this.connections.ofUser(userKey(userId))
  }

  /** Every connection of `userId` receives a `direct` frame; resolves to the deliveries made. */
  async sendTo (userId: string, data: unknown, options: SendOptions = {}): Promise<number> {
    return this.publisher.publish(userTopic(checkUserId(userId)), frames.direct(senderOf(options), data))
  }

  /** Every connection receives a `broadcast` frame; resolves to the deliveries made. */
  async broadcast (data: unknown, options: SendOptions = {}): Promise<number> {
    return this.publisher.publish(ALL_TOPIC, frames.broadcast(senderOf(options), data))
  }

  async count (): Promise<number> {
    return this.connections.size
  }

  /** Distinct users with at least one connection. */
  async userCount (): Promise<number> {
    return this.connections.userCount
  }

  inState (state: ConnectionState): Connection[] {
    const out: Connection[] = []
    for (const conn of this.connections.values()) if (conn.state === state) out.push(conn)
    return out
  }

  async close (id: string, code: number = CloseCode.Normal, reason = ''): Promise<boolean> {
    const conn = this.connections.get(id)
    if (conn === undefined) return false
    conn.close(code, reason)
    return true
  }

  /** Closes every connection of `userId` on this node; resolves to the number closed. */
  async closeUser (userId: string, code: number = CloseCode.Normal, reason = ''): Promise<number> {
    // Checked first, so an invalid code closes none rather than throwing midway.
    if (!isValidCloseCode(code)) throw new errors.InvalidCloseCode(code)
    const conns = this.connections.ofUser(userKey(userId))
    for (const conn of conns) conn.close(code, reason)
    return conns.length
  }

  values (): IterableIterator<Connection> {
    return this.connections.values()
  }
}
