import { ClientErrorCode, HauynaError, type HauynaErrorDetails } from './errors'
import type { CloseInfo } from './transport'

/** Close codes after which reconnecting would only repeat the refusal (PROTOCOL.md, "Close codes"). */
const terminalCloses: Record<number, [string, string]> = {
  1000: [ClientErrorCode.ClosedByServer, 'the server closed the connection normally'],
  1002: [ClientErrorCode.ProtocolError, 'the server closed the connection: protocol error (no identity?)'],
  1008: [ClientErrorCode.PolicyViolation, 'the server closed the connection by policy']
}

export interface VerdictContext {
  /** Whether this client has ever received a `connected` frame. */
  everOpened: boolean
  retryBeforeFirstOpen: boolean
}

/**
 * Why reconnecting after this close is pointless, if it is; `undefined` means retry. Browsers
 * never reveal an upgrade's HTTP status: there a 401 is a close 1006 before open, just like an
 * unreachable server, so only `retryBeforeFirstOpen: false` can stop on it (see docs/CLIENT.md).
 */
export function terminalError (info: CloseInfo, context: VerdictContext): HauynaError | undefined {
  const { code, reason, status } = info
  if (status === 401) return new HauynaError(ClientErrorCode.Unauthorized, 'the server refused the upgrade: HTTP 401', { status, closeCode: code })
  if (status === 403) return new HauynaError(ClientErrorCode.UpgradeForbidden, 'the server refused the upgrade: HTTP 403', { status, closeCode: code })
  const known = terminalCloses[code]
  if (known !== undefined) return new HauynaError(known[0], reason === '' ? known[1] : `${known[1]}: ${reason}`, { closeCode: code })
  return neverOpenedError(context, `close ${code}${status === undefined ? '' : `, HTTP ${status}`}`, { status, closeCode: code })
}

/** With `retryBeforeFirstOpen: false`, any attempt that fails before the first open ends the client. */
export function neverOpenedError (context: VerdictContext, why: string, extra: HauynaErrorDetails): HauynaError | undefined {
  if (context.everOpened || context.retryBeforeFirstOpen) return undefined
  return new HauynaError(ClientErrorCode.ConnectFailed, `could not connect (${why})`, extra)
}
