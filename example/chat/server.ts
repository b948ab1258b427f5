import { buildChatApp } from './app'

async function main (): Promise<void> {
  const app = await buildChatApp()
  const port = Number(process.env.PORT ?? 3000)
  const host = process.env.HOST ?? '127.0.0.1'
  await app.listen({ port, host })
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => { void app.close().then(() => process.exit(0)) })
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
