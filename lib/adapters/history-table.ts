import { randomBytes } from 'node:crypto'
import type { HistoryEntry, HistoryPolicy, HistoryRead, StreamPosition } from './adapter'

interface Kept extends HistoryEntry {
  /** Epoch milliseconds of the publish: the entry is dropped `ttl` after it. */
  at: number
}

interface Stream extends StreamPosition {
  entries: Kept[]
  /** Epoch milliseconds after which the stream, position included, is gone. */
  expiresAt: number
}

/** A new epoch: random, so that a restarted process never continues an old run of offsets. */
function newEpoch (): string {
  return randomBytes(6).toString('base64url')
}

/**
 * Every channel's kept messages in one process: the memory adapter's history. A stream is
 * dropped `positionTtl` after its last publish or subscribe, so that channels published to once do not
 * accumulate; `sweep` drops them, and every read treats an expired stream as gone.
 */
export class HistoryTable {
  private readonly streams = new Map<string, Stream>()

  /** The stream's position, started when it has none (or had one that expired); kept `positionTtl` from now. */
  positionOf (topic: string, policy: HistoryPolicy, now = Date.now()): StreamPosition {
    const stream = this.stream(topic, policy, now)
    stream.expiresAt = now + policy.positionTtl
    return { offset: stream.offset, epoch: stream.epoch }
  }

  /** Keeps a message; returns the place it got. */
  append (topic: string, payload: string, policy: HistoryPolicy, now = Date.now()): StreamPosition {
    const stream = this.stream(topic, policy, now)
    const offset = ++stream.offset
    stream.entries.push({ offset, payload, at: now })
    if (stream.entries.length > policy.size) stream.entries.splice(0, stream.entries.length - policy.size)
    stream.expiresAt = now + policy.positionTtl
    return { offset, epoch: stream.epoch }
  }

  readFrom (topic: string, policy: HistoryPolicy, after: StreamPosition | undefined, limit: number, now = Date.now()): HistoryRead {
    const { offset, epoch, entries } = this.stream(topic, policy, now)
    const kept = entries.filter((entry) => entry.at > now - policy.ttl)
    if (after === undefined) return { offset, epoch, entries: kept.slice(-limit).map(plain), complete: true }
    if (after.epoch !== epoch || after.offset > offset) return { offset, epoch, entries: [], complete: false }
    const missed = kept.filter((entry) => entry.offset > after.offset)
    const complete = after.offset === offset || missed[0]?.offset === after.offset + 1
    return { offset, epoch, entries: missed.slice(0, limit).map(plain), complete }
  }

  /** Drops the streams whose position expired. */
  sweep (now = Date.now()): void {
    for (const [topic, stream] of this.streams) if (stream.expiresAt <= now) this.streams.delete(topic)
  }

  get size (): number {
    return this.streams.size
  }

  private stream (topic: string, policy: HistoryPolicy, now: number): Stream {
    let stream = this.streams.get(topic)
    if (stream === undefined || stream.expiresAt <= now) {
      stream = { offset: 0, epoch: newEpoch(), entries: [], expiresAt: now + policy.positionTtl }
      this.streams.set(topic, stream)
    }
    return stream
  }
}

function plain ({ offset, payload }: Kept): HistoryEntry {
  return { offset, payload }
}
