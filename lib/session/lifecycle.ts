import { randomUUID } from 'node:crypto'
import type { WebSocket } from 'ws'
import { Connection, type ConnectionHost, type Endpoint, type Identity } from '../connection/connection'
import type { ConnectionContext } from '../connection/connection'
import { attachSocket } from '../connection/socket-events'
import { ConnectionState } from '../connection/state'
import { type Codec, encodeMessage } from '../protocol/codec'
import { frameJson, frames } from '../protocol/frames'
import { CloseCode, ErrorCode } from '../protocol/codes'
import type { ConnectionRoster, UserTopics } from '../services/ports'
import { builtinTypes, type HandlerContext } from './builtin-handlers'
import type { Departure } from './departure'
import type { ErrorSink } from './error-sink'

/** What opening and closing a connection touch. */
export interface LifecycleDeps {
  host: ConnectionHost
  /** `false` once the server drains: new sockets are turned away with 1001. */
  accepting (): boolean
  log: {
    debug (fields: object, message: string): void
    info (message: string): void
    warn (fields: object, message: string): void
  }
  meter: { refused (code: string): void, accepted (): void }
  codec: Codec | undefined
  maxConnectionsPerUser: number
  heartbeat: { interval: number, timeout: number }
  autoTrack: boolean
  directory: { countOfUser (userId: string): number, add (conn: Connection): boolean, remove (conn: Connection): boolean }
  topics: UserTopics
  groups: { attach (conn: Connection, identityGroups: Array<string | { name: string, role?: string }>): Promise<void> }
  /** Where every node counts and locates connections. */
  roster: Pick<ConnectionRoster, 'registered' | 'unregistered'>
  presence: { track (conn: Connection): Promise<void> }
  /** Runs an event's listeners, the endpoint's own (`onConnect`) first. */
  events: {
    emitAfter (first: ((...args: never[]) => unknown) | undefined, event: string, args: unknown[]): Promise<void>
    listenerCount (event: 'connect'): number
  }
  context: HandlerContext
  errors: Pick<ErrorSink, 'send' | 'report' | 'failed'>
  cleanup: { enqueue (departure: Departure): void }
  /** Session resume, when it is on: a token per connection, a dropped one's session kept. */
  resumption: { tokenOf (conn: Connection): string, suspend (conn: Connection, code: number): Promise<boolean> } | undefined
}

function refuse (deps: LifecycleDeps, socket: WebSocket, code: ErrorCode, message: string, closeCode: number): void {
  deps.meter.refused(code)
  const text = encodeMessage(deps.codec, frames.error(code, message))
  if (text !== undefined) socket.send(text)
  socket.close(closeCode, message)
}

/** Turns an upgraded socket into a registered connection; `null` identity is refused (1002). */
export function openConnection (
  deps: LifecycleDeps, socket: WebSocket, identity: Identity | null, context: ConnectionContext
): Connection | undefined {
  if (!deps.accepting()) {
    socket.close(CloseCode.GoingAway, 'server shutting down')
    return undefined
  }
  if (identity === null) {
    deps.log.info('refusing a websocket without a user id')
    refuse(deps, socket, ErrorCode.MissingUserId, 'a user id is required (authenticate, or ?userId=)', CloseCode.ProtocolError)
    return undefined
  }
  const max = deps.maxConnectionsPerUser
  if (deps.directory.countOfUser(identity.id) >= max) {
    deps.log.warn({ userId: identity.id }, 'refusing connection over the per-user limit')
    refuse(deps, socket, ErrorCode.Forbidden, `too many connections for this user (max ${max})`, CloseCode.PolicyViolation)
    return undefined
  }
  const conn = new Connection(socket, identity, randomUUID(), deps.host, context)
  attachSocket(conn)
  const firstOfUser = deps.directory.add(conn)
  conn.endpointConfig.connections++
  deps.meter.accepted()
  conn.setup = setUp(deps, conn, identity, firstOfUser)
  return conn
}

/** The channels `endpoint` subscribes `conn` to on connect. */
async function autoSubscribedChannels (endpoint: Endpoint, conn: Connection): Promise<readonly string[]> {
  const { subscribe } = endpoint
  const channels = typeof subscribe === 'function' ? await subscribe(conn) : subscribe
  if (channels === undefined) return []
  return typeof channels === 'string' ? [channels] : channels
}

/** The endpoint's channels, each answered like a client's `subscribe` (policies apply). */
async function subscribeOnConnect (deps: LifecycleDeps, conn: Connection): Promise<void> {
  let channels: readonly string[]
  try {
    channels = await autoSubscribedChannels(conn.endpointConfig, conn)
  } catch (error) {
    deps.errors.report(error, conn, `${conn.endpointConfig.path}: subscribe option failed`)
    deps.errors.send(conn, ErrorCode.InternalError, 'internal server error in the endpoint\'s subscribe option')
    return
  }
  for (const channel of channels) {
    try {
      await builtinTypes.subscribe.handler(conn, { type: 'subscribe', channel }, deps.context)
    } catch (error) {
      deps.errors.failed(conn, error, undefined, `${conn.endpointConfig.path}: subscribing on connect to "${channel}" failed`)
    }
  }
}

/**
 * What must be known before `connected`: the user's topic here (so nothing sent to the user
 * after `connected` is missed), the connection in the cluster's counts, its groups. Independent
 * of each other, so they run together: one wait instead of three (three round trips on Redis).
 */
function register (deps: LifecycleDeps, conn: Connection, identity: Identity, firstOfUser: boolean): Promise<void> {
  const steps = [deps.groups.attach(conn, identity.groups ?? [])]
  const arrived = firstOfUser ? deps.topics.userArrived(conn.userId) : undefined
  if (arrived !== undefined) steps.push(arrived)
  const registered = deps.roster.registered(conn)
  if (registered !== undefined) steps.push(registered)
  return steps.length === 1 ? steps[0] : allSucceeded(steps)
}

/** Waits for every step, then fails with the first failure: no step is left running unseen. */
async function allSucceeded (steps: Array<Promise<void>>): Promise<void> {
  const results = await Promise.allSettled(steps)
  for (const result of results) if (result.status === 'rejected') throw result.reason
}

/** The `connect` listeners, the endpoint's own first; skipped (no wait) when there are none. */
function announceConnect (deps: LifecycleDeps, conn: Connection): Promise<void> | undefined {
  const { onConnect } = conn.endpointConfig
  if (onConnect === undefined && deps.events.listenerCount('connect') === 0) return undefined
  return deps.events.emitAfter(onConnect, 'connect', [conn])
}

/** `connected`, and the `101` response held with it (see `holdWrites`), in one write. */
function greet (deps: LifecycleDeps, conn: Connection): void {
  const { interval, timeout } = deps.heartbeat
  const connected = frames.connected(conn.id, conn.userId, { interval, timeout }, deps.resumption?.tokenOf(conn))
  conn.sendJson(connected, frameJson.connected(connected))
  conn.releaseWrites()
}

/**
 * After `connected`: the connection's presence, the endpoint's channels, the `connect`
 * listeners, in that order. Most endpoints subscribe nobody on connect and most apps listen
 * to no `connect`: then only presence is waited for.
 */
function welcome (deps: LifecycleDeps, conn: Connection): Promise<void> | undefined {
  const tracked = deps.autoTrack ? deps.presence.track(conn) : undefined
  if (conn.endpointConfig.subscribe === undefined && conn.endpointConfig.onConnect === undefined &&
    deps.events.listenerCount('connect') === 0) return tracked
  return welcomeInOrder(deps, conn, tracked)
}

async function welcomeInOrder (deps: LifecycleDeps, conn: Connection, tracked: Promise<void> | undefined): Promise<void> {
  await tracked
  if (conn.endpointConfig.subscribe !== undefined) await subscribeOnConnect(deps, conn)
  await announceConnect(deps, conn)
}

async function setUp (deps: LifecycleDeps, conn: Connection, identity: Identity, firstOfUser: boolean): Promise<void> {
  try {
    await register(deps, conn, identity, firstOfUser)
    greet(deps, conn)
    await welcome(deps, conn)
    deps.log.debug({ connectionId: conn.id, userId: conn.userId }, 'websocket connection opened')
  } catch (error) {
    deps.errors.report(error, conn, 'connection setup failed')
    conn.releaseWrites()
    conn.close(CloseCode.InternalError, 'internal error')
    return
  }
  conn.ready()
}

/**
 * A socket closed: out of the registry and the shared counts at once, and the rest
 * (subscriptions, groups, topics, presence, the `disconnect` event) through the cleanup queue.
 */
export async function closeConnection (deps: LifecycleDeps, conn: Connection, code: number, reason: string): Promise<void> {
  await conn.setup
  if (conn.state === ConnectionState.Connected || conn.state === ConnectionState.Idle) {
    conn.transition(ConnectionState.Disconnected)
  }
  conn.endpointConfig.connections--
  if (deps.directory.remove(conn)) deps.topics.userLeft(conn.userId)?.catch((error: unknown) => deps.errors.report(error, conn, 'leaving the user topic failed'))
  // At once, like the directory: every node's counts drop with the socket, not after the cleanup.
  deps.roster.unregistered(conn)?.catch((error: unknown) => deps.errors.report(error, conn, 'connection unregistration failed'))
  deps.log.debug({ connectionId: conn.id, userId: conn.userId, code, reason, suppressed: conn.droppedLogLines || undefined },
    'websocket connection closed')
  const resumable = await suspend(deps, conn, code)
  if (resumable) conn.transition(ConnectionState.Reconnecting)
  deps.cleanup.enqueue({ conn, code, reason, resumable })
}

/** Keeps the session for its client's return; a failure to keep it only ends it now. */
async function suspend (deps: LifecycleDeps, conn: Connection, code: number): Promise<boolean> {
  if (deps.resumption === undefined) return false
  try {
    return await deps.resumption.suspend(conn, code)
  } catch (error) {
    deps.errors.report(error, conn, 'keeping the session for resume failed')
    return false
  }
}
