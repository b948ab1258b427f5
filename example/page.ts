import type { FastifyInstance } from 'fastify'
import { readFile } from 'node:fs/promises'

/** The bundle's text, or `undefined` when it has not been built. */
async function clientBundle (): Promise<string | undefined> {
  try {
    return await readFile(require.resolve('fastify-hauyna/client/browser'), 'utf8')
  } catch {
    return undefined
  }
}

/**
 * An example's browser page at `/`, and the client SDK's browser bundle at `/hauyna-client.js`
 * for the page to import, found through the package's own exports as an app depending on
 * fastify-hauyna would find it (`npm run build:client` builds it).
 */
export async function servePage (app: FastifyInstance, htmlFile: string): Promise<void> {
  const page = await readFile(htmlFile, 'utf8')
  app.get('/', async (_request, reply) => reply.type('text/html; charset=utf-8').send(page))
  app.get('/hauyna-client.js', async (_request, reply) => {
    const bundle = await clientBundle()
    if (bundle === undefined) return reply.code(503).send({ error: 'the client bundle is not built: run npm run build' })
    return reply.type('text/javascript; charset=utf-8').send(bundle)
  })
}
