import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { errors } from '../errors'

/** What the gate asks of the node. */
export interface GateNode {
  /** The node drains (`fastify.hauyna.drain()`): no upgrade is let through. */
  draining (): boolean
  /** An upgrade refused, by the label the metrics count it under (`overloaded`, `draining`). */
  refused (code: string): void
}

/**
 * The door of every endpoint, before anything else runs (`authenticate`, the upgrade, the
 * setup): a draining node answers every upgrade 503 with `Retry-After`, so that the client
 * goes to another node; and past `maxPendingUpgrades` concurrent handshakes (when set), an
 * upgrade is answered the same way, so that a reconnect storm queues at the clients instead
 * of piling up in the server. An upgrade counts from its request until its connection's setup
 * is over, or until the request is answered or its socket closes.
 */
export class UpgradeGate {
  private pending = 0

  constructor (private readonly max: number, private readonly retryAfter: number, private readonly node: GateNode) {}

  /** The route's first onRequest hook. */
  readonly admit = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!request.ws) done()
    else if (this.node.draining()) this.refuse(reply, 'draining', new errors.Draining())
    else if (this.max === 0) done()
    else if (this.pending >= this.max) this.refuse(reply, 'overloaded', new errors.Overloaded(this.max))
    else this.count(request, done)
  }

  /** A refused upgrade was answered over HTTP: its place is free. */
  readonly answered = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    request.hauynaUpgrade?.()
    done()
  }

  private refuse (reply: FastifyReply, code: string, error: Error): void {
    this.node.refused(code)
    reply.code(503).header('retry-after', String(this.retryAfter)).send(error)
  }

  private count (request: FastifyRequest, done: HookHandlerDoneFunction): void {
    this.pending++
    const socket = request.raw.socket
    let counted = true
    const release = (): void => {
      if (!counted) return
      counted = false
      this.pending--
      socket?.off('close', release)
    }
    // A socket that closes mid-handshake (or under `injectWS`, none at all) releases its place too.
    socket?.once('close', release)
    request.hauynaUpgrade = release
    done()
  }
}
