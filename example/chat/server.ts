import { runExample } from '../run'
import { buildChatApp } from './app'

runExample(() => buildChatApp())
