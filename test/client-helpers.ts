import type { Test } from 'tap'
import WebSocket from 'ws'
import {
  type AppMessages, type ClientEvents, type ClientOptions, type ClientState, HauynaClient, type PerConnect, type WebSocketLike
} from '../lib/client/index'
import type { HauynaOptions } from '../lib/index'
import { delay, type Server, startServer, until } from './helpers'

/** What these helpers need of a client, whatever its app message types. */
type Observable = Pick<HauynaClient, 'on' | 'state'>

/** The SDK in Node, with `ws` as its WebSocket; stopped when the test ends. */
export function createClient<M extends AppMessages = Record<never, never>> (
  t: Test, url: PerConnect<string>, options: ClientOptions = {}
): HauynaClient<M> {
  const client = new HauynaClient<M>(url, { WebSocket, ...options })
  t.teardown(async () => { await client.stop({ timeout: 500 }) })
  return client
}

/** Every emission of `event` so far, as argument lists, in order. */
export function record<K extends keyof ClientEvents> (
  client: Observable, event: K
): Array<Parameters<ClientEvents[K]>> {
  const seen: Array<Parameters<ClientEvents[K]>> = []
  client.on(event, ((...args: Parameters<ClientEvents[K]>) => { seen.push(args) }) as ClientEvents[K])
  return seen
}

/** The next emission of `event` that `match` accepts; rejects after `timeout` ms. Register before acting. */
export function nextEvent<K extends keyof ClientEvents> (
  client: Observable,
  event: K,
  match: (...args: Parameters<ClientEvents[K]>) => boolean = () => true,
  timeout = 3000
): Promise<Parameters<ClientEvents[K]>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { off(); reject(new Error(`timed out waiting for "${String(event)}"`)) }, timeout)
    const off = client.on(event, ((...args: Parameters<ClientEvents[K]>) => {
      if (!match(...args)) return
      clearTimeout(timer)
      off()
      resolve(args)
    }) as ClientEvents[K])
  })
}

export function untilState (client: Observable, state: ClientState, timeout = 3000): Promise<void> {
  return until(() => client.state === state, timeout, `client state ${state}`)
}

/** A loopback URL where nothing listens: a port a server just released. */
export async function deadUrl (t: Test, query: Record<string, string> = { userId: 'nobody' }): Promise<string> {
  const server = await startServer(t)
  const url = server.url(query)
  await server.stop()
  return url
}

type Handler = ((event: any) => void) | null // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * What a browser's WebSocket shows, over a real `ws` socket: the four handler properties,
 * send and close — no `terminate()`, and no HTTP status when an upgrade is refused.
 */
export class BrowserLikeWebSocket implements WebSocketLike {
  private readonly ws: WebSocket

  constructor (url: string) {
    this.ws = new WebSocket(url)
    // A refused upgrade is an 'error' event in `ws`; a browser reports it only as a close.
    this.ws.on('error', () => {})
  }

  get readyState (): number { return this.ws.readyState }
  get onopen (): Handler { return this.ws.onopen }
  set onopen (handler: Handler) { this.ws.onopen = handler }
  get onmessage (): Handler { return this.ws.onmessage }
  set onmessage (handler: Handler) { this.ws.onmessage = handler }
  get onclose (): Handler { return this.ws.onclose }
  set onclose (handler: Handler) { this.ws.onclose = handler }
  get onerror (): Handler { return this.ws.onerror }
  set onerror (handler: Handler) { this.ws.onerror = handler }

  send (data: string): void { this.ws.send(data) }
  close (code?: number, reason?: string): void { this.ws.close(code, reason) }
}

/** Cuts the client's connection from the server's side and waits until it is open on a new one. */
export async function cutAndReconnect (server: Server, client: Pick<HauynaClient, 'connectionId' | 'state'>): Promise<void> {
  const first = client.connectionId as string
  server.app.connections.get(first)?.socket.terminate()
  await until(() => client.state === 'open' && client.connectionId !== first, 3000, 'a new connection')
}

/** A server whose upgrades can be refused for a while (503, which the SDK retries): a client kept away for sure. */
export async function gatedServer (t: Test, options: HauynaOptions): Promise<{ server: Server, gate: { closed: boolean } }> {
  const gate = { closed: false }
  const server = await startServer(t, {
    ...options,
    authenticate: (request) => {
      if (gate.closed) throw Object.assign(new Error('not now'), { statusCode: 503 })
      return { id: (request.query as { userId: string }).userId }
    }
  })
  return { server, gate }
}

/** Cuts the client's socket from the server's side, runs `meanwhile` while it cannot come back, then lets it. */
export async function whileAway (server: Server, gate: { closed: boolean }, client: Observable & Pick<HauynaClient, 'connectionId'>, meanwhile: () => Promise<void>): Promise<void> {
  const first = client.connectionId as string
  gate.closed = true
  server.app.connections.get(first)?.socket.terminate()
  await untilState(client, 'reconnecting')
  await meanwhile()
  gate.closed = false
  await until(() => client.state === 'open' && client.connectionId !== first, 3000, 'a new connection')
}

/** Publishes 1, 2, 3… to `channel` from `app`, one every 3 ms, until `stop()` (or the end of `t`). */
export function publishSteadily (t: Test, app: { channels: { broadcastTo (channel: string, data: unknown): Promise<unknown> } }, channel: string): { readonly published: number, stop (): Promise<void> } {
  let published = 0
  let publishing = true
  const stream = (async () => {
    while (publishing) {
      await app.channels.broadcastTo(channel, ++published)
      await delay(3)
    }
  })()
  const stop = async (): Promise<void> => { publishing = false; await stream }
  t.teardown(stop)
  return { get published () { return published }, stop }
}
