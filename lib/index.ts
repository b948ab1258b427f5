import '../types/fastify'
import { memoryAdapter } from './adapters/memory'
import { redisAdapter } from './adapters/redis'
import { Connection } from './connection/connection'
import { ConnectionState } from './connection/state'
import { errors } from './errors'
import plugin from './plugin'
import { CloseCode, ErrorCode } from './protocol/codes'
import { clientSchemas, schemas, serverSchemas } from './protocol/schemas'
import { STOP } from './services/events'

// `module.exports` is the plugin itself (Fastify's convention), so `require()`, ESM
// `import hauyna from` and TypeScript under every module setting all get a callable plugin.
const hauyna = Object.assign(plugin, {
  default: plugin,
  hauyna: plugin,
  errors,
  ErrorCode,
  CloseCode,
  schemas,
  clientSchemas,
  serverSchemas,
  memoryAdapter,
  redisAdapter,
  Connection,
  ConnectionState,
  STOP
})

// eslint-disable-next-line @typescript-eslint/no-namespace
namespace hauyna {
  export type HauynaOptions = import('./config/options').HauynaOptions
  export type HeartbeatOptions = import('./config/options').HeartbeatOptions
  export type DrainOptions = import('./config/options').DrainOptions
  export type Authenticate = import('./connection/connection').Authenticate
  export type EndpointOptions = import('./config/endpoint-options').EndpointOptions
  export type AutoSubscribe = import('./connection/connection').AutoSubscribe
  export type HauynaInfo = import('./plugin').HauynaInfo
  export type Codec = import('./protocol/codec').Codec
  export type ErrorCode = import('./protocol/codes').ErrorCode
  export type CloseCode = import('./protocol/codes').CloseCode
  export type ClientMessageType = import('./protocol/schemas').ClientMessageType
  export type ClientMessage<T extends ClientMessageType = ClientMessageType> = import('./protocol/schemas').ClientMessage<T>
  export type ServerMessageType = import('./protocol/schemas').ServerMessageType
  export type ServerMessage<T extends ServerMessageType = ServerMessageType> = import('./protocol/schemas').ServerMessage<T>
  export type PresenceSummary = import('./protocol/schemas').PresenceSummary
  export type Ref = import('./protocol/schemas').Ref
  export type Adapter = import('./adapters/adapter').Adapter
  export type AdapterHealth = import('./adapters/adapter').AdapterHealth
  export type AdapterNode = import('./adapters/adapter').AdapterNode
  export type ClusterListener = import('./adapters/adapter').ClusterListener
  export type Departure = import('./adapters/adapter').Departure
  export type NodeFigures = import('./adapters/adapter').NodeFigures
  export type NodeInfo = import('./adapters/adapter').NodeInfo
  export type Envelope = import('./adapters/adapter').Envelope
  export type PresenceEntry = import('./adapters/adapter').PresenceEntry
  export type PresenceStore = import('./adapters/adapter').PresenceStore
  export type Membership = import('./adapters/adapter').Membership
  export type Member = import('./adapters/adapter').Member
  export type MemberStore = import('./adapters/adapter').MemberStore
  export type Vacancy = import('./adapters/adapter').Vacancy
  export type GroupStore = import('./adapters/adapter').GroupStore
  export type HistoryStore = import('./adapters/adapter').HistoryStore
  export type HistoryPolicy = import('./adapters/adapter').HistoryPolicy
  export type HistoryEntry = import('./adapters/adapter').HistoryEntry
  export type HistoryRead = import('./adapters/adapter').HistoryRead
  export type StreamPosition = import('./adapters/adapter').StreamPosition
  export type Appended = import('./adapters/adapter').Appended
  export type SessionStore = import('./adapters/adapter').SessionStore
  export type RedisAdapterOptions = import('./adapters/redis').RedisAdapterOptions
  export type RedisAdapter = import('./adapters/redis').RedisAdapter
  export type OutgoingStats = import('./adapters/redis').OutgoingStats
  export type Connection = import('./connection/connection').Connection
  export type Identity = import('./connection/connection').Identity
  export type ConnectionState = import('./connection/state').ConnectionState
  export type RateLimitOptions = import('./connection/limits').RateLimitOptions
  export type Stats = import('./stats/stats').Stats
  export type CleanupOptions = import('./util/cleanup-types').CleanupOptions
  export type CleanupMetrics = import('./util/cleanup-types').CleanupMetrics
  export type EndpointHooks = import('./config/options').EndpointHooks
  export type ChannelsService = import('./services/channels').ChannelsService
  export type ChannelInfo = import('./services/types').ChannelInfo
  export type SubscribeOptions = import('./services/channels').SubscribeOptions
  export type Subscriber = import('./services/channels').Subscriber
  export type PublishResult = import('./services/channels').PublishResult
  export type HistoryOptions = import('./services/channels').HistoryOptions
  export type ChannelHistory = import('./services/channels').ChannelHistory
  export type ChannelMessageFrame = import('./services/channels').ChannelMessageFrame
  export type HistoryOption = import('./services/history-policy').HistoryOption
  export type ConnectionLocation = import('./services/ports').ConnectionLocation
  export type ConnectionRef = import('./services/channels').ConnectionRef
  export type ConnectionsService = import('./services/connections').ConnectionsService
  export type EventsService = import('./services/events').EventsService
  export type LifecycleEvents = import('./services/types').LifecycleEvents
  export type LifecycleEvent = import('./services/types').LifecycleEvent
  export type ObjectSchema = import('./services/events').ObjectSchema
  export type AppMessage<S extends ObjectSchema> = import('./services/events').AppMessage<S>
  export type MessageHandler<S extends ObjectSchema = ObjectSchema> = import('./services/events').MessageHandler<S>
  export type GroupsService = import('./services/groups').GroupsService
  export type GroupMember = import('./services/groups').GroupMember
  export type UserGroup = import('./services/groups').UserGroup
  export type SendOptions = import('./services/send-options').SendOptions
  export type PresenceService = import('./services/presence').PresenceService
  export type UserPresence = import('./services/types').UserPresence
  export type PresenceChange = import('./services/types').PresenceChange
  export type PresenceState = import('./services/presence').PresenceState
  export type PresenceFilter = import('./services/presence').PresenceFilter
  export type ChannelPolicy = import('./services/policies').ChannelPolicy
  export type PermissionRule = import('./services/policies').PermissionRule
  export type RuleContext = import('./services/policies').RuleContext
}

export = hauyna

// Node's ESM loader finds a CommonJS module's named exports by scanning for assignments
// like these; they restate what `Object.assign` above already put on the plugin.
module.exports.hauyna = plugin
module.exports.errors = errors
module.exports.ErrorCode = ErrorCode
module.exports.CloseCode = CloseCode
module.exports.schemas = schemas
module.exports.clientSchemas = clientSchemas
module.exports.serverSchemas = serverSchemas
module.exports.memoryAdapter = memoryAdapter
module.exports.redisAdapter = redisAdapter
module.exports.Connection = Connection
module.exports.ConnectionState = ConnectionState
module.exports.STOP = STOP
