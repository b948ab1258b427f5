/** Connection states and the transitions allowed between them. */
export const ConnectionState = {
  Connected: 'connected',
  Idle: 'idle',
  Disconnected: 'disconnected',
  Reconnecting: 'reconnecting',
  Error: 'error'
} as const
export type ConnectionState = typeof ConnectionState[keyof typeof ConnectionState]

const allowed: Record<ConnectionState, readonly ConnectionState[]> = {
  connected: ['idle', 'disconnected', 'error'],
  idle: ['connected', 'disconnected', 'error'],
  disconnected: ['reconnecting', 'error'],
  reconnecting: ['connected', 'disconnected', 'error'],
  error: ['reconnecting']
}

export function canTransition (from: ConnectionState, to: ConnectionState): boolean {
  return allowed[from].includes(to)
}

export const connectionStates: readonly ConnectionState[] = Object.values(ConnectionState)
