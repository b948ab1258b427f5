// The plugin's decorators, published to TypeScript users through declaration merging.
import type { Identity } from '../lib/connection/connection'
import type { EndpointOptions } from '../lib/config/endpoint-options'
import type { HauynaInfo } from '../lib/plugin'
import type { ChannelsService } from '../lib/services/channels'
import type { ConnectionsService } from '../lib/services/connections'
import type { EventsService } from '../lib/services/events'
import type { GroupsService } from '../lib/services/groups'
import type { PresenceService } from '../lib/services/presence'

declare module 'fastify' {
  interface FastifyInstance {
    channels: ChannelsService
    presence: PresenceService
    groups: GroupsService
    events: EventsService
    connections: ConnectionsService
    hauyna: HauynaInfo
    /**
     * Declares another WebSocket endpoint sharing the same services, as a route of this
     * instance (its hooks and decorators apply). Call it before the server starts.
     */
    realtime (path: string, options?: EndpointOptions): void
  }
  interface FastifyRequest {
    /** The identity `authenticate` returned for this upgrade request, if any. */
    hauynaIdentity: Identity | null
    /** Frees this upgrade's place under `maxPendingUpgrades` (once; later calls do nothing). */
    hauynaUpgrade: (() => void) | null
  }
}

export {}
