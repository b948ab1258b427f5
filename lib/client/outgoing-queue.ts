import type { OverflowStrategy } from './types'

/**
 * Messages waiting for an open connection, in the order they were sent. Bounded: when
 * full, `drop_oldest` evicts the head to make room, `drop_newest` refuses the newcomer.
 */
export class OutgoingQueue<T> {
  private items: T[] = []

  constructor (readonly maxSize: number, readonly strategy: OverflowStrategy) {
    if (!Number.isInteger(maxSize) || maxSize < 0) throw new RangeError(`maxQueueSize must be an integer >= 0, got ${String(maxSize)}`)
    if (strategy !== 'drop_oldest' && strategy !== 'drop_newest') {
      throw new RangeError(`overflowStrategy must be "drop_oldest" or "drop_newest", got ${String(strategy)}`)
    }
  }

  get size (): number {
    return this.items.length
  }

  /** Appends `item`; returns the item given up to make it fit, if any (possibly `item` itself). */
  push (item: T): T | undefined {
    if (this.items.length < this.maxSize) {
      this.items.push(item)
      return undefined
    }
    if (this.strategy === 'drop_newest' || this.maxSize === 0) return item
    const dropped = this.items.shift()
    this.items.push(item)
    return dropped
  }

  peek (): T | undefined {
    return this.items[0]
  }

  shift (): T | undefined {
    return this.items.shift()
  }

  /** Takes `item` out wherever it is (its request timed out before it could be sent). */
  remove (item: T): boolean {
    const index = this.items.indexOf(item)
    if (index === -1) return false
    this.items.splice(index, 1)
    return true
  }

  /** Empties the queue, returning what it held. */
  clear (): T[] {
    const items = this.items
    this.items = []
    return items
  }
}
