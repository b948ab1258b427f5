/** Everything delivered is a publish to a topic; these name them. */
export const ALL_TOPIC = 'all'
export const channelTopic = (channel: string): string => 'channel:' + channel
export const userTopic = (userId: string): string => 'user:' + userId
export const groupTopic = (group: string): string => 'group:' + group
