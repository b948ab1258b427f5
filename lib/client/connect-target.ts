import type { PerConnect, QueryParams, Subprotocols, WebSocketOptions } from './types'

/** What one connection attempt opens, once the app's functions have answered. */
export interface ConnectTarget {
  url: string
  params: QueryParams | undefined
  protocols: Subprotocols | undefined
  options: WebSocketOptions | undefined
}

/** Where each part of the target comes from: a value, or a function called before every attempt. */
export interface TargetSources {
  url: PerConnect<string>
  params: PerConnect<QueryParams> | undefined
  protocols: PerConnect<Subprotocols> | undefined
  options: PerConnect<WebSocketOptions> | undefined
}

type Parts = [string, QueryParams | undefined, Subprotocols | undefined, WebSocketOptions | undefined]

function valueOf<T> (source: PerConnect<T>): T | Promise<T> {
  return typeof source === 'function' ? (source as () => T | Promise<T>)() : source
}

function assemble ([url, params, protocols, options]: Parts): ConnectTarget {
  return { url, params, protocols, options }
}

/**
 * Calls the app's functions, once each, for one attempt. The answer is synchronous when no
 * function returned a promise, so that a client given plain values still opens its socket
 * within `start()`. A function that throws throws here; one that rejects rejects the promise.
 */
export function resolveTarget (sources: TargetSources): ConnectTarget | Promise<ConnectTarget> {
  const parts = [valueOf(sources.url), valueOf(sources.params), valueOf(sources.protocols), valueOf(sources.options)] as const
  return parts.some((part) => part instanceof Promise) ? Promise.all(parts).then(assemble) : assemble(parts as Parts)
}

/** The URL to open: the target's, with its params set. Throws on a URL that is not absolute. */
export function targetUrl ({ url, params }: ConnectTarget): string {
  if (params === undefined) return url
  const merged = new URL(url)
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined) merged.searchParams.set(name, String(value))
  }
  return merged.href
}
