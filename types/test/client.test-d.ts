import { Type } from '@sinclair/typebox'
import { expectAssignable, expectError, expectType } from 'tsd'
import WebSocket from 'ws'
import {
  type ChannelMessage,
  type ClientState,
  type ClientStatus,
  type Delivery,
  HauynaClient,
  type HauynaError,
  type PerConnect,
  type RecoveryInfo,
  type StopResult,
  type StreamPosition,
  type SubscribedFrame,
  type WebSocketConstructor,
  type WebSocketLike
} from 'fastify-hauyna/client'

// Both the `ws` package and the browser's WebSocket fit the WebSocket option.
expectAssignable<WebSocketConstructor>(WebSocket)
expectAssignable<WebSocketConstructor>(globalThis.WebSocket)

// App message types come from the same TypeBox schemas the server declares.
const Typing = Type.Object({ room: Type.String() })
const Vote = Type.Object({ poll: Type.String(), choice: Type.Integer() })
const client = new HauynaClient<{ typing: typeof Typing, vote: typeof Vote }>('ws://127.0.0.1/ws', { WebSocket })

expectType<Promise<void>>(client.send('typing', { room: 'lobby' }))
expectType<Promise<void>>(client.send('vote', { poll: 'lunch', choice: 2 }, { timeout: 1000 }))
expectError(client.send('typing', { room: 1 }))
expectError(client.send('vote', { poll: 'lunch' }))
expectError(client.send('typing', { wrong: true }))
// Types the client was not told about stay open, untyped.
expectType<Promise<void>>(client.send('other', { anything: [1, 2] }))

// An untyped client accepts any app message.
const plain = new HauynaClient('ws://127.0.0.1/ws', { WebSocket, retry: { maxAttempts: Infinity, jitter: 0.2 } })
expectType<Promise<void>>(plain.send('typing', { room: 1 }))
expectError(new HauynaClient('ws://127.0.0.1/ws', { overflowStrategy: 'drop_all' }))

// Subscriptions: typed data, an unsubscribe function with the first reply.
const off = plain.subscribe<{ text: string }>('room', (message) => {
  expectType<ChannelMessage<{ text: string }>>(message)
  expectType<string>(message.data.text)
  expectType<string | null>(message.from)
}, { meta: { nick: 'al' }, echo: false })
expectType<Promise<void>>(off())
expectType<Promise<SubscribedFrame>>(off.subscribed)

// Events are typed by name.
plain.on('state', (state, previous) => {
  expectType<ClientState>(state)
  expectType<ClientState>(previous)
})
plain.on('error', (error) => { expectType<HauynaError>(error); expectType<string>(error.code) })
plain.on('retry', ({ attempt, delay }) => { expectType<number>(attempt + delay) })
plain.on('reconnect', (frame) => { expectType<'reconnect'>(frame.type); expectType<number>(frame.after) })
plain.on('dropped', ({ message }) => { expectType<string>(message.type) })
expectError(plain.on('no_such_event', () => {}))

// History: a handler learns whether a message is replayed; a saved position resumes a subscription.
plain.subscribe('room', (message, delivery) => {
  expectType<Delivery>(delivery)
  expectType<boolean>(delivery.replayed)
  expectType<number | undefined>(message.offset)
  expectType<string | undefined>(message.epoch)
}, { since: { offset: 3, epoch: 'e' } })
expectError(plain.subscribe('room', () => {}, { since: { offset: '3', epoch: 'e' } }))
expectError(plain.subscribe('room', () => {}, { since: { offset: 3 } }))
expectType<StreamPosition | undefined>(plain.position('room'))
plain.on('recovery', (info) => {
  expectType<RecoveryInfo>(info)
  expectType<boolean>(info.recovered)
  expectType<StreamPosition>(info.since)
  expectType<number | undefined>(info.offset)
})
plain.on('message', (message, { replayed }) => { expectType<string>(message.channel); expectType<boolean>(replayed) })

expectType<ClientState>(plain.state)
expectType<ClientStatus>(plain.status())
expectType<Promise<StopResult>>(plain.stop({ timeout: 1000 }))
expectType<Promise<void>>(plain.presence('away', { note: 'lunch' }))
expectError(plain.presence(42))

// What each attempt opens: values, or functions (sync or async) called before every attempt.
const authed = new HauynaClient(async () => 'wss://example.com/ws', {
  WebSocket,
  params: async () => ({ token: 'abc', attempt: 2, debug: true, absent: undefined }),
  protocols: () => ['bearer', 'abc'],
  webSocketOptions: { headers: { authorization: 'Bearer abc' }, handshakeTimeout: 5000 }
})
expectType<PerConnect<string>>(authed.url)
expectAssignable<HauynaClient>(new HauynaClient('wss://example.com/ws', {
  params: { v: 1 },
  protocols: async () => 'bearer',
  webSocketOptions: async () => ({ headers: { authorization: 'Bearer abc' } })
}))
expectError(new HauynaClient(() => 42))
expectError(new HauynaClient('wss://example.com/ws', { protocols: 42 }))
expectError(new HauynaClient('wss://example.com/ws', { protocols: async () => [1] }))
expectError(new HauynaClient('wss://example.com/ws', { params: () => ({ token: { nested: true } }) }))
expectError(new HauynaClient('wss://example.com/ws', { webSocketOptions: { headers: { attempt: 1 } } }))

// An implementation that takes only the URL still fits (without protocols or webSocketOptions, it is enough).
declare const urlOnly: new (url: string) => WebSocketLike
expectAssignable<WebSocketConstructor>(urlOnly)
