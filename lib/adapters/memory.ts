import type { Adapter, AdapterNode, Envelope, PresenceEntry, PresenceStore } from './adapter'

class MemoryPresenceStore implements PresenceStore {
  private readonly users = new Map<string, Map<string, PresenceEntry>>()

  async set (userId: string, entry: PresenceEntry): Promise<number> {
    let entries = this.users.get(userId)
    if (entries === undefined) this.users.set(userId, entries = new Map())
    entries.set(entry.connectionId, entry)
    return entries.size
  }

  async remove (userId: string, connectionId: string): Promise<number> {
    const entries = this.users.get(userId)
    if (entries === undefined || !entries.delete(connectionId)) return -1
    if (entries.size === 0) this.users.delete(userId)
    return entries.size
  }

  async get (userId: string): Promise<PresenceEntry[]> {
    const entries = this.users.get(userId)
    return entries === undefined ? [] : [...entries.values()]
  }

  async all (): Promise<Map<string, PresenceEntry[]>> {
    const out = new Map<string, PresenceEntry[]>()
    for (const [userId, entries] of this.users) out.set(userId, [...entries.values()])
    return out
  }

  async count (): Promise<number> {
    return this.users.size
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

  async healthy (): Promise<boolean> {
    return this.node !== undefined
  }

  async close (): Promise<void> {
    this.node = undefined
  }
}

/** The embedded default: one process, no external services. */
export function memoryAdapter (): Adapter {
  return new MemoryAdapter()
}
