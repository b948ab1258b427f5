import type { HistoryPolicy } from '../adapters/adapter'
import type { Connection } from '../connection/connection'
import { type HistoryOption, resolveHistory } from './history-policy'

/** What a permission function is asked about. */
export interface RuleContext {
  connection: Connection
  channel?: string
  group?: string
  to?: string
  data?: unknown
}

/**
 * `true`/`false` allow or deny everyone; `'subscribers'` (channel publish) and `'members'`
 * (group send) allow only those already in; a function decides per message.
 */
export type PermissionRule =
  | boolean
  | 'subscribers'
  | 'members'
  | ((context: RuleContext) => boolean | Promise<boolean>)

export interface ChannelPolicy {
  subscribe?: PermissionRule
  publish?: PermissionRule
  /** Subscribers get the channel's presence in `subscribed` and `presence_diff` frames. */
  presence?: boolean
  /**
   * The channel keeps its last messages, with offsets, so that a subscriber that missed some
   * can recover them (`true`: 100 messages, 5 minutes). See docs/SERVICES.md, "History".
   */
  history?: HistoryOption
}

export interface ResolvedChannelPolicy {
  subscribe: PermissionRule
  publish: PermissionRule
  presence: boolean
  history: HistoryPolicy | undefined
}

interface PatternPolicy {
  regex: RegExp
  policy: ResolvedChannelPolicy
}

function globToRegExp (pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${escaped.join('.*')}$`, 's')
}

/**
 * Who may subscribe to and publish on which channel. An exact name wins; otherwise the
 * first matching `*` pattern in declaration order; otherwise the default.
 */
export class ChannelPolicies {
  private readonly exact = new Map<string, ResolvedChannelPolicy>()
  private readonly patterns: PatternPolicy[] = []
  private readonly fallback: ResolvedChannelPolicy

  constructor (mode: 'allow' | 'deny', policies: Record<string, ChannelPolicy>) {
    this.fallback = mode === 'allow'
      ? { subscribe: true, publish: 'subscribers', presence: false, history: undefined }
      : { subscribe: false, publish: false, presence: false, history: undefined }
    for (const [pattern, policy] of Object.entries(policies)) this.set(pattern, policy)
  }

  /** Throws HAUYNA_INVALID_OPTION when the policy's history is malformed. */
  set (pattern: string, policy: ChannelPolicy): void {
    // A matched policy that says nothing about publishing keeps the protocol's rule
    // (subscribers may publish), even when unmatched channels are denied.
    const resolved: ResolvedChannelPolicy = {
      subscribe: policy.subscribe ?? this.fallback.subscribe,
      publish: policy.publish ?? 'subscribers',
      presence: policy.presence ?? false,
      history: resolveHistory(`channels.policies["${pattern}"].history`, policy.history)
    }
    if (!pattern.includes('*')) {
      this.exact.set(pattern, resolved)
      return
    }
    const regex = globToRegExp(pattern)
    const existing = this.patterns.findIndex((p) => p.regex.source === regex.source)
    const entry = { regex, policy: resolved }
    if (existing >= 0) this.patterns[existing] = entry
    else this.patterns.push(entry)
  }

  for (channel: string): ResolvedChannelPolicy {
    const exact = this.exact.get(channel)
    if (exact !== undefined) return exact
    for (const { regex, policy } of this.patterns) {
      if (regex.test(channel)) return policy
    }
    return this.fallback
  }
}

/** Evaluates a rule; `inside` says whether the connection is a subscriber/member. */
export function allows (rule: PermissionRule, context: RuleContext, inside: boolean): boolean | Promise<boolean> {
  if (typeof rule === 'function') return rule(context)
  if (rule === 'subscribers' || rule === 'members') return inside
  return rule
}
