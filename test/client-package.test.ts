import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import t, { type Test } from 'tap'
import WebSocket from 'ws'
import { startServer, until } from './helpers'

// Like package.test.ts, these check what `npm run build` produced, loaded as a user would.
const root = join(__dirname, '..')
const bundlePath = join(root, 'dist/client/hauyna-client.js')

// Children report no coverage to tap: theirs of dist/ would be mapped back onto lib/client
// and replace what the in-process tests measured there.
const plainEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }

function run (args: string[]): string {
  return execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8', timeout: 20_000, env: plainEnv })
}

const roundTrip = `
  const app = Fastify()
  await app.register(hauyna)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const client = new HauynaClient('ws://127.0.0.1:' + app.server.address().port + '/ws?userId=pkg', { WebSocket })
  const got = new Promise((resolve) => client.subscribe('room', (m) => resolve(m.data)))
  await client.start()
  await client.publish('room', 'hello')
  const data = await got
  const stopped = await client.stop()
  await app.close()
  console.log(JSON.stringify({ data, stopped, user: client.userId }))
`
const expected = { data: 'hello', stopped: { graceful: true, unsent: 0 }, user: 'pkg' }

t.test("ESM: import { HauynaClient } from 'fastify-hauyna/client'", async (t) => {
  const out = run(['--input-type=module', '-e', `
    import Fastify from 'fastify'
    import WebSocket from 'ws'
    import hauyna from 'fastify-hauyna'
    import { HauynaClient, HauynaError, retryDelay } from 'fastify-hauyna/client'
    if (typeof HauynaError !== 'function' || typeof retryDelay !== 'function') throw new Error('missing exports')
    ${roundTrip}`])
  t.same(JSON.parse(out), expected)
})

t.test("CommonJS: require('fastify-hauyna/client')", async (t) => {
  const out = run(['-e', `
    const Fastify = require('fastify')
    const WebSocket = require('ws')
    const hauyna = require('fastify-hauyna')
    const { HauynaClient } = require('fastify-hauyna/client')
    ;(async () => { ${roundTrip} })().catch((e) => { console.error(e); process.exit(1) })`])
  t.same(JSON.parse(out), expected)
})

t.test('the client sources import no Fastify, no Node built-in, and TypeBox only as types', async (t) => {
  const dir = join(root, 'lib/client')
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'))
  t.ok(files.length >= 8, `${files.length} source files`)
  for (const file of files) {
    const source = readFileSync(join(dir, file), 'utf8')
    for (const match of source.matchAll(/^(import|export)\s+(type\s+)?[^'"]*from\s+'([^']+)'/gm)) {
      const [statement, , typeOnly, specifier] = match
      const local = specifier.startsWith('./')
      const sharedTypes = typeOnly !== undefined && (specifier === '@sinclair/typebox' || specifier === '../protocol/schemas')
      if (!local && !sharedTypes) t.fail(`${file}: ${statement}`)
    }
    t.notMatch(source, /\brequire\(|\bprocess\.|\bBuffer\b|from 'node:/, `${file} uses nothing from Node`)
  }
})

t.test('the browser bundle: ESM, small, and a working client', async (t) => {
  t.ok(existsSync(bundlePath), 'dist/client/hauyna-client.js exists (npm run build)')
  const source = readFileSync(bundlePath)
  const gzipped = gzipSync(source).length
  t.ok(gzipped < 10 * 1024, `min+gzip ${gzipped} bytes < 10 KiB`)
  t.notMatch(source.toString(), /\brequire\(|from\s*"node:|@sinclair\/typebox/, 'nothing but the client inside')

  const bundle = await import(`data:text/javascript;base64,${source.toString('base64')}`) as typeof import('../lib/client/index')
  t.same(Object.keys(bundle).sort(), ['ClientErrorCode', 'HauynaClient', 'HauynaError', 'defaultRetryPolicy', 'resolveRetryPolicy', 'retryDelay'])
  const server = await startServer(t)
  const client = new bundle.HauynaClient(server.url({ userId: 'bundled' }), { WebSocket })
  t.teardown(() => client.stop({ timeout: 500 }))
  const received: unknown[] = []
  client.subscribe('room', (m) => received.push(m.data))
  await client.start()
  await client.publish('room', 'from the bundle')
  await until(() => received.length === 1, 2000, 'the echo')
  t.same(received, ['from the bundle'])
})

t.test('the packed tarball holds the client build and the bundle', async (t) => {
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8', timeout: 60_000, env: plainEnv })
  const files = (JSON.parse(out)[0].files as Array<{ path: string }>).map((f) => f.path)
  for (const file of ['dist/lib/client/index.js', 'dist/lib/client/index.d.ts', 'dist/client/hauyna-client.js']) {
    t.ok(files.includes(file), `${file} is packed`)
  }
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.same(pkg.exports['./client'], { types: './dist/lib/client/index.d.ts', default: './dist/lib/client/index.js' })
})

/** A fresh app's folder: its node_modules links every installed package, and this one by name. */
function freshApp (t: Test, packageJson: object, tsconfig: object, source: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'hauyna-app-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules'))
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (!name.startsWith('.')) symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name))
  }
  symlinkSync(root, join(dir, 'node_modules', 'fastify-hauyna'))
  writeFileSync(join(dir, 'package.json'), JSON.stringify(packageJson))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(tsconfig))
  writeFileSync(join(dir, 'app.ts'), source)
  return dir
}

const typedClient = `
import { Type } from '@sinclair/typebox'
import { HauynaClient } from 'fastify-hauyna/client'

const ChatMessage = Type.Object({ room: Type.String(), text: Type.String() })
const client = new HauynaClient<{ chat_message: typeof ChatMessage }>('ws://127.0.0.1:1/ws')
void client.send('chat_message', { room: 'lobby', text: 'hi' })
// @ts-expect-error: a field is missing
void client.send('chat_message', { room: 'lobby' })
`

for (const [mode, packageJson, module] of [
  ['ESM', { type: 'module' }, 'nodenext'],
  ['CommonJS', {}, 'nodenext']
] as const) {
  t.test(`the typed client compiles in a strict ${mode} TypeScript app (module nodenext, skipLibCheck false)`, async (t) => {
    const dir = freshApp(t, packageJson, {
      compilerOptions: { module, moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, types: [] },
      files: ['app.ts']
    }, typedClient)
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
    const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', timeout: 60_000 })
    t.equal(result.status, 0, result.stdout + result.stderr)
  })
}
