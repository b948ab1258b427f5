import type { AsyncApiInfo } from '../config/options'
import type { Endpoint } from '../connection/connection'
import { type JsonObject, plainJson } from '../protocol/message-schema'
import { clientSchemas, serverSchemas } from '../protocol/schemas'
import { pointerToken } from '../protocol/validator'

interface Reference { $ref: string }

interface Message {
  name: string
  payload: JsonObject
}

interface Channel {
  address: string
  parameters?: Record<string, { description: string }>
  messages: Record<string, Message>
}

interface Operation {
  action: 'send' | 'receive'
  channel: Reference
  messages: Reference[]
}

/** The AsyncAPI 3.0 document of the WebSocket endpoints; the fields this module writes. */
export interface AsyncApiDocument {
  asyncapi: '3.0.0'
  info: AsyncApiInfo
  defaultContentType: 'application/json'
  channels: Record<string, Channel>
  operations: Record<string, Operation>
}

/** What the document describes: the endpoints, and the app's message types with their payloads. */
export interface DocumentSources {
  info: AsyncApiInfo
  endpoints: readonly Endpoint[]
  declared: ReadonlyMap<string, { payload: JsonObject }>
}

type Payloads = Array<[type: string, payload: JsonObject]>

// Fastify's `:room` (with an optional regular expression) is AsyncAPI's `{room}`.
const routeParameter = /:(\w+)(?:\(.*?\))?/g

function addressOf (path: string): string {
  return path.replace(routeParameter, '{$1}')
}

/** Present only when the address holds parameters, as AsyncAPI requires. */
function parametersOf (path: string): Pick<Channel, 'parameters'> {
  const names = [...path.matchAll(routeParameter)].map((match) => match[1])
  if (names.length === 0) return {}
  return { parameters: Object.fromEntries(names.map((name) => [name, { description: `The route parameter "${name}".` }])) }
}

function ref (...tokens: string[]): Reference {
  return { $ref: `#/${tokens.map((token) => encodeURIComponent(pointerToken(token))).join('/')}` }
}

/** A client and a server frame may share a type (`direct`): the keys tell the directions apart. */
const clientKey = (type: string): string => `client.${type}`
const serverKey = (type: string): string => `server.${type}`

function messagesOf (payloads: Payloads, key: (type: string) => string): Array<[string, Message]> {
  return payloads.map(([type, payload]) => [key(type), { name: type, payload }])
}

// AsyncAPI 3.0 operations are the documented application's, here the server's: it receives
// what the endpoint accepts from clients and sends every server frame.
function describeEndpoint (document: AsyncApiDocument, endpoint: Endpoint, client: Payloads, server: Payloads): void {
  const { path } = endpoint
  const accepted = client.filter(([type]) => endpoint.messages?.has(type) ?? true)
  const messages = [...messagesOf(accepted, clientKey), ...messagesOf(server, serverKey)]
  document.channels[path] = { address: addressOf(path), ...parametersOf(path), messages: Object.fromEntries(messages) }
  const channel = ref('channels', path)
  const refs = (payloads: Payloads, key: (type: string) => string) =>
    payloads.map(([type]) => ref('channels', path, 'messages', key(type)))
  document.operations[`receive ${path}`] = { action: 'receive', channel, messages: refs(accepted, clientKey) }
  document.operations[`send ${path}`] = { action: 'send', channel, messages: refs(server, serverKey) }
}

/** Built at request time: the endpoints and the types declared so far, the protocol's frames as plain JSON. */
export function asyncApiDocument ({ info, endpoints, declared }: DocumentSources): AsyncApiDocument {
  const client: Payloads = [
    ...Object.entries(clientSchemas).map(([type, schema]): Payloads[number] => [type, plainJson(schema)]),
    ...[...declared].map(([type, { payload }]): Payloads[number] => [type, payload])
  ]
  const server: Payloads = Object.entries(serverSchemas).map(([type, schema]) => [type, plainJson(schema)])
  const document: AsyncApiDocument = {
    asyncapi: '3.0.0', info, defaultContentType: 'application/json', channels: {}, operations: {}
  }
  for (const endpoint of endpoints) describeEndpoint(document, endpoint, client, server)
  return document
}
