// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void
type EventMap<E> = { [K in keyof E]: Listener }

/**
 * A tiny typed event emitter: no EventTarget (absent from older runtimes and heavy to
 * polyfill) and no Node `events` (the client runs in browsers). A listener that throws is
 * handed to `onListenerError` so one bad listener cannot break frame processing.
 */
export class Emitter<E extends EventMap<E>> {
  private readonly listeners = new Map<keyof E, Set<Listener>>()

  constructor (private readonly onListenerError: (error: unknown, event: keyof E) => void) {}

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E> (event: K, listener: E[K]): () => void {
    let set = this.listeners.get(event)
    if (set === undefined) this.listeners.set(event, set = new Set())
    set.add(listener)
    return () => this.off(event, listener)
  }

  /** A listener called at most once. */
  once<K extends keyof E> (event: K, listener: E[K]): () => void {
    const off = this.on(event, ((...args: Parameters<E[K]>) => {
      off()
      listener(...args)
    }) as E[K])
    return off
  }

  off<K extends keyof E> (event: K, listener: E[K]): void {
    this.listeners.get(event)?.delete(listener)
  }

  emit<K extends keyof E> (event: K, ...args: Parameters<E[K]>): void {
    const set = this.listeners.get(event)
    if (set === undefined) return
    // A copy: listeners may add or remove listeners while being called.
    for (const listener of [...set]) {
      try {
        listener(...args)
      } catch (error) {
        this.onListenerError(error, event)
      }
    }
  }
}
