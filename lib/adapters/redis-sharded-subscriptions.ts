import type { Cluster } from 'ioredis'
import { COMMAND_TIMEOUT_MS, ignore, isReady, within } from './redis-reply'

/**
 * The sharded pub/sub channels this node wants on a Redis Cluster (SSUBSCRIBE), kept here so
 * that subscribing never waits for a connection that is down. ioredis keeps, slot by slot, the
 * channels it was told to subscribe, and subscribes them again by itself each time it replaces a
 * shard's subscriber connection (the shard restarted, its slots moved). What it cannot know is
 * what changed while the whole cluster connection was down, when nothing is sent: the channels
 * gained and left meanwhile are sent when it is ready again. Only that difference: ioredis would
 * keep a channel told twice twice, and send it twice at each resubscription.
 *
 * One channel per command: the channels of one SSUBSCRIBE must hash to one slot.
 */
export class ShardedSubscriptions {
  private readonly wanted = new Set<string>()
  /** The channels ioredis was told to subscribe and not told to leave since. */
  private readonly told = new Set<string>()

  constructor (private readonly cluster: Cluster) {
    cluster.on('ready', () => {
      for (const channel of new Set([...this.wanted, ...this.told])) this.sync(channel).catch(ignore)
    })
  }

  /** Resolves once Redis confirmed, or at once when the cluster connection is not ready. */
  add (channel: string): Promise<void> {
    this.wanted.add(channel)
    return this.sync(channel)
  }

  /** Whether this node wants the channel now. */
  has (channel: string): boolean {
    return this.wanted.has(channel)
  }

  remove (channel: string): Promise<void> {
    this.wanted.delete(channel)
    return this.sync(channel)
  }

  private async sync (channel: string): Promise<void> {
    const wanted = this.wanted.has(channel)
    if (!isReady(this.cluster) || wanted === this.told.has(channel)) return
    if (wanted) this.told.add(channel)
    else this.told.delete(channel)
    // ioredis records the change as it sends the command: its resubscription repairs a lost reply.
    await within(wanted ? this.cluster.ssubscribe(channel) : this.cluster.sunsubscribe(channel), COMMAND_TIMEOUT_MS).catch(ignore)
  }
}
