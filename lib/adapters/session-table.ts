import type { SessionStore } from './adapter'

/** Suspended sessions in one process: the memory adapter's. Expired ones are dropped by `sweep` or when taken. */
export class SessionTable implements SessionStore {
  private readonly records = new Map<string, { record: string, expiresAt: number }>()

  async save (key: string, record: string, ttl: number): Promise<void> {
    this.records.set(key, { record, expiresAt: Date.now() + ttl })
  }

  async take (key: string): Promise<string | undefined> {
    const kept = this.records.get(key)
    this.records.delete(key)
    return kept !== undefined && kept.expiresAt > Date.now() ? kept.record : undefined
  }

  sweep (now = Date.now()): void {
    for (const [key, { expiresAt }] of this.records) if (expiresAt <= now) this.records.delete(key)
  }

  get size (): number {
    return this.records.size
  }
}
