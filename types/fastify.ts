// The plugin's decorators, published to TypeScript users through declaration merging.
import type { Identity } from '../lib/connection/connection'
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
  }
  interface FastifyRequest {
    /** The identity `authenticate` returned for this upgrade request, if any. */
    hauynaIdentity: Identity | null
  }
}

export {}
