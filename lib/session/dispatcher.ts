import type { Connection } from '../connection/connection'
import { frames } from '../protocol/frames'
import { CloseCode, ErrorCode } from '../protocol/codes'
import { MAX_NESTING, nestsDeeperThan } from '../protocol/nesting'
import type { Ref } from '../protocol/schemas'
import type { MessageType } from '../services/events'
import { builtinTypes, type BuiltinType, type HandlerContext } from './builtin-handlers'
import type { ErrorSink } from './error-sink'

export interface DispatcherDeps {
  maxPayload: number
  /** The codec's translation of a parsed frame, if the app set one. */
  decode: ((frame: unknown) => unknown) | undefined
  /** The app's declared message types. */
  messageTypes: ReadonlyMap<string, MessageType>
  /** What the built-in handlers act on. */
  context: HandlerContext
  errors: Pick<ErrorSink, 'send' | 'report' | 'failed'>
  meter: { received (type: string, bytes: number): void }
  log: { warn (fields: object, message: string): void }
}

interface InboundEnvelope { type: string, ref?: unknown }

function isValidRef (ref: unknown): ref is Ref {
  return (typeof ref === 'string' && ref.length <= 64) || (typeof ref === 'number' && Number.isFinite(ref))
}

/**
 * The `ref` of a frame that is refused before dispatch (rate limit), so the client still
 * gets its one answer bearing that ref. Parsing is bounded: the connection is closed after
 * `maxViolations` refusals.
 */
export function refOf (data: Buffer, isBinary: boolean): Ref | undefined {
  if (isBinary) return undefined
  try {
    const ref = (JSON.parse(data.toString()) as InboundEnvelope | null)?.ref
    return isValidRef(ref) ? ref : undefined
  } catch {
    return undefined
  }
}

/**
 * Inbound frames: decode, validate with the compiled schema of their type, run the
 * built-in or app handler, then answer `ref` with exactly one `ack` or `error`.
 * Returns a promise only when a handler went async, so the connection keeps order.
 */
export class Dispatcher {
  private readonly builtins: ReadonlyMap<string, BuiltinType>

  constructor (private readonly deps: DispatcherDeps) {
    this.builtins = new Map(Object.entries(builtinTypes))
  }

  /**
   * Never throws nor rejects: an answer that cannot be written (a codec whose `encode` throws)
   * is reported, and the connection goes on with its next frame.
   */
  handle (conn: Connection, data: Buffer, isBinary: boolean): Promise<void> | undefined {
    try {
      return this.dispatch(conn, data, isBinary)?.catch((error: unknown) => { this.answerFailed(error, conn) })
    } catch (error) {
      this.answerFailed(error, conn)
      return undefined
    }
  }

  private answerFailed (error: unknown, conn: Connection): void {
    this.deps.errors.report(error, conn, 'could not answer a message')
  }

  private dispatch (conn: Connection, data: Buffer, isBinary: boolean): Promise<void> | undefined {
    const { deps } = this
    // The type label of the metrics: `invalid` unless the frame decodes to a message.
    let label = 'invalid'
    try {
      if (data.length > deps.maxPayload) {
        deps.log.warn({ connectionId: conn.id, userId: conn.userId, bytes: data.length }, 'closing connection over maxPayload')
        conn.closeAndTerminate(CloseCode.MessageTooBig, 'message too big')
        return undefined
      }
      if (isBinary) {
        deps.errors.send(conn, ErrorCode.InvalidMessage, 'binary frames are not supported; send JSON text')
        return undefined
      }
      if (nestsDeeperThan(data, MAX_NESTING)) {
        deps.errors.send(conn, ErrorCode.InvalidMessage, `frame nests deeper than ${MAX_NESTING} levels`, refOf(data, false))
        return undefined
      }
      let raw: unknown
      try {
        raw = JSON.parse(data.toString())
      } catch {
        deps.errors.send(conn, ErrorCode.InvalidJson, 'frame is not valid JSON')
        return undefined
      }
      const ref = (raw as InboundEnvelope | null)?.ref
      if (ref !== undefined && !isValidRef(ref)) {
        deps.errors.send(conn, ErrorCode.InvalidMessage, '"ref" must be a string of at most 64 characters or a number',
          undefined, [{ path: '/ref', message: 'Expected string (max 64) or number' }])
        return undefined
      }
      const message = this.decode(conn, raw, ref)
      if (message === undefined) return undefined
      label = this.typeLabel(message.type)
      return this.route(conn, message, ref)
    } finally {
      deps.meter.received(label, data.length)
    }
  }

  /** A bounded label: a built-in or declared type, else `unknown` (never the client's string). */
  private typeLabel (type: string): string {
    return this.builtins.has(type) || this.deps.messageTypes.has(type) ? type : 'unknown'
  }

  /** The codec's translation, then the envelope check; failures answer with the frame's ref. */
  private decode (conn: Connection, raw: unknown, ref: Ref | undefined): InboundEnvelope | undefined {
    let message = raw as InboundEnvelope
    const decode = this.deps.decode
    if (decode !== undefined) {
      try {
        message = decode(raw) as InboundEnvelope
      } catch (error) {
        this.deps.errors.send(conn, ErrorCode.InvalidMessage, (error as Error).message, ref)
        return undefined
      }
    }
    if (message === null || typeof message !== 'object' || Array.isArray(message) || typeof message.type !== 'string') {
      this.deps.errors.send(conn, ErrorCode.InvalidMessage, 'a message is a JSON object with a string "type"', ref,
        [{ path: '/type', message: 'Expected string' }])
      return undefined
    }
    return message
  }

  private route (conn: Connection, message: InboundEnvelope, ref: Ref | undefined): Promise<void> | undefined {
    const type = message.type
    const entry = this.builtins.get(type) ?? this.deps.messageTypes.get(type)
    if (entry === undefined) {
      this.deps.errors.send(conn, ErrorCode.UnknownType, `unknown message type "${type}"`, ref)
      return undefined
    }
    const accepted = conn.endpointConfig.messages
    if (accepted !== undefined && !accepted.has(type)) {
      this.deps.errors.send(conn, ErrorCode.UnknownType, `message type "${type}" is not accepted on ${conn.endpointConfig.path}`, ref)
      return undefined
    }
    if (!entry.validator.check(message)) {
      this.deps.errors.send(conn, ErrorCode.InvalidMessage, `invalid "${type}" message`, ref,
        entry.validator.details(message))
      return undefined
    }
    let result: unknown
    try {
      result = entry.handler(conn, message as never, this.deps.context)
    } catch (error) {
      this.fail(conn, error, ref)
      return undefined
    }
    if (result instanceof Promise) {
      return result.then(() => this.ack(conn, ref), (error) => this.fail(conn, error, ref))
    }
    this.ack(conn, ref)
    return undefined
  }

  private ack (conn: Connection, ref: Ref | undefined): void {
    if (ref !== undefined) conn.send(frames.ack(ref))
  }

  private fail (conn: Connection, error: unknown, ref: Ref | undefined): void {
    this.deps.errors.failed(conn, error, ref, 'message handler failed')
  }
}
