// The frames every connection gets as it opens are written by template (lib/protocol/frames.ts
// `frameJson`): the text must be exactly what JSON.stringify writes for the same frame, for
// every value a frame can carry, including names that need escaping.
import t from 'tap'
import { frameJson, frames } from '../lib/protocol/frames'
import type { PresenceSummary } from '../lib/protocol/schemas'

// Names as the protocol allows them (no control characters) and what JSON must escape anyway.
const names = ['alice', 'é', 'a"b', 'back\\slash', '</script>', '€ 𝄞', 'line\u2028sep', 'x'.repeat(200)]
const refs = [undefined, 'r-1', 'quote"ref', 0, 42, -1.5]
const presences: Array<Record<string, PresenceSummary> | undefined> = [undefined, {}, { alice: { status: 'online', meta: { seat: 'a"1' }, connections: 2 } }]
const streams = [{}, { recovered: false }, { offset: 0, epoch: 'e"1', recovered: true }, { offset: 12345, epoch: 'ab' }]

t.test('connected: the template writes what JSON.stringify writes', async (t) => {
  let checked = 0
  for (const userId of names) {
    for (const resume of [undefined, 'dG9rZW4tXw']) {
      for (const heartbeat of [{ interval: 30000, timeout: 10000 }, { interval: 0, timeout: 1 }]) {
        const frame = frames.connected('7c9e6679-7425-40de-944b-e07fc1f90ae7', userId, heartbeat, resume)
        // Named by its escaped form: a raw U+2028 in an assertion's name would break the TAP line.
        t.equal(frameJson.connected(frame), JSON.stringify(frame), `user ${encodeURIComponent(userId)}, resume ${String(resume)}`)
        checked++
      }
    }
  }
  t.equal(checked, names.length * 4)
})

t.test('subscribed: the template writes what JSON.stringify writes', async (t) => {
  for (const channel of names) {
    for (const ref of refs) {
      for (const presence of presences) {
        for (const stream of streams) {
          const frame = frames.subscribed(channel, ref, presence, stream)
          const text = frameJson.subscribed(frame)
          if (text !== JSON.stringify(frame)) t.fail(`differs for ${JSON.stringify({ channel, ref, presence, stream })}: ${text}`)
        }
      }
    }
  }
  t.pass(`${names.length * refs.length * presences.length * streams.length} frames compared`)
  t.equal(frameJson.subscribed(frames.subscribed('room', undefined, undefined)), '{"type":"subscribed","channel":"room"}', 'absent members are left out')
})
