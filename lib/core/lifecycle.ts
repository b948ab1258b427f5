import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import { Connection, type Identity } from '../connection/connection'
import type { ConnectionContext } from '../connection/context'
import { attachSocket } from '../connection/socket-events'
import { ConnectionState } from '../connection/state'
import { wireCodeOf } from '../protocol/wire-codes'
import { encodeMessage } from '../protocol/codec'
import { frames } from '../protocol/frames'
import { CloseCode, ErrorCode } from '../protocol/codes'
import { builtinTypes } from './builtin-handlers'
import { autoSubscribedChannels } from './endpoint'
import type { Runtime } from './runtime'
import { ALL_TOPIC, userTopic } from '../pubsub/topics'

function refuse (runtime: Runtime, socket: WebSocket, code: ErrorCode, message: string, closeCode: number): void {
  runtime.meter.refused(code)
  const text = encodeMessage(runtime.options.codec, frames.error(code, message))
  if (text !== undefined) socket.send(text)
  socket.close(closeCode, message)
}

/** Turns an upgraded socket into a registered connection; `null` identity is refused (1002). */
export function openConnection (
  runtime: Runtime, socket: WebSocket, identity: Identity | null, context: ConnectionContext
): Connection | undefined {
  if (runtime.draining) {
    socket.close(CloseCode.GoingAway, 'server shutting down')
    return undefined
  }
  if (identity === null) {
    runtime.log.info('refusing a websocket without a user id')
    refuse(runtime, socket, ErrorCode.MissingUserId, 'a user id is required (authenticate, or ?userId=)', CloseCode.ProtocolError)
    return undefined
  }
  const max = runtime.options.maxConnectionsPerUser
  if (runtime.directory.countOfUser(identity.id) >= max) {
    runtime.log.warn({ userId: identity.id }, 'refusing connection over the per-user limit')
    refuse(runtime, socket, ErrorCode.Forbidden, `too many connections for this user (max ${max})`, CloseCode.PolicyViolation)
    return undefined
  }
  const conn = new Connection(socket, identity, randomUUID(), runtime, context)
  attachSocket(conn)
  runtime.register(conn)
  conn.setup = setUp(runtime, conn, identity)
  return conn
}

/** The endpoint's channels, each answered like a client's `subscribe` (policies apply). */
async function subscribeOnConnect (runtime: Runtime, conn: Connection): Promise<void> {
  let channels: readonly string[]
  try {
    channels = await autoSubscribedChannels(conn.route, conn)
  } catch (error) {
    runtime.reportError(error, conn, `${conn.route.path}: subscribe option failed`)
    runtime.sendError(conn, ErrorCode.InternalError, 'internal server error in the endpoint\'s subscribe option')
    return
  }
  for (const channel of channels) {
    try {
      await builtinTypes.subscribe.handler(conn, { type: 'subscribe', channel }, runtime)
    } catch (error) {
      runtime.sendError(conn, wireCodeOf(error), (error as Error).message)
    }
  }
}

async function setUp (runtime: Runtime, conn: Connection, identity: Identity): Promise<void> {
  try {
    await runtime.join(conn, userTopic(conn.userId), null)
    await runtime.join(conn, ALL_TOPIC, null)
    await runtime.groups.attach(conn, identity.groups ?? [])
    const { interval, timeout } = runtime.options.heartbeat
    conn.send(frames.connected(conn.id, conn.userId, { interval, timeout }))
    conn.releaseWrites()
    if (runtime.options.presence.autoTrack) await runtime.presence.track(conn)
    await subscribeOnConnect(runtime, conn)
    await runtime.events.emitAfter(conn.route.onConnect, 'connect', [conn])
    runtime.log.debug({ connectionId: conn.id, userId: conn.userId }, 'websocket connection opened')
  } catch (error) {
    runtime.reportError(error, conn, 'connection setup failed')
    conn.releaseWrites()
    conn.close(CloseCode.InternalError, 'internal error')
    return
  }
  conn.ready()
}

/**
 * A socket closed: out of the registry at once (counts are right immediately), and the rest
 * (subscriptions, groups, topics, presence, the `disconnect` event) through the cleanup queue.
 */
export async function closeConnection (runtime: Runtime, conn: Connection, code: number, reason: string): Promise<void> {
  await conn.setup
  if (conn.state === ConnectionState.Connected || conn.state === ConnectionState.Idle) {
    conn.transition(ConnectionState.Disconnected)
  }
  const last = runtime.unregister(conn)
  runtime.log.debug({ connectionId: conn.id, userId: conn.userId, code, reason, suppressed: conn.droppedLogLines || undefined },
    'websocket connection closed')
  runtime.cleanup.enqueue({ conn, last, code, reason })
}
