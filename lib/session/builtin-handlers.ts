import { type Static, type TObject } from '@sinclair/typebox'
import type { StreamPosition } from '../adapters/adapter'
import type { Connection } from '../connection/connection'
import { errors } from '../errors'
import { CloseCode } from '../protocol/codes'
import { frames } from '../protocol/frames'
import { checkUserId } from '../protocol/names'
import { clientSchemas, type Ref } from '../protocol/schemas'
import { compileValidator, type Validator } from '../protocol/validator'
import type { SubscribeOptions } from '../services/channels'
import { allows, type PermissionRule, type ResolvedChannelPolicy, type RuleContext } from '../services/policies'
import type { Publisher } from '../services/ports'
import type { PresenceState } from '../services/presence'
import { ALL_TOPIC, channelTopic, groupTopic, userTopic } from '../pubsub/topics'

/** What the protocol's own message types act on. */
export interface HandlerContext {
  channels: {
    readonly policies: { for (channel: string): ResolvedChannelPolicy }
    open (conn: Connection, channel: string, options: SubscribeOptions, ref?: Ref): Promise<void> | undefined
    leave (conn: Connection, channel: string): Promise<boolean>
  }
  presence: {
    update (conn: Connection, state: PresenceState): Promise<boolean>
    track (conn: Connection, state: PresenceState): Promise<void>
  }
  publisher: Publisher
  /** Session resume, when it is on. */
  resumption: { resume (conn: Connection, token: string, since?: Record<string, StreamPosition>): Promise<void> } | undefined
  permissions: { direct: PermissionRule, group: PermissionRule, broadcast: PermissionRule }
}

type Schemas = typeof clientSchemas
type BuiltinHandler<S extends TObject> = (conn: Connection, message: Static<S>, context: HandlerContext) => unknown

export interface BuiltinType {
  validator: Validator
  handler: BuiltinHandler<TObject>
}

async function ensure (allowed: Promise<boolean>, denied: () => Error): Promise<void> {
  if (!(await allowed)) throw denied()
}

/** Throws when refused; a promise only for a rule function that returned one, so most messages never wait. */
function check (rule: PermissionRule, context: RuleContext, inside: boolean, denied: () => Error): Promise<void> | undefined {
  const allowed = allows(rule, context, inside)
  if (allowed instanceof Promise) return ensure(allowed, denied)
  if (!allowed) throw denied()
  return undefined
}

/** `next` once the check passed: at once after a synchronous check, so a message costs no extra turn. */
function thenDo<T> (checked: Promise<void> | undefined, next: () => T): T | Promise<T> {
  return checked === undefined ? next() : checked.then(next)
}

const handlers: { [K in keyof Schemas]: BuiltinHandler<Schemas[K]> } = {
  subscribe (conn, { channel, meta, echo, since, ref }, context) {
    const rule = context.channels.policies.for(channel).subscribe
    const checked = check(rule, { connection: conn, channel }, conn.subscriptions.has(channel),
      () => new errors.Forbidden(`not allowed to subscribe to channel "${channel}"`))
    return thenDo(checked, () => context.channels.open(conn, channel, { meta, echo, since }, ref))
  },

  async unsubscribe (conn, { channel, ref }, context) {
    if (!await context.channels.leave(conn, channel)) throw new errors.NotSubscribed(channel)
    conn.send(frames.unsubscribed(channel, ref))
  },

  publish (conn, { channel, data }, context) {
    const { publish: rule, history } = context.channels.policies.for(channel)
    const subscribed = conn.subscriptions.has(channel)
    const checked = check(rule, { connection: conn, channel, data }, subscribed, () => rule === 'subscribers'
      ? new errors.NotSubscribed(channel)
      : new errors.Forbidden(`not allowed to publish to channel "${channel}"`))
    const message = (): object => frames.message(channel, conn.userId, data)
    return thenDo(checked, () => history === undefined
      ? context.publisher.publish(channelTopic(channel), message(), conn.id)
      : context.publisher.append(channelTopic(channel), message(), history, conn.id))
  },

  direct (conn, { to: id, data }, context) {
    // In its stored form: `alice ` reaches alice, a look-alike (`alice\u200b`) is refused.
    const to = checkUserId(id)
    const checked = check(context.permissions.direct, { connection: conn, to, data }, true,
      () => new errors.Forbidden(`not allowed to send direct messages to "${to}"`))
    return thenDo(checked, () => context.publisher.publish(userTopic(to), frames.direct(conn.userId, data)))
  },

  group (conn, { group, data }, context) {
    const checked = check(context.permissions.group, { connection: conn, group, data },
      // The connection receives exactly its user's groups: its identity's and those added to the user.
      conn.groups.has(group),
      () => new errors.Forbidden(`not allowed to send to group "${group}"`))
    return thenDo(checked, () => context.publisher.publish(groupTopic(group), frames.group(group, conn.userId, data)))
  },

  broadcast (conn, { data }, context) {
    const checked = check(context.permissions.broadcast, { connection: conn, data }, true,
      () => new errors.Forbidden('not allowed to broadcast'))
    return thenDo(checked, () => context.publisher.publish(ALL_TOPIC, frames.broadcast(conn.userId, data)))
  },

  async presence (conn, { status, meta }, context) {
    if (!await context.presence.update(conn, { status, meta })) await context.presence.track(conn, { status, meta })
  },

  heartbeat (conn, { ts }) {
    conn.send(frames.heartbeatAck(ts))
  },

  async resume (conn, { token, since }, context) {
    if (context.resumption === undefined) throw new errors.ResumeFailed()
    await context.resumption.resume(conn, token, since)
  },

  disconnect (conn) {
    // After the dispatcher's ack for this message has been written.
    queueMicrotask(() => conn.close(CloseCode.Normal, 'client disconnect'))
  }
}

/** The protocol's own message types: compiled once, not redeclarable by apps. */
export const builtinTypes: Record<string, BuiltinType> = Object.fromEntries(
  Object.entries(handlers).map(([type, handler]) => [type, {
    validator: compileValidator(clientSchemas[type as keyof Schemas]),
    handler: handler as BuiltinHandler<TObject>
  }])
)
