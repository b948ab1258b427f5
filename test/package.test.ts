import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import t from 'tap'

// `npm test` builds first; these load the built package by its own name, as a user would.
const root = join(__dirname, '..')

// Children report no coverage to tap: theirs of dist/ would be mapped back onto lib/ and
// replace what the in-process tests measured there.
const plainEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }

function run (args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 20_000, env: plainEnv })
}

const script = `
  const app = Fastify()
  await app.register(hauyna, { path: '/rt' })
  await app.listen({ port: 0, host: '127.0.0.1' })
  const ws = new WebSocket('ws://127.0.0.1:' + app.server.address().port + '/rt?userId=pkg')
  const frame = await new Promise((resolve, reject) => { ws.once('message', (d) => resolve(JSON.parse(d))); ws.once('error', reject) })
  ws.close()
  await app.close()
  console.log(JSON.stringify({ type: frame.type, userId: frame.userId, codes: Object.keys(ErrorCode).length, schemas: Object.keys(schemas.client).length }))
`

t.test('ESM: default import is the plugin, named exports resolve', async (t) => {
  const out = run(['--input-type=module', '-e', `
    import Fastify from 'fastify'
    import WebSocket from 'ws'
    import hauyna, { ErrorCode, schemas } from 'fastify-hauyna'
    ${script}`])
  t.same(JSON.parse(out), { type: 'connected', userId: 'pkg', codes: 11, schemas: 10 })
})

t.test('CommonJS: require() returns the plugin', async (t) => {
  const out = run(['-e', `
    const Fastify = require('fastify')
    const WebSocket = require('ws')
    const hauyna = require('fastify-hauyna')
    const { ErrorCode, schemas } = hauyna
    ;(async () => { ${script} })().catch((e) => { console.error(e); process.exit(1) })`])
  t.same(JSON.parse(out), { type: 'connected', userId: 'pkg', codes: 11, schemas: 10 })
})

t.test('the packed tarball holds the build and its types', async (t) => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  const files = (JSON.parse(out)[0].files as Array<{ path: string }>).map((f) => f.path)
  const expected = ['dist/lib/index.js', 'dist/lib/index.d.ts', 'dist/types/fastify.d.ts', 'package.json', 'README.md',
    'LICENSE', 'CHANGELOG.md', 'docs/PROTOCOL.md', 'docs/ARCHITECTURE.md', 'docs/CLIENT.md', 'dist/lib/routes/dashboard.html', 'docs/dashboard.png']
  for (const file of expected) t.ok(files.includes(file), `${file} is packed`)
  t.same(files.filter((f) => f.startsWith('test/') || f.startsWith('lib/')), [], 'no sources or tests are packed')
  t.same(files.filter((f) => f.endsWith('.map')), [], 'no source maps that point to sources not shipped')
})

/** Every .d.ts a user's compiler reads: the entry points and what they import, transitively. */
function reachableDeclarations (entries: string[]): Map<string, string> {
  const found = new Map<string, string>()
  const queue = entries.map((entry) => join(root, entry))
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (found.has(file)) continue
    const text = readFileSync(file, 'utf8')
    found.set(file, text)
    for (const [, target] of text.matchAll(/(?:from |import\()['"](\.[^'"]+)['"]/g)) {
      const base = join(dirname(file), target)
      queue.push(existsSync(`${base}.d.ts`) ? `${base}.d.ts` : join(base, 'index.d.ts'))
    }
  }
  return found
}

t.test('the public .d.ts files declare only the public classes: no node, session, hub or queue', async (t) => {
  const declarations = reachableDeclarations(['dist/lib/index.d.ts', 'dist/types/fastify.d.ts', 'dist/lib/client/index.d.ts'])
  t.ok(declarations.size > 10, `${declarations.size} declaration files reached`)
  const classes = [...declarations.values()].flatMap((text) => [...text.matchAll(/declare class (\w+)/g)].map(([, name]) => name))
  t.same(classes.sort(), [
    'ChannelPolicies', 'ChannelsService', 'Connection', 'ConnectionsService', 'EventsService', 'GroupsService',
    'HauynaClient', 'HauynaError', 'PresenceService'
  ])
  const paths = [...declarations.keys()].map((file) => file.slice(root.length + 1))
  t.same(paths.filter((file) => /\/(composition|session|pubsub|directory|routes)\//.test(file)), [],
    'no file of the layers above the services')
})

t.test('the public .d.ts files name no optional peer dependency: an app without ioredis compiles', async (t) => {
  const declarations = reachableDeclarations(['dist/lib/index.d.ts', 'dist/types/fastify.d.ts', 'dist/lib/client/index.d.ts'])
  const importers = [...declarations].filter(([, text]) => /(?:from |import\()['"]ioredis['"]/.test(text))
  t.same(importers.map(([file]) => file.slice(root.length + 1)), [])
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.equal(manifest.dependencies.ioredis, undefined, 'ioredis is not installed for every user')
  t.same(manifest.peerDependenciesMeta.ioredis, { optional: true })
})
