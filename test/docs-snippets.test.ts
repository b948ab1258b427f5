import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { compile, packedApp, strictEsmConfig } from './packed-app'

// Every TypeScript block of the README and the docs (the SDK's, docs/CLIENT.md, too) compiles as written, with the imports it
// shows, in a strict ESM app that installed the packed tarball: a reader can paste any of them.
// The package's own declarations are checked with skipLibCheck off in packed-install.test.ts.

const root = join(__dirname, '..')
const documents = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)]

interface Block { document: string, line: number, source: string }

function typescriptBlocks (document: string): Block[] {
  const lines = readFileSync(join(root, document), 'utf8').split('\n')
  const blocks: Block[] = []
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue
    const start = i + 1
    while (i + 1 < lines.length && !/^```\s*$/.test(lines[++i]));
    blocks.push({ document, line: start, source: lines.slice(start, i).join('\n') })
  }
  return blocks
}

const blocks = documents.flatMap(typescriptBlocks)
const fileOf = (block: Block): string => `snippets/${block.document.replace(/[/.]/g, '_')}_${block.line}.ts`

t.test(`the ${blocks.length} TypeScript blocks of the README and docs compile as written`, async (t) => {
  t.ok(blocks.length >= 20, `${blocks.length} blocks found in ${documents.length} documents`)
  // `export {}` keeps each block a module of its own, so their top-level names do not clash.
  const files = Object.fromEntries(blocks.map((block) => [fileOf(block), `${block.source}\nexport {}\n`]))
  const dir = packedApp(t, { packageJson: { name: 'docs-app', private: true, type: 'module' }, without: [], files, tsconfig: strictEsmConfig(['snippets'], { skipLibCheck: true }) })
  const { status, output } = compile(dir)
  const failing = blocks.filter((block) => output.includes(fileOf(block)))
  t.same(failing.map((block) => `${block.document}:${block.line}`), [], 'blocks that do not compile')
  t.equal(status, 0, output)
})
