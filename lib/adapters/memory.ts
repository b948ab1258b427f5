import type { Adapter, AdapterHealth, AdapterNode, Envelope, Member, Membership, MemberStore, NodeInfo, PresenceEntry, PresenceStore } from './adapter'
import { GroupTable } from './group-table'
import { MemberTable } from './member-table'
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

class MemoryMemberStore extends MemberTable implements MemberStore {
  constructor (private readonly nodeId: () => string) {
    super()
  }

  async add (kind: string, name: string, membership: Membership): Promise<number> {
    return this.put(kind, name, { ...membership, nodeId: this.nodeId() })
  }

  async remove (kind: string, name: string, userId: string, connectionId: string): Promise<number> {
    return this.drop(kind, name, userId, connectionId)
  }

  async members (kind: string, name: string): Promise<Member[]> {
    return this.list(kind, name)
  }

  async users (kind: string, name: string): Promise<Map<string, number>> {
    return this.userCounts(kind, name)
  }

  async sets (kind: string): Promise<Map<string, number>> {
    return this.sizes(kind)
  }

  async setsOf (kind: string, userId: string): Promise<Map<string, number>> {
    return this.setsOfUser(kind, userId)
  }

  async size (kind: string, name: string): Promise<number> {
    return this.sizeOf(kind, name)
  }

  async total (kind: string): Promise<{ sets: number, members: number }> {
    return this.totalOf(kind)
  }
}

class MemoryAdapter implements Adapter {
  readonly name = 'memory'
  readonly presence = new MemoryPresenceStore()
  readonly members = new MemoryMemberStore(() => this.nodeId)
  readonly groups = new GroupTable()
  private node: AdapterNode | undefined
  private nodeId = ''

  async init (node: AdapterNode): Promise<void> {
    this.node = node
    this.nodeId = node.nodeId
  }

  publish (topic: string, envelope: Envelope): Promise<number> {
    return Promise.resolve(this.node === undefined ? 0 : this.node.deliver(topic, envelope))
  }

  async regroup (userId: string): Promise<void> {
    await this.node?.regrouped(userId)
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
