import { checkUserId } from '../protocol/names'

export interface SendOptions {
  /** The user id shown as `from`; `null` (default) means the server. */
  from?: string | null
}

/** The `from` of a server-side send, held to the same rules (and normalization) as user ids. */
export function senderOf (options: SendOptions): string | null {
  return options.from === undefined || options.from === null ? null : checkUserId(options.from)
}
