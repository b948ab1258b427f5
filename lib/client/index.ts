// The browser-safe entry point `fastify-hauyna/client`: nothing here may import Fastify or a
// Node built-in (test/client-package.test.ts checks), and TypeBox only as types.
export { HauynaClient } from './client'
export { ClientErrorCode, HauynaError, type HauynaErrorDetails } from './errors'
export { defaultRetryPolicy, resolveRetryPolicy, retryDelay, type RetryPolicy } from './retry-policy'
export type {
  AppMessages, AppPayload, BroadcastMessage, ChannelMessage, ClientEvents, ClientHealth, ClientOptions, ClientState,
  ClientStatus, ConnectedFrame, Delivery, DirectMessage, DisconnectInfo, ErrorFrame, GroupMessage, HeartbeatSettings,
  MessageSchema, OutgoingMessage, OverflowStrategy, PerConnect, PresenceDiff, QueryParams, ReconnectFrame, RecoveryInfo, RequestOptions,
  StopOptions, StopResult, StreamPosition, SubscribedFrame, SubscribeOptions, Subprotocols, UnsubscribedFrame, Unsubscribe,
  WebSocketConstructor, WebSocketLike, WebSocketOptions
} from './types'
