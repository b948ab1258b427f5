'use strict'
// `npm run mutation -- lib/connection [lib/services …]`: StrykerJS over one folder at a time
// (stryker.config.js names each folder's test files), then the score of each folder.
const { spawnSync } = require('node:child_process')
const { readFileSync } = require('node:fs')

const folders = process.argv.slice(2)
if (folders.length === 0) folders.push('lib/connection', 'lib/services', 'lib/adapters', 'lib/protocol')

/** Killed (and timed out) over every mutant that a test could see, as Stryker counts it. */
function score (file) {
  const report = JSON.parse(readFileSync(file, 'utf8'))
  const counts = {}
  for (const { mutants } of Object.values(report.files)) {
    for (const { status } of mutants) counts[status] = (counts[status] ?? 0) + 1
  }
  const detected = (counts.Killed ?? 0) + (counts.Timeout ?? 0)
  const valid = detected + (counts.Survived ?? 0) + (counts.NoCoverage ?? 0)
  return { ...counts, score: valid === 0 ? 100 : Math.round(1000 * detected / valid) / 10 }
}

const rows = []
for (const folder of folders) {
  const run = spawnSync('npx', ['stryker', 'run', 'stryker.config.js'], {
    stdio: 'inherit', env: { ...process.env, HAUYNA_MUTATE: folder }
  })
  if (run.status !== 0) process.exit(run.status ?? 1)
  rows.push({ folder, ...score(`reports/mutation/${folder.replace(/\//g, '-')}.json`) })
}
console.table(rows)
