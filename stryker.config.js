// Mutation testing (StrykerJS with its tap runner): `npm run mutation -- lib/connection`.
// One folder per run, against the test files that exercise it: the whole suite per mutant
// would take hours on two cores. Each test file runs in its own node process under tsx.
'use strict'

/** The test files that speak for each folder; `npm run mutation` refuses any other folder. */
const suites = {
  'lib/connection': ['budgets', 'hardening', 'limits', 'identity', 'context', 'states', 'heartbeat', 'protocol', 'auth', 'jwt',
    'connections', 'groups', 'codec', 'shutdown'],
  'lib/services': ['channels', 'groups', 'presence', 'events', 'connections', 'channel-lifecycle', 'delivery-once', 'identity'],
  'lib/adapters': ['adapter-memory', 'adapter-topics', 'adapter-redis', 'adapter-redis-server', 'redis-outage'],
  'lib/protocol': ['schemas', 'protocol-rules', 'protocol', 'hardening', 'identity', 'codec', 'limits', 'presence'],
  'lib/session': ['protocol', 'hardening', 'heartbeat', 'cleanup', 'shutdown', 'states', 'endpoints', 'setup-failure',
    'events', 'codec', 'limits'],
  'lib/config': ['options', 'endpoints'],
  'lib/pubsub': ['channels', 'delivery-once', 'adapter-topics', 'groups'],
  'lib/util': ['cleanup-queue', 'cleanup', 'options'],
  'lib/stats': ['stats-health', 'stats-privacy'],
  'lib/transport': ['socket-writer', 'hardening', 'options', 'protocol'],
  'lib/routes': ['stats-health', 'stats-privacy', 'metrics', 'endpoints', 'auth', 'setup-failure'],
  'lib/metrics': ['metrics'],
  'lib/client': ['client', 'client-queue', 'client-reconnect', 'client-retry-policy', 'client-stop']
}

const folder = process.env.HAUYNA_MUTATE ?? 'lib/connection'
if (!(folder in suites)) throw new Error(`mutation: no suite for ${folder}; one of ${Object.keys(suites).join(', ')}`)
const name = folder.replace(/\//g, '-')

module.exports = {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  mutate: [`${folder}/**/*.ts`],
  tap: {
    testFiles: suites[folder].map((file) => `test/${file}.test.ts`),
    nodeArgs: ['--import', 'tsx'],
    forceBail: true
  },
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 30000,
  // Only what the tests load: Stryker's sandbox is a copy of these.
  ignorePatterns: ['dist', 'coverage', '.tap', 'bench/results', 'reports', 'example/**/node_modules'],
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  // A rerun tests again only the mutants whose code or covering tests changed since the last one.
  incremental: true,
  incrementalFile: `reports/mutation/${name}.incremental.json`,
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: 'always'
}
