import type { Adapter, AdapterHealth, AdapterNode, Envelope, NodeInfo, PresenceEntry, PresenceStore } from './adapter'
import { nodeInfo } from './node-info'
import { PresenceTable } from './presence-table'

class MemoryPresenceStore extends PresenceTable implements PresenceStore {
  async set (userId: string, entry: PresenceEntry): Promise<number> {
    return this.put(userId, entry)
  }

  async remove (userId: string, connectionId: string): Promise<number> {
    return this.drop(userId, connectionId)
  }

  async get (userId: string): Promise<PresenceEntry[]> {
    return this.entriesOf(userId)
  }

  async all (): Promise<Map<string, PresenceEntry[]>> {
    return this.snapshot()
  }

  async count (): Promise<number> {
    return this.userCount
  }
}

class MemoryAdapter implements Adapter {
  readonly name = 'memory'
  readonly presence = new MemoryPresenceStore()
  private node: AdapterNode | undefined

  async init (node: AdapterNode): Promise<void> {
    this.node = node
  }

  publish (topic: string, envelope: Envelope): Promise<number> {
    return Promise.resolve(this.node === undefined ? 0 : this.node.deliver(topic, envelope))
  }

  async subscribe (): Promise<void> {}
  async unsubscribe (): Promise<void> {}

  async health (): Promise<AdapterHealth> {
    return this.node === undefined ? { ok: false, reason: 'memory adapter not running' } : { ok: true }
  }

  async nodes (): Promise<NodeInfo[]> {
    return this.node === undefined ? [] : [nodeInfo(this.node)]
  }

  async close (): Promise<void> {
    this.node = undefined
  }
}

/** The embedded default: one process, no external services. */
export function memoryAdapter (): Adapter {
  return new MemoryAdapter()
}
