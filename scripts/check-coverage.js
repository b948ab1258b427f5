'use strict'
// tap 21 fails below 100% unless told otherwise; this holds the suite to the honest floor
// in package.json ("coverageThreshold"), which only ever moves up.
const { readFileSync } = require('node:fs')
const { join } = require('node:path')

const root = join(__dirname, '..')
const thresholds = require(join(root, 'package.json')).coverageThreshold
const summary = JSON.parse(readFileSync(join(root, '.tap/report/coverage-summary.json'), 'utf8')).total

const failures = Object.entries(thresholds)
  .filter(([metric, floor]) => summary[metric].pct < floor)
  .map(([metric, floor]) => `${metric} ${summary[metric].pct}% < ${floor}%`)

const line = Object.keys(thresholds).map((m) => `${m} ${summary[m].pct}%`).join(', ')
if (failures.length > 0) {
  console.error(`coverage below threshold: ${failures.join('; ')}`)
  process.exit(1)
}
console.log(`coverage ok: ${line}`)
