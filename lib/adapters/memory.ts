import type { Adapter, AdapterHealth, AdapterNode, Appended, Envelope, HistoryPolicy, HistoryRead, HistoryStore, Member, Membership, MemberStore, NodeInfo, PresenceEntry, PresenceStore, StreamPosition } from './adapter'
import { HistoryTable } from './history-table'
import { SessionTable } from './session-table'
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

class MemoryHistoryStore extends HistoryTable implements HistoryStore {
  async position (topic: string, policy: HistoryPolicy): Promise<StreamPosition> {
    return this.positionOf(topic, policy)
  }

  async read (topic: string, policy: HistoryPolicy, after: StreamPosition | undefined, limit: number): Promise<HistoryRead> {
    return this.readFrom(topic, policy, after, limit)
  }
}

/** How often expired channel histories and sessions are dropped. */
const SWEEP_MS = 10_000

class MemoryAdapter implements Adapter {
  readonly name = 'memory'
  readonly local = true
  readonly presence = new MemoryPresenceStore()
  readonly members = new MemoryMemberStore(() => this.nodeId)
  readonly groups = new GroupTable()
  readonly history = new MemoryHistoryStore()
  readonly sessions = new SessionTable()
  private node: AdapterNode | undefined
  private nodeId = ''
  private sweeper: NodeJS.Timeout | undefined

  async init (node: AdapterNode): Promise<void> {
    this.node = node
    this.nodeId = node.nodeId
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS).unref()
  }

  publish (topic: string, envelope: Envelope): Promise<number> {
    return Promise.resolve(this.node === undefined ? 0 : this.node.deliver(topic, envelope))
  }

  /** Kept and delivered in the same tick: one process's publishes are in offset order by themselves. */
  async append (topic: string, envelope: Envelope, policy: HistoryPolicy): Promise<Appended> {
    const place = this.history.append(topic, envelope.payload, policy)
    const delivered = this.node === undefined ? 0 : this.node.deliver(topic, { ...envelope, ...place })
    return { ...place, delivered }
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

  private sweep (): void {
    this.history.sweep()
    this.sessions.sweep()
  }

  async close (): Promise<void> {
    clearInterval(this.sweeper)
    this.node = undefined
  }
}

/** The embedded default: one process, no external services. */
export function memoryAdapter (): Adapter {
  return new MemoryAdapter()
}
