import { type Static, type TObject } from '@sinclair/typebox'
import type { Connection } from '../connection/connection'
import { errors } from '../errors'
import { frames } from '../protocol/frames'
import { checkUserId } from '../protocol/names'
import { clientSchemas } from '../protocol/schemas'
import { compileValidator, type Validator } from '../protocol/validator'
import { allows, type PermissionRule, type RuleContext } from '../services/policies'
import type { Runtime } from './runtime'
import { ALL_TOPIC, channelTopic, groupTopic, userTopic } from '../pubsub/topics'

type Schemas = typeof clientSchemas
type Handler<S extends TObject> = (conn: Connection, message: Static<S>, runtime: Runtime) => unknown

export interface BuiltinType {
  validator: Validator
  handler: Handler<TObject>
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

const handlers: { [K in keyof Schemas]: Handler<Schemas[K]> } = {
  async subscribe (conn, { channel, meta, echo, ref }, runtime) {
    const rule = runtime.channels.policies.for(channel).subscribe
    await check(rule, { connection: conn, channel }, conn.subscriptions.has(channel),
      () => new errors.Forbidden(`not allowed to subscribe to channel "${channel}"`))
    await runtime.channels.join(conn, channel, { meta, echo })
    conn.send(runtime.channels.subscribedReply(channel, ref))
  },

  async unsubscribe (conn, { channel, ref }, runtime) {
    if (!await runtime.channels.leave(conn, channel)) throw new errors.NotSubscribed(channel)
    conn.send(frames.unsubscribed(channel, ref))
  },

  publish (conn, { channel, data }, runtime) {
    const rule = runtime.channels.policies.for(channel).publish
    const subscribed = conn.subscriptions.has(channel)
    const checked = check(rule, { connection: conn, channel, data }, subscribed, () => rule === 'subscribers'
      ? new errors.NotSubscribed(channel)
      : new errors.Forbidden(`not allowed to publish to channel "${channel}"`))
    return thenDo(checked, () => runtime.publish(channelTopic(channel), frames.message(channel, conn.userId, data), conn.id))
  },

  direct (conn, { to: id, data }, runtime) {
    // In its stored form: `alice ` reaches alice, a look-alike (`alice\u200b`) is refused.
    const to = checkUserId(id)
    const checked = check(runtime.options.permissions.direct, { connection: conn, to, data }, true,
      () => new errors.Forbidden(`not allowed to send direct messages to "${to}"`))
    return thenDo(checked, () => runtime.publish(userTopic(to), frames.direct(conn.userId, data)))
  },

  group (conn, { group, data }, runtime) {
    const checked = check(runtime.options.permissions.group, { connection: conn, group, data },
      runtime.groups.hasSync(conn.userId, group),
      () => new errors.Forbidden(`not allowed to send to group "${group}"`))
    return thenDo(checked, () => runtime.publish(groupTopic(group), frames.group(group, conn.userId, data)))
  },

  broadcast (conn, { data }, runtime) {
    const checked = check(runtime.options.permissions.broadcast, { connection: conn, data }, true,
      () => new errors.Forbidden('not allowed to broadcast'))
    return thenDo(checked, () => runtime.publish(ALL_TOPIC, frames.broadcast(conn.userId, data)))
  },

  async presence (conn, { status, meta }, runtime) {
    if (!await runtime.presence.update(conn, { status, meta })) await runtime.presence.track(conn, { status, meta })
  },

  heartbeat (conn, { ts }) {
    conn.send(frames.heartbeatAck(ts))
  },

  disconnect (conn) {
    // After the dispatcher's ack for this message has been written.
    queueMicrotask(() => conn.close(1000, 'client disconnect'))
  }
}

/** The protocol's own message types: compiled once, not redeclarable by apps. */
export const builtinTypes: Record<string, BuiltinType> = Object.fromEntries(
  Object.entries(handlers).map(([type, handler]) => [type, {
    validator: compileValidator(clientSchemas[type as keyof Schemas]),
    handler: handler as Handler<TObject>
  }])
)
