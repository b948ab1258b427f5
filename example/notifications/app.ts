import { Type, type Static } from '@sinclair/typebox'
import Fastify, { type FastifyInstance } from 'fastify'
import { join } from 'node:path'
import hauyna, { type ChannelPolicy, type HauynaOptions, schemas } from '../../lib/index'
import { servePage } from '../page'

/** Everyone's notifications. */
const EVERYONE = 'notifications'
/** One user's own notifications: `inbox:<userId>`, which only that user may follow. */
const inbox = (userId: string): string => `inbox:${userId}`

const Notification = Type.Object({
  title: Type.String({ minLength: 1, maxLength: 200 }),
  body: Type.Optional(Type.String({ maxLength: 2000 }))
})
const ToUser = Type.Object({ userId: schemas.Name })

/**
 * A day of notifications is kept, so a page that was closed (or offline) meanwhile shows what
 * it missed when it comes back. Clients only listen: notifications come from the HTTP API.
 */
const kept = { size: 100, ttl: 86_400_000 }
const channelPolicies: Record<string, ChannelPolicy> = {
  [EVERYONE]: { subscribe: true, publish: false, history: kept },
  'inbox:*': { subscribe: ({ connection, channel }) => channel === inbox(connection.userId), publish: false, history: kept }
}

/**
 * The notifications example: `POST /notify` tells everyone, `POST /notify/:userId` one user
 * (on every node, whether online or not: the user's inbox channel keeps it); a page at `/`
 * shows them as they arrive, counts the unread ones, and lists what was kept, what arrived
 * while it was closed included.
 */
export async function buildNotificationsApp (options: { logger?: boolean, adapter?: HauynaOptions['adapter'] } = {}): Promise<FastifyInstance> {
  const app = Fastify({ logger: options.logger ?? true })
  // A demo: anyone may be anyone (?userId=). A real app sets `authenticate` (docs/AUTH.md).
  await app.register(hauyna, {
    path: '/ws',
    adapter: options.adapter,
    allowUnverifiedIdentity: true,
    channels: { default: 'deny', policies: channelPolicies }
  })

  app.post<{ Body: Static<typeof Notification> }>('/notify', { schema: { body: Notification } },
    async (request) => ({ delivered: await app.channels.broadcastTo(EVERYONE, request.body) }))

  app.post<{ Body: Static<typeof Notification>, Params: Static<typeof ToUser> }>('/notify/:userId',
    { schema: { body: Notification, params: ToUser } },
    async (request) => ({ delivered: await app.channels.broadcastTo(inbox(request.params.userId), request.body) }))

  // The page's first load: both feeds' kept notifications and where each stream stands, from
  // which the page's subscriptions continue (`since`), so nothing is missed or shown twice.
  // A demo again: a real app would only show users their own inbox.
  app.get<{ Params: Static<typeof ToUser> }>('/notifications/:userId', { schema: { params: ToUser } },
    async (request) => Promise.all([EVERYONE, inbox(request.params.userId)].map(async (channel) => ({
      channel, ...await app.channels.history(channel)
    }))))

  await servePage(app, join(__dirname, 'public', 'index.html'))
  return app
}
