import { Type, type Static, type TSchema } from '@sinclair/typebox'
import type * as EsmTypeBox from '@sinclair/typebox' with { 'resolution-mode': 'import' }

/**
 * 1–200 characters without control characters: channel, group and user names. Invisible
 * characters and user id normalization are names.ts's (a pattern here has no Unicode classes).
 */
export const Name = Type.String({ minLength: 1, maxLength: 200, pattern: '^[^\\x00-\\x1f\\x7f]+$' })
export const Ref = Type.Union([Type.String({ maxLength: 64 }), Type.Number()])
export const Meta = Type.Record(Type.String(), Type.Unknown())
export const Status = Type.String({ minLength: 1, maxLength: 64 })
const IsoTime = Type.String({ format: 'date-time' })
/** A place in a channel's stream: offsets count its publishes, the epoch names the run they belong to. */
export const Offset = Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })
export const Epoch = Type.String({ minLength: 1, maxLength: 64 })

function clientMessage<T extends string, P extends Record<string, TSchema>> (type: T, props: P) {
  return Type.Object({ type: Type.Literal(type), ref: Type.Optional(Ref), ...props })
}

function serverMessage<T extends string, P extends Record<string, TSchema>> (type: T, props: P) {
  return Type.Object({ type: Type.Literal(type), ...props })
}

/** Every message a client may send (PROTOCOL.md, "Client → server"). */
export const clientSchemas = {
  subscribe: clientMessage('subscribe', {
    channel: Name,
    meta: Type.Optional(Meta),
    echo: Type.Optional(Type.Boolean()),
    /** The last message the client has of this channel: the server replays what came after it. */
    since: Type.Optional(Type.Object({ offset: Offset, epoch: Epoch }))
  }),
  unsubscribe: clientMessage('unsubscribe', { channel: Name }),
  publish: clientMessage('publish', { channel: Name, data: Type.Unknown() }),
  direct: clientMessage('direct', { to: Name, data: Type.Unknown() }),
  group: clientMessage('group', { group: Name, data: Type.Unknown() }),
  broadcast: clientMessage('broadcast', { data: Type.Unknown() }),
  presence: clientMessage('presence', { status: Type.Optional(Status), meta: Type.Optional(Meta) }),
  heartbeat: clientMessage('heartbeat', { ts: Type.Optional(Type.Union([Type.String(), Type.Number()])) }),
  disconnect: clientMessage('disconnect', {}),
  /** Takes over the session of a dropped connection of the same user (its token came in `connected`). */
  resume: clientMessage('resume', {
    token: Type.String({ minLength: 1, maxLength: 128 }),
    /** Per channel of the session: the last message the client has, as in `subscribe`. */
    since: Type.Optional(Type.Record(Type.String(), Type.Object({ offset: Offset, epoch: Epoch })))
  })
}

export const PresenceSummary = Type.Object({
  status: Status,
  meta: Meta,
  connections: Type.Integer({ minimum: 1 })
})

/** Every message the server sends (PROTOCOL.md, "Server → client"). */
export const serverSchemas = {
  connected: serverMessage('connected', {
    connectionId: Type.String(),
    userId: Name,
    ts: IsoTime,
    heartbeat: Type.Object({ interval: Type.Integer(), timeout: Type.Integer() }),
    /** With session resume on: the token a later connection of this user sends in `resume`. */
    resume: Type.Optional(Type.String())
  }),
  subscribed: serverMessage('subscribed', {
    channel: Name,
    ref: Type.Optional(Ref),
    presence: Type.Optional(Type.Record(Type.String(), PresenceSummary)),
    /** On a channel that keeps history: its stream's position as the subscription starts. */
    offset: Type.Optional(Offset),
    epoch: Type.Optional(Epoch),
    /** Only when the subscribe had `since`: whether every missed message follows. */
    recovered: Type.Optional(Type.Boolean())
  }),
  unsubscribed: serverMessage('unsubscribed', {
    channel: Name,
    ref: Type.Optional(Ref),
    /** Extension of PROTOCOL.md v1: why the server removed the subscription (kick, channel removed). */
    reason: Type.Optional(Type.String())
  }),
  message: serverMessage('message', {
    channel: Name,
    from: Type.Union([Name, Type.Null()]),
    data: Type.Unknown(),
    ts: IsoTime,
    /** On a channel that keeps history. */
    offset: Type.Optional(Offset),
    epoch: Type.Optional(Epoch)
  }),
  direct: serverMessage('direct', { from: Type.Union([Name, Type.Null()]), data: Type.Unknown(), ts: IsoTime }),
  group: serverMessage('group', {
    group: Name,
    from: Type.Union([Name, Type.Null()]),
    data: Type.Unknown(),
    ts: IsoTime
  }),
  broadcast: serverMessage('broadcast', { from: Type.Union([Name, Type.Null()]), data: Type.Unknown(), ts: IsoTime }),
  presence_diff: serverMessage('presence_diff', {
    channel: Type.Optional(Name),
    joins: Type.Record(Type.String(), PresenceSummary),
    leaves: Type.Record(Type.String(), PresenceSummary),
    /** Extension of PROTOCOL.md v1: status/meta changes of users who stay present. */
    updates: Type.Optional(Type.Record(Type.String(), PresenceSummary))
  }),
  ack: serverMessage('ack', { ref: Ref }),
  heartbeat_ack: serverMessage('heartbeat_ack', {
    ts: Type.Optional(Type.Union([Type.String(), Type.Number()])),
    serverTs: IsoTime
  }),
  /** The server drains: it closes this connection with 1001 in `after` ms; the client should then reconnect at once. */
  reconnect: serverMessage('reconnect', { after: Type.Integer({ minimum: 0 }) }),
  error: serverMessage('error', {
    code: Type.String(),
    message: Type.String(),
    ref: Type.Optional(Ref),
    details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() })))
  })
}

/**
 * TypeBox ships CommonJS and ESM typings whose schema marker symbols differ, and this
 * package's types see the CommonJS ones: a schema that an app composes into its own
 * `Type.Object` carries both, so that it fits whichever the app's module mode loads.
 */
type ForBothModes<S extends TSchema, E> = S & E

/** The frames, and the value schemas an app's HTTP routes can reuse (a channel name in a body, say). */
export const schemas = {
  client: clientSchemas,
  server: serverSchemas,
  Name: Name as ForBothModes<typeof Name, EsmTypeBox.TString>,
  Status: Status as ForBothModes<typeof Status, EsmTypeBox.TString>,
  Meta: Meta as ForBothModes<typeof Meta, EsmTypeBox.TRecord<EsmTypeBox.TString, EsmTypeBox.TUnknown>>,
  Ref: Ref as ForBothModes<typeof Ref, EsmTypeBox.TUnion<[EsmTypeBox.TString, EsmTypeBox.TNumber]>>
}

export type ClientMessageType = keyof typeof clientSchemas
export type ClientMessage<T extends ClientMessageType = ClientMessageType> = Static<typeof clientSchemas[T]>
export type ServerMessageType = keyof typeof serverSchemas
export type ServerMessage<T extends ServerMessageType = ServerMessageType> = Static<typeof serverSchemas[T]>
export type PresenceSummary = Static<typeof PresenceSummary>
export type Ref = Static<typeof Ref>
