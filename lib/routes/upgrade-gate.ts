import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { errors } from '../errors'

/**
 * The cap on concurrent handshakes (`maxPendingUpgrades`): an upgrade counts from its request
 * until its connection's setup is over, or until the request is answered or its socket closes.
 * Past the cap, an upgrade is answered 503 with `Retry-After` before anything else runs
 * (`authenticate`, the upgrade, the setup), so a reconnect storm queues at the clients instead
 * of piling up in the server.
 */
export class UpgradeGate {
  private pending = 0

  constructor (private readonly max: number, private readonly retryAfter: number, private readonly refused: () => void) {}

  /** The route's first onRequest hook. */
  readonly admit = (request: FastifyRequest, reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    if (!request.ws) {
      done()
      return
    }
    if (this.pending >= this.max) {
      this.refused()
      reply.code(503).header('retry-after', String(this.retryAfter)).send(new errors.Overloaded(this.max))
      return
    }
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

  /** A refused upgrade was answered over HTTP: its place is free. */
  readonly answered = (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void => {
    request.hauynaUpgrade?.()
    done()
  }
}
