/** Everything delivered is a publish to a topic; these name them. */
export const ALL_TOPIC = 'all'
const CHANNEL = 'channel:'
export const channelTopic = (channel: string): string => CHANNEL + channel
const USER = 'user:'
export const userTopic = (userId: string): string => USER + userId
const GROUP = 'group:'
export const groupTopic = (group: string): string => GROUP + group

/** The channel a topic delivers to, or `undefined` for a user, group or `all` topic. */
export function channelOf (topic: string): string | undefined {
  return topic.startsWith(CHANNEL) ? topic.slice(CHANNEL.length) : undefined
}

/** Whether a topic delivers to a group's members. */
export function isGroupTopic (topic: string): boolean {
  return topic.startsWith(GROUP)
}

/** The user a user topic delivers to, or `undefined` for any other topic. */
export function userOf (topic: string): string | undefined {
  return topic.startsWith(USER) ? topic.slice(USER.length) : undefined
}
