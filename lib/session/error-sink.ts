import { Connection } from '../connection/connection'
import { ErrorCode } from '../protocol/codes'
import { frames } from '../protocol/frames'
import type { Ref } from '../protocol/schemas'
import type { ValidationDetail } from '../protocol/validator'
import { wireCodeOf } from '../protocol/wire-codes'
import type { EventSink } from '../services/ports'

export interface ErrorSinkDeps {
  log: {
    readonly level: string
    debug (fields: object, message: string, ...args: unknown[]): void
    error (fields: object, message: string): void
  }
  meter: { errorSent (code: string): void }
  events: EventSink
}

/**
 * Where errors go: a client's `error` frame (counted, logged at debug), and the one sink for
 * the server's own failures (logged with the connection's identity within its log budget,
 * and emitted as `error`).
 */
export class ErrorSink {
  constructor (private readonly deps: ErrorSinkDeps) {}

  send (conn: Connection, code: ErrorCode, message: string, ref?: Ref, details?: ValidationDetail[]): void {
    const { log, meter } = this.deps
    meter.errorSent(code)
    // Only a written line spends the connection's log budget.
    if (log.level === 'debug' || log.level === 'trace') {
      const suppressed = conn.admitLog(Date.now())
      if (suppressed !== undefined) {
        log.debug({ connectionId: conn.id, userId: conn.userId, code, ref, suppressed: suppressed || undefined }, 'protocol error: %s', message)
      }
    }
    conn.send(frames.error(code, message, ref, details))
  }

  report (error: unknown, conn: Connection | undefined, message: string): void {
    const err = error instanceof Error ? error : new Error(String(error))
    const suppressed = conn === undefined ? 0 : conn.admitLog(Date.now())
    if (suppressed !== undefined) this.deps.log.error({ err, connectionId: conn?.id, userId: conn?.userId, suppressed: suppressed || undefined }, message)
    const events = this.deps.events
    if (events.listenerCount('error') > 0) void events.emit('error', err, conn)
  }

  /**
   * A request that failed, answered: a plugin error a client may see keeps its wire code and
   * message; anything else is reported as `what` and answered `internal server error`, so no
   * internal detail reaches the client.
   */
  failed (conn: Connection, error: unknown, ref: Ref | undefined, what: string): void {
    const code = wireCodeOf(error)
    if (code !== ErrorCode.InternalError) {
      this.send(conn, code, (error as Error).message, ref)
      return
    }
    this.report(error, conn, what)
    this.send(conn, code, 'internal server error', ref)
  }

  /**
   * A failing event handler: reported, and its connection (if any) told `internal_error`
   * without the details, and kept. A failing `error` handler is only logged: emitting `error`
   * for it would feed itself.
   */
  handlerFailed (error: unknown, event: string, args: unknown[]): void {
    if (event === 'error') {
      this.deps.log.error({ err: error }, '"error" handler failed')
      return
    }
    const conn = args.find((arg): arg is Connection => arg instanceof Connection)
    this.report(error, conn, `"${event}" handler failed`)
    if (conn?.isOpen === true) this.send(conn, ErrorCode.InternalError, `internal server error in "${event}" handler`)
  }
}
