import { adapterFromEnv } from '../adapter-from-env'
import { runExample } from '../run'
import { buildGameApp } from './app'

runExample(() => buildGameApp({ adapter: adapterFromEnv() }))
