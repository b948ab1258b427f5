import type { Connection } from '../connection/connection'
import type { ConnectionState } from '../connection/state'
import { ALL_TOPIC, userTopic } from '../pubsub/topics'
import { errors } from '../errors'
import { CloseCode, isValidCloseCode } from '../protocol/codes'
import { frames } from '../protocol/frames'
import { checkUserId, userKey } from '../protocol/names'
import type { ConnectionLocation, ConnectionLookup, ConnectionRoster, Publisher } from './ports'
import { type SendOptions, senderOf } from './send-options'

export interface ConnectionsDeps {
  connections: ConnectionLookup
  publisher: Publisher
  /** Every node's connections, by user. */
  roster: ConnectionRoster
}

/**
 * The live registry of connections: this node's as objects, every node's as counts and
 * locations; direct messages and broadcasts.
 */
export class ConnectionsService {
  private readonly connections: ConnectionLookup
  private readonly publisher: Publisher
  private readonly roster: ConnectionRoster

  /** @internal */
  constructor (deps: ConnectionsDeps) {
    this.connections = deps.connections
    this.publisher = deps.publisher
    this.roster = deps.roster
  }

  /** Where the user is connected, on every node. */
  async locate (userId: string): Promise<ConnectionLocation[]> {
    return this.roster.locate(userKey(userId))
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

  /** Connections set up on every node (one that is closing may still count until its cleanup). */
  async count (): Promise<number> {
    return (await this.roster.totals()).connections
  }

  /** Distinct users with at least one connection on any node. */
  async userCount (): Promise<number> {
    return (await this.roster.totals()).users
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
