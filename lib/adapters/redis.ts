import type * as IORedis from 'ioredis'
import type { Redis, RedisOptions } from 'ioredis'
import type { Adapter, AdapterNode, Envelope } from './adapter'
import { type RedisAdapterOptions, type RedisConfig, resolveConfig } from './redis-options'
import { HEARTBEAT, keysOf, LEAVE, type RedisKeys, RedisPresenceStore, START } from './redis-presence'
import { decodeMessage, field } from './redis-wire'

export type { RedisAdapterOptions } from './redis-options'

/** A health check or a clean-shutdown step that Redis does not answer in this time counts as failed. */
const REPLY_TIMEOUT_MS = 2000

/**
 * Loaded on first use: ioredis takes about 18 MiB and a tenth of a second to load, which an
 * app on the memory adapter should not pay for importing the plugin.
 */
function loadIORedis (): typeof IORedis {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require('ioredis') as typeof IORedis
}

function ignore (): void {}

/** Settles with `undefined` when `promise` has not settled within `ms`. */
function within<T> (promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<undefined>((resolve) => { timer = setTimeout(() => resolve(undefined), ms) })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

async function end (redis: Redis): Promise<void> {
  if (redis.status === 'ready') await within(redis.quit(), REPLY_TIMEOUT_MS).catch(ignore)
  redis.disconnect()
}

class RedisAdapter implements Adapter {
  readonly name = 'redis'
  readonly presence: RedisPresenceStore
  private readonly keys: RedisKeys
  private readonly commands: Redis
  private readonly subscriber: Redis
  /** The connections this adapter opened and so closes; never the app's client. */
  private readonly owned: Redis[]
  private node: AdapterNode | undefined
  private nodeId = ''
  /** This node's id as the first header field, to recognize its own publishes coming back. */
  private ownHeader = ''
  private heartbeat: NodeJS.Timeout | undefined
  private beating = false
  private closing: Promise<void> | undefined

  constructor (private readonly config: RedisConfig) {
    this.keys = keysOf(config.keyPrefix)
    if (config.client !== undefined) {
      this.commands = config.client
      this.subscriber = config.client.duplicate({ lazyConnect: true })
      this.owned = [this.subscriber]
    } else {
      const url = config.url as string | RedisOptions
      const { Redis } = loadIORedis()
      this.commands = typeof url === 'string' ? new Redis(url, { lazyConnect: true }) : new Redis({ ...url, lazyConnect: true })
      this.subscriber = this.commands.duplicate()
      this.owned = [this.commands, this.subscriber]
    }
    // Without a listener ioredis prints every connection error to the console. The adapter
    // has no logger; a lost connection reaches the app through healthy() (/health answers 503).
    for (const redis of this.owned) redis.on('error', ignore)
    this.subscriber.on('message', (channel: string, message: string) => this.receive(channel, message))
    this.presence = new RedisPresenceStore(this.commands, this.keys, () => this.nodeId)
  }

  async init (node: AdapterNode): Promise<void> {
    this.node = node
    this.nodeId = node.nodeId
    this.ownHeader = field(node.nodeId)
    try {
      await Promise.all(this.owned.map((redis) => redis.connect()))
      await START.run(this.commands, [], this.beatArgs())
    } catch (error) {
      this.node = undefined
      for (const redis of this.owned) redis.disconnect()
      throw error
    }
    // Three beats per nodeTtl, so a lost or late beat does not get a live node purged.
    this.heartbeat = setInterval(() => this.tick(), Math.floor(this.config.nodeTtl / 3))
    this.heartbeat.unref()
  }

  /**
   * Delivers to this node's subscribers at once, then sends the message to Redis for the
   * others, and ignores it when it comes back (see `receive`). Delivering locally rather than
   * waiting for the echo saves local subscribers a Redis round trip and gives the count now.
   * Resolves to the deliveries made on this node: other nodes' counts are not known here.
   */
  async publish (topic: string, envelope: Envelope): Promise<number> {
    if (this.node === undefined) return 0
    const delivered = this.node.deliver(topic, envelope)
    await this.commands.publish(this.keys.topic(topic), this.ownHeader + field(envelope.origin) + field(envelope.skip) + envelope.payload)
    return delivered
  }

  async subscribe (topic: string): Promise<void> {
    await this.subscriber.subscribe(this.keys.topic(topic))
  }

  async unsubscribe (topic: string): Promise<void> {
    await this.subscriber.unsubscribe(this.keys.topic(topic))
  }

  async healthy (): Promise<boolean> {
    if (this.node === undefined || this.commands.status !== 'ready' || this.subscriber.status !== 'ready') return false
    return await within(this.commands.ping().catch(ignore), REPLY_TIMEOUT_MS) === 'PONG'
  }

  close (): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  private async shutdown (): Promise<void> {
    clearInterval(this.heartbeat)
    const initialized = this.node !== undefined
    this.node = undefined
    // Best effort: if Redis does not answer, the other nodes purge these entries after nodeTtl.
    if (initialized && this.commands.status === 'ready') {
      await within(LEAVE.run(this.commands, [], [this.keys.prefix, this.nodeId]), REPLY_TIMEOUT_MS).catch(ignore)
    }
    await Promise.all(this.owned.map(end))
  }

  private receive (channel: string, message: string): void {
    if (message.startsWith(this.ownHeader)) return
    this.node?.deliver(channel.slice(this.keys.topics.length), decodeMessage(message))
  }

  private beatArgs (): Array<string | number> {
    return [this.keys.prefix, this.nodeId, this.config.nodeTtl]
  }

  // A failed beat means Redis is unreachable, which healthy() reports; one beat at a time, so
  // beats do not pile up in ioredis's offline queue while it reconnects.
  private tick (): void {
    if (this.beating) return
    this.beating = true
    HEARTBEAT.run(this.commands, [], this.beatArgs()).catch(ignore).finally(() => { this.beating = false })
  }
}

/**
 * Shares topics and presence between the nodes of a cluster through Redis: one pub/sub
 * channel per topic a node has local subscribers for, and presence in hashes that every node
 * reads, with a crashed node's entries purged once its liveness key expires.
 */
export function redisAdapter (options: RedisAdapterOptions): Adapter {
  return new RedisAdapter(resolveConfig(options))
}
