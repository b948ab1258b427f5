import { unavailable } from '../errors'
import type { Appended } from './adapter'
import { REPLY_TIMEOUT_MS } from './redis-reply'
import { positionOf } from './redis-wire'

/** One append of this node's, from its send until it settles. */
interface Pending {
  readonly channel: string
  /** The entry ID the script gave the message, once its reply came. */
  id: string | undefined
  settled: boolean
  readonly resolve: (appended: Appended) => void
  readonly reject: (error: Error) => void
  timer: NodeJS.Timeout | undefined
}

/** A channel's appends in flight on this node. */
interface Flight {
  /** Appends sent whose script has not answered. */
  unanswered: number
  /** Answered appends whose own copy has not come back, by entry ID. */
  answered: Map<string, Pending>
  /**
   * Own copies that came back before their script's reply, by entry ID, with their deliveries.
   * Kept only while an append of the channel is unanswered: no other reply can claim one.
   */
  early: Map<string, number>
}

/**
 * This node's history appends waiting for what settles them. A node delivers its own history
 * message when Redis sends it back, like every other node, so that its subscribers get the
 * channel's messages in offset order too; the script's reply (the message's place) and that copy
 * (this node's deliveries) come on two connections, either first. An append settles when it has
 * both; at once with 0 deliveries when this node does not listen to the channel; and with 0 once
 * REPLY_TIMEOUT_MS passed without its copy, or its copy cannot come (the channel left, the
 * subscriber connection lost, the adapter closing): the message is kept in history all the same.
 * Without the script's reply in that time, it rejects with HAUYNA_UNAVAILABLE.
 */
export class Appends {
  private readonly flights = new Map<string, Flight>()
  private closed = false

  /** `listening(channel)`: whether this node's subscriber connection is subscribed to the channel now. */
  constructor (private readonly listening: (channel: string) => boolean) {}

  /** Channels with appends in flight: none once every append settled. */
  get size (): number {
    return this.flights.size
  }

  /** Waits for an append sent on `channel`; `reply` resolves to the script's entry ID. */
  wait (channel: string, reply: Promise<string>): Promise<Appended> {
    return new Promise((resolve, reject) => {
      const pending: Pending = { channel, id: undefined, settled: false, resolve, reject, timer: undefined }
      pending.timer = setTimeout(() => this.expire(pending), REPLY_TIMEOUT_MS).unref()
      this.flightOf(channel).unanswered++
      reply.then((id) => this.answered(pending, id), () => this.expire(pending))
    })
  }

  /** This node's own copy of a history message came back, and was delivered to `delivered` connections. */
  arrived (channel: string, id: string, delivered: number): void {
    const flight = this.flights.get(channel)
    if (flight === undefined) return
    const pending = flight.answered.get(id)
    if (pending !== undefined) this.settle(pending, delivered)
    else if (flight.unanswered > 0) flight.early.set(id, delivered)
  }

  /** This node left the channel: the copies still awaited will not come. */
  left (channel: string): void {
    for (const pending of this.flights.get(channel)?.answered.values() ?? []) this.settle(pending, 0)
  }

  /** The subscriber connection dropped: no copy awaited now will come. */
  lost (): void {
    for (const channel of [...this.flights.keys()]) this.left(channel)
  }

  /** Settles what waits for a copy; replies still due settle as they come, with 0 deliveries. */
  close (): void {
    this.closed = true
    this.lost()
  }

  private answered (pending: Pending, id: string): void {
    if (pending.settled) return
    const flight = this.flightOf(pending.channel)
    flight.unanswered--
    pending.id = id
    const early = flight.early.get(id)
    if (early !== undefined) this.settle(pending, early)
    else if (this.closed || !this.listening(pending.channel)) this.settle(pending, 0)
    else flight.answered.set(id, pending)
    this.tidy(pending.channel)
  }

  /** No reply in time (or a failed script): unavailable. A reply without its copy: 0 deliveries here. */
  private expire (pending: Pending): void {
    if (pending.settled) return
    if (pending.id !== undefined) {
      this.settle(pending, 0)
      return
    }
    pending.settled = true
    clearTimeout(pending.timer)
    this.flightOf(pending.channel).unanswered--
    this.tidy(pending.channel)
    pending.reject(unavailable(0))
  }

  private settle (pending: Pending, delivered: number): void {
    pending.settled = true
    clearTimeout(pending.timer)
    const id = pending.id as string
    const flight = this.flights.get(pending.channel)
    flight?.answered.delete(id)
    flight?.early.delete(id)
    this.tidy(pending.channel)
    pending.resolve({ ...positionOf(id), delivered })
  }

  private flightOf (channel: string): Flight {
    let flight = this.flights.get(channel)
    if (flight === undefined) {
      flight = { unanswered: 0, answered: new Map(), early: new Map() }
      this.flights.set(channel, flight)
    }
    return flight
  }

  /** Early copies no reply can claim any more are dropped, and a channel with nothing in flight. */
  private tidy (channel: string): void {
    const flight = this.flights.get(channel)
    if (flight === undefined || flight.unanswered > 0) return
    flight.early.clear()
    if (flight.answered.size === 0) this.flights.delete(channel)
  }
}
