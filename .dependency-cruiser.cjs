// The layer rule of lib/: a file imports its own folder and the layers below it, never
// above; `import type` counts; no cycle anywhere. `npm run lint:deps` checks it in `npm test`,
// and docs/ARCHITECTURE.md explains the layers and the ports between them.
'use strict'

/** Low to high. Folders on one line share a layer and do not import each other. */
const layers = [
  ['errors', ['errors\\.ts$']],
  ['protocol', ['protocol/', 'util/', 'observe/']],
  ['transport', ['transport/']],
  ['adapters', ['adapters/']],
  ['connection', ['connection/']],
  ['pubsub', ['pubsub/', 'directory/']],
  ['services', ['services/']],
  ['session', ['session/']],
  ['config', ['config/']],
  ['composition', ['composition/']],
  ['reports', ['stats/', 'metrics/', 'asyncapi/']],
  ['routes', ['routes/']],
  ['plugin', ['plugin\\.ts$']],
  ['index', ['index\\.ts$']]
]

const pathsOf = (folders) => `^lib/(${folders.join('|')})`
const everyLayer = pathsOf(layers.flatMap(([, folders]) => folders))

const upward = layers.slice(0, -1).map(([name, folders], i) => ({
  name: `layer-${name}`,
  comment: `${name} imports only lower layers`,
  severity: 'error',
  from: { path: pathsOf(folders) },
  to: { path: pathsOf(layers.slice(i + 1).flatMap(([, higher]) => higher)) }
}))

const peersApart = layers.filter(([, folders]) => folders.length > 1).map(([name, folders]) => ({
  name: `peers-apart-${name}`,
  comment: 'folders that share a layer do not import each other',
  severity: 'error',
  from: { path: `^lib/(${folders.join('|')})` },
  to: { path: `^lib/(${folders.join('|')})`, pathNot: '^lib/$1' }
}))

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycle, type imports included', from: {}, to: { circular: true } },
    ...upward,
    ...peersApart,
    {
      name: 'in-a-layer',
      comment: 'every file of lib/ belongs to a layer (or is the client SDK)',
      severity: 'error',
      from: { path: '^lib/', pathNot: [everyLayer, '^lib/client/'] },
      to: {}
    },
    {
      name: 'to-a-layer',
      comment: 'nothing imports a file that is in no layer',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/client/' },
      to: { path: '^lib/', pathNot: [everyLayer, '^lib/client/'] }
    },
    {
      name: 'services-no-siblings',
      comment: 'a service takes what it needs from its deps, not from a sibling service',
      severity: 'error',
      from: { path: '^lib/services/' },
      // Allowed: the ports, the shared value types, and the parts the channels service owns
      // (its policy table, which the composition root also reads, and its registry).
      to: { path: '^lib/services/', pathNot: '^lib/services/(ports|types|send-options|policies|history-policy|channel-registry)\\.ts$' }
    },
    {
      name: 'client-apart',
      comment: 'the SDK runs in browsers: it shares only the protocol with the server',
      severity: 'error',
      from: { path: '^lib/client/' },
      to: { path: '^lib/', pathNot: '^lib/(client|protocol)/' }
    },
    {
      name: 'nothing-into-client',
      severity: 'error',
      from: { path: '^lib/', pathNot: '^lib/client/' },
      to: { path: '^lib/client/' }
    },
    { name: 'resolvable', severity: 'error', from: {}, to: { couldNotResolve: true } }
  ],
  options: {
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    includeOnly: '^(lib|types)/',
    exclude: { path: '^types/test/' },
    doNotFollow: { path: 'node_modules' }
  }
}
