import { adapterFromEnv } from '../adapter-from-env'
import { runExample } from '../run'
import { buildChatApp } from './app'

runExample(() => buildChatApp({ adapter: adapterFromEnv() }))
