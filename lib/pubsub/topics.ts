/** Everything delivered is a publish to a topic; these name them. */
export const ALL_TOPIC = 'all'
const CHANNEL = 'channel:'
export const channelTopic = (channel: string): string => CHANNEL + channel
export const userTopic = (userId: string): string => 'user:' + userId
export const groupTopic = (group: string): string => 'group:' + group

/** The channel a topic delivers to, or `undefined` for a user, group or `all` topic. */
export function channelOf (topic: string): string | undefined {
  return topic.startsWith(CHANNEL) ? topic.slice(CHANNEL.length) : undefined
}
