import type { Connection } from '../connection/connection'
import { errors } from '../errors'
import { compileMessageSchema, type JsonObject, type ObjectSchema, type StaticOf } from '../protocol/message-schema'
import type { Ref } from '../protocol/schemas'
import type { Validator } from '../protocol/validator'
import type { EventSink } from './ports'
import type { LifecycleEvent, LifecycleEvents } from './types'

/** Lifecycle event names: not available as app message types. */
export const lifecycleEvents = [
  'connect', 'disconnect', 'subscribe', 'unsubscribe', 'presence_change', 'state_change',
  'channel_created', 'channel_removed', 'error'
] as const satisfies readonly LifecycleEvent[]

/** An app message type's schema: TypeBox 0.34 or 1.x `Type.Object`, or a plain JSON Schema of an object. */
export type { ObjectSchema }
/** A declared app message as its handler receives it: typed by a TypeBox schema, any fields by a plain one. */
export type AppMessage<S extends ObjectSchema> = StaticOf<S> & { type: string, ref?: Ref }
export type MessageHandler<S extends ObjectSchema = ObjectSchema> =
  (connection: Connection, message: AppMessage<S>) => unknown

export interface MessageType {
  validator: Validator
  /** The schema as plain JSON, with the envelope: what the AsyncAPI document shows. */
  payload: JsonObject
  /** The declared handler, then the plain listeners of the type unless it returned `STOP`. */
  handler: MessageHandler
  declared: MessageHandler
}

type Listener = (...args: never[]) => unknown

/**
 * Returned (or resolved) by a handler to stop the handlers after it for this one emission.
 * A symbol rather than `false`, so that a handler returning a boolean by accident stops nothing.
 */
export const STOP: unique symbol = Symbol.for('fastify-hauyna.stop')

const resolved = Promise.resolve()

/**
 * One dispatch point: lifecycle events, app message types declared with a schema,
 * and custom events. Handlers of one event run in registration order until one returns
 * `STOP`; a handler that throws reaches the error sink instead of the caller, and the next
 * handler still runs.
 */
export class EventsService implements EventSink {
  /** Declared app message types, consulted by the dispatcher. @internal */
  readonly messageTypes = new Map<string, MessageType>()
  private readonly handlers = new Map<string, Listener[]>()
  private typesRevision = 0

  constructor (
    private readonly reserved: ReadonlySet<string>,
    private readonly onHandlerError: (error: unknown, event: string, args: unknown[]) => void
  ) {}

  on<E extends LifecycleEvent> (event: E, handler: (...args: LifecycleEvents[E]) => unknown): this
  on<S extends ObjectSchema> (type: string, options: { schema: S }, handler: MessageHandler<S>): this
  on (event: string, handler: (...args: any[]) => unknown): this
  on (event: string, second: Listener | { schema: ObjectSchema }, third?: MessageHandler): this {
    if (typeof second === 'function') {
      const list = this.handlers.get(event)
      if (list === undefined) this.handlers.set(event, [second])
      else list.push(second)
      return this
    }
    this.declare(event, second.schema, third)
    return this
  }

  off (event: string, handler: Listener): this {
    const list = this.handlers.get(event)
    const index = list?.indexOf(handler) ?? -1
    if (list !== undefined && index >= 0) {
      list.splice(index, 1)
      if (list.length === 0) this.handlers.delete(event)
    }
    if (this.messageTypes.get(event)?.declared === handler) this.removeType(event)
    return this
  }

  /** Changes whenever a message type is declared or removed: the AsyncAPI document's cache key. @internal */
  get revision (): number {
    return this.typesRevision
  }

  /** Runs every handler of `event` in order; resolves when all have finished. */
  emit<E extends LifecycleEvent> (event: E, ...args: LifecycleEvents[E]): Promise<void>
  emit (event: string, ...args: unknown[]): Promise<void>
  emit (event: string, ...args: unknown[]): Promise<void> {
    const list = this.handlers.get(event)
    return list === undefined ? resolved : this.run(event, list.slice(), args)
  }

  /**
   * Emits `event` with `first` (an endpoint's own handler) ahead of the registered ones, so
   * that it may `STOP` them. @internal
   */
  emitAfter (first: Listener | undefined, event: string, args: unknown[]): Promise<void> {
    if (first === undefined) return this.emit(event, ...args)
    return this.run(event, [first, ...this.handlers.get(event) ?? []], args)
  }

  listenerCount (event: string): number {
    return this.handlers.get(event)?.length ?? 0
  }

  private async run (event: string, list: Listener[], args: unknown[]): Promise<void> {
    for (const handler of list) {
      try {
        if (await (handler as (...a: unknown[]) => unknown)(...args) === STOP) return
      } catch (error) {
        this.onHandlerError(error, event, args)
      }
    }
  }

  private declare (type: string, schema: ObjectSchema, handler: MessageHandler | undefined): void {
    if (this.reserved.has(type)) throw new errors.ReservedType(type)
    if (this.messageTypes.has(type)) throw new errors.DuplicateType(type)
    if (typeof handler !== 'function') throw new errors.InvalidSchema(type, 'a handler function is required')
    const { validator, payload } = compileMessageSchema(type, schema)
    const run: MessageHandler = (conn, message) => {
      const result = handler(conn, message)
      return this.listenerCount(type) === 0 ? result : this.continueAfter(type, result, [conn, message])
    }
    this.messageTypes.set(type, { validator, payload, handler: run, declared: handler })
    this.typesRevision++
  }

  private removeType (type: string): void {
    this.messageTypes.delete(type)
    this.typesRevision++
  }

  // The declared handler's failure is the sender's answer (its ref); listeners' go to the sink.
  private async continueAfter (type: string, result: unknown, args: unknown[]): Promise<void> {
    if (await result !== STOP) await this.emit(type, ...args)
  }
}
