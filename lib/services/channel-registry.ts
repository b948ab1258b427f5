import { channelTopic } from '../pubsub/topics'
import { errors } from '../errors'
import type { EventSink, TopicView } from './ports'
import type { ChannelInfo } from './types'

export interface ChannelRegistryDeps {
  events: EventSink
  topics: Pick<TopicView, 'size'>
}

interface ChannelRecord {
  meta: Record<string, unknown>
  createdAt: number
  explicit: boolean
}

const noMeta: Record<string, unknown> = Object.freeze({}) as Record<string, unknown>

/**
 * This node's channels: explicit ones live until removed, implicit ones exist exactly while
 * they have a local subscriber, so subscribe/unsubscribe churn leaves no state behind.
 */
export class ChannelRegistry {
  private readonly records = new Map<string, ChannelRecord>()

  constructor (private readonly deps: ChannelRegistryDeps) {}

  get size (): number {
    return this.records.size
  }

  info (name: string): ChannelInfo | null {
    const record = this.records.get(name)
    return record === undefined ? null : this.describe(name, record)
  }

  /** A subscription is being added (synchronously, before the hub): returns `true` when it creates the channel. */
  opened (name: string): boolean {
    if (this.records.has(name)) return false
    this.records.set(name, { meta: noMeta, createdAt: Date.now(), explicit: false })
    return true
  }

  /** An explicit channel; an implicit one of that name becomes explicit (no second `channel_created`). */
  async create (name: string, meta: Record<string, unknown>): Promise<ChannelInfo> {
    const existing = this.records.get(name)
    if (existing?.explicit === true) throw new errors.ChannelExists(name)
    if (existing !== undefined) {
      existing.explicit = true
      existing.meta = meta
      return this.describe(name, existing)
    }
    const record = { meta, createdAt: Date.now(), explicit: true }
    this.records.set(name, record)
    await this.announceCreated(name)
    return this.describe(name, record)
  }

  /** Makes an explicit channel implicit, so it goes with its last subscriber; `false` if none. */
  demote (name: string): boolean {
    const record = this.records.get(name)
    if (record?.explicit !== true) return false
    record.explicit = false
    return true
  }

  /** Tells the `channel_created` listeners; `undefined` (nothing to wait for) when there are none. */
  announceCreated (name: string): Promise<void> | undefined {
    const events = this.deps.events
    return events.listenerCount('channel_created') > 0 ? events.emit('channel_created', this.info(name) as ChannelInfo) : undefined
  }

  /** A subscription left: an implicit channel without local subscribers is dropped. */
  async released (name: string): Promise<void> {
    const record = this.records.get(name)
    if (record === undefined || record.explicit || this.deps.topics.size(channelTopic(name)) > 0) return
    this.records.delete(name)
    const events = this.deps.events
    if (events.listenerCount('channel_removed') > 0) await events.emit('channel_removed', this.describe(name, record))
  }

  private describe (name: string, record: ChannelRecord): ChannelInfo {
    const { meta, createdAt, explicit } = record
    return { name, meta, createdAt, explicit, subscribers: this.deps.topics.size(channelTopic(name)) }
  }
}
