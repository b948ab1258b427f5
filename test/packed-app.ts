import { execFileSync, spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import tap, { type Test } from 'tap'

/*
 * A fresh app with the packed tarball installed in it, as `npm install fastify-hauyna` would:
 * the package unpacked into its node_modules (a copy, not a link, so that it resolves its
 * own dependencies from the app's tree) and every other package linked from ours, but for
 * the ones a test leaves out (the optional peers an app may not have).
 */

const root = join(__dirname, '..')
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

/** Children report no coverage: theirs of dist/ would be mapped onto lib/ and replace ours. */
export const plainEnv = { ...process.env, _TAPJS_PROCESSINFO_COVERAGE_: '0' }

let tarball: string | undefined

/** `npm pack` once per test file; `--ignore-scripts` because `npm test` has built dist/ already. */
function packOnce (): string {
  if (tarball !== undefined) return tarball
  const dir = mkdtempSync(join(tmpdir(), 'hauyna-pack-'))
  tap.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const out = execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  tarball = join(dir, (JSON.parse(out) as Array<{ filename: string }>)[0].filename)
  return tarball
}

function linkDependencies (modules: string, without: ReadonlySet<string>): void {
  for (const name of readdirSync(join(root, 'node_modules'))) {
    if (name.startsWith('.') || name === 'fastify-hauyna' || without.has(name)) continue
    if (!name.startsWith('@')) {
      symlinkSync(join(root, 'node_modules', name), join(modules, name))
      continue
    }
    mkdirSync(join(modules, name))
    for (const member of readdirSync(join(root, 'node_modules', name))) {
      if (!without.has(`${name}/${member}`)) symlinkSync(join(root, 'node_modules', name, member), join(modules, name, member))
    }
  }
}

export interface AppSpec {
  packageJson: object
  /** Packages of ours the app does not have. */
  without: string[]
  files: Record<string, string>
  tsconfig?: object
}

export function packedApp (t: Test, spec: AppSpec): string {
  const dir = mkdtempSync(join(tmpdir(), 'hauyna-app-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const modules = join(dir, 'node_modules')
  mkdirSync(join(modules, 'fastify-hauyna'), { recursive: true })
  execFileSync('tar', ['-xzf', packOnce(), '-C', join(modules, 'fastify-hauyna'), '--strip-components=1'])
  linkDependencies(modules, new Set(spec.without))
  writeFileSync(join(dir, 'package.json'), JSON.stringify(spec.packageJson))
  if (spec.tsconfig !== undefined) writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify(spec.tsconfig))
  for (const [file, text] of Object.entries(spec.files)) {
    mkdirSync(join(dir, file, '..'), { recursive: true })
    writeFileSync(join(dir, file), text)
  }
  return dir
}

/**
 * A strict ESM TypeScript app as `tsc --init` users tighten it: nodenext, declaration files
 * checked unless `skipLibCheck` (checking every package's declarations is most of tsc's time,
 * and one app that does it is enough).
 */
export function strictEsmConfig (include: string[], { outDir, skipLibCheck = false }: { outDir?: string, skipLibCheck?: boolean } = {}): object {
  return {
    compilerOptions: {
      module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', strict: true, skipLibCheck,
      types: ['node'], ...(outDir === undefined ? { noEmit: true } : { outDir })
    },
    include
  }
}

/** Runs the app's compiler; resolves to its exit status and what it printed. */
export function compile (dir: string): { status: number | null, output: string } {
  const result = spawnSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8', timeout: 120_000 })
  return { status: result.status, output: result.stdout + result.stderr }
}

export function runNode (dir: string, file: string): string {
  return execFileSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 30_000, env: plainEnv })
}
