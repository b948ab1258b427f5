// Types of bench/protocols.js for the TypeScript stress suite (stress/).
import type { Dialect } from './subscriber'

export declare const protocols: Record<'hauyna' | 'ws' | 'fastify-ws' | 'socketio', Dialect & Record<string, any>>
