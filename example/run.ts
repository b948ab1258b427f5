import type { FastifyInstance } from 'fastify'

/** Starts an example app on PORT (default 3000) and HOST (default 127.0.0.1); closes it on signals. */
export function runExample (build: () => Promise<FastifyInstance>): void {
  build()
    .then(async (app) => {
      await app.listen({ port: Number(process.env.PORT ?? 3000), host: process.env.HOST ?? '127.0.0.1' })
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        process.once(signal, () => { void app.close().then(() => process.exit(0)) })
      }
    })
    .catch((error) => {
      console.error(error)
      process.exit(1)
    })
}
