import { adapterFromEnv } from '../adapter-from-env'
import { runExample } from '../run'
import { buildPresenceServer } from './app'

runExample(() => buildPresenceServer({ adapter: adapterFromEnv() }))
