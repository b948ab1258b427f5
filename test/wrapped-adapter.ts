import { type Adapter, type AdapterNode, type Appended, type Envelope, type GroupStore, type HistoryPolicy, type HistoryStore, memoryAdapter, type MemberStore, type NodeInfo, type PresenceStore } from '../lib/index'

/**
 * A custom adapter that is the memory adapter underneath: tests that need an adapter with one
 * part changed (a publish that fails, a presence store that fails) extend it and override that part.
 */
export class WrappedAdapter implements Adapter {
  protected readonly inner = memoryAdapter()
  readonly presence: PresenceStore = this.inner.presence
  readonly members: MemberStore = this.inner.members
  readonly groups: GroupStore = this.inner.groups
  readonly history: HistoryStore = this.inner.history

  constructor (readonly name: string) {}

  init (node: AdapterNode): Promise<void> { return this.inner.init(node) }
  publish (topic: string, envelope: Envelope): Promise<number> { return this.inner.publish(topic, envelope) }
  append (topic: string, envelope: Envelope, policy: HistoryPolicy): Promise<Appended> { return this.inner.append(topic, envelope, policy) }
  subscribe (topic: string): Promise<void> { return this.inner.subscribe(topic) }
  unsubscribe (topic: string): Promise<void> { return this.inner.unsubscribe(topic) }
  regroup (userId: string): Promise<void> { return this.inner.regroup(userId) }
  health (): ReturnType<Adapter['health']> { return this.inner.health() }
  nodes (): Promise<NodeInfo[]> { return this.inner.nodes() }
  close (): Promise<void> { return this.inner.close() }
}
