import { adapterFromEnv } from '../adapter-from-env'
import { runExample } from '../run'
import { buildNotificationsApp } from './app'

runExample(() => buildNotificationsApp({ adapter: adapterFromEnv() }))
