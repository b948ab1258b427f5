import { runExample } from '../run'
import { buildPresenceServer } from './app'

runExample(() => buildPresenceServer())
