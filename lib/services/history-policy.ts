import type { HistoryPolicy } from '../adapters/adapter'
import { fail, integer, object } from '../util/option-checks'

/** What a channel policy says about history: `true` for the defaults, or some of them. */
export type HistoryOption = boolean | Partial<HistoryPolicy>

/** The largest history a channel may keep: a recovery replays at most this many messages to one client. */
export const MAX_HISTORY_SIZE = 10_000
const DEFAULTS: HistoryPolicy = { size: 100, ttl: 300_000, positionTtl: 86_400_000 }

/** A policy's history, checked (HAUYNA_INVALID_OPTION naming the field), or `undefined` for none. */
export function resolveHistory (where: string, value: unknown): HistoryPolicy | undefined {
  if (value === undefined || value === false) return undefined
  const given = value === true ? {} : object<HistoryPolicy>(where, value)
  const size = integer(`${where}.size`, given.size, DEFAULTS.size, 1)
  if (size > MAX_HISTORY_SIZE) fail(`${where}.size`, `must be at most ${MAX_HISTORY_SIZE}, got ${size}`)
  const ttl = integer(`${where}.ttl`, given.ttl, DEFAULTS.ttl, 1)
  const positionTtl = integer(`${where}.positionTtl`, given.positionTtl, Math.max(ttl, DEFAULTS.positionTtl), 1)
  if (positionTtl < ttl) fail(`${where}.positionTtl`, 'must not be shorter than ttl')
  return { size, ttl, positionTtl }
}
