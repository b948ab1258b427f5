// Who the user and `all` topics reach: the connection directory's own sets, read by the bus
// (see lib/pubsub/local-audience.ts). The end-to-end paths (direct messages, broadcasts) are in
// connections.test.ts and events.test.ts; these are the edges a running server rarely takes.
import t from 'tap'
import type { Connection } from '../lib/connection/connection'
import { ConnectionDirectory } from '../lib/directory/connection-directory'
import { audienceOf, deliverToAudience } from '../lib/pubsub/local-audience'
import type { OutgoingFrame } from '../lib/transport/outgoing-frame'

/** What the directory and the fan-out read of a connection, recording what it is written. */
function recipient (id: string, userId: string, open = true): Connection & { written: string[] } {
  const written: string[] = []
  const deliver = (frame: OutgoingFrame): boolean => {
    if (open) written.push(frame.text)
    return open
  }
  return { id, userId, written, deliver } as unknown as Connection & { written: string[] }
}

t.test('the directory says which connection is a user\'s first and which their last', async (t) => {
  const directory = new ConnectionDirectory()
  const a1 = recipient('a1', 'alice')
  const a2 = recipient('a2', 'alice')
  t.equal(directory.add(a1), true, 'alice\'s first connection')
  t.equal(directory.add(a2), false, 'her second')
  t.equal(directory.remove(a1), false, 'one of hers is left')
  t.equal(directory.remove(a1), false, 'a connection removed twice is not her last')
  t.equal(directory.remove(a2), true, 'her last')
  t.equal(directory.remove(a2), false, 'and only once')
  t.equal(directory.userCount, 0)
})

t.test('a user topic reaches the user\'s connections here, `all` every one, other topics none of them', async (t) => {
  const directory = new ConnectionDirectory()
  const [a1, a2, b1] = [recipient('a1', 'alice'), recipient('a2', 'alice'), recipient('b1', 'bob')]
  for (const conn of [a1, a2, b1]) directory.add(conn)
  t.same([...audienceOf(directory, 'user:alice') ?? []], [a1, a2])
  t.same([...audienceOf(directory, 'user:carol') ?? ['unset']], [], 'a user with no connection here: nobody, not the hub')
  t.same([...audienceOf(directory, 'all') ?? []], [a1, a2, b1])
  t.equal(audienceOf(directory, 'channel:room'), undefined, 'a channel is the hub\'s')
  t.equal(audienceOf(directory, 'group:team'), undefined, 'so is a group')
})

t.test('one frame for all, the skipped connection and a closed one left out of the count', async (t) => {
  const [a1, a2, b1] = [recipient('a1', 'alice'), recipient('a2', 'alice', false), recipient('b1', 'bob')]
  t.equal(deliverToAudience([a1, a2, b1], '{"type":"broadcast"}', 'b1'), 1, 'a1 only: a2 is closed, b1 skipped')
  t.same(a1.written, ['{"type":"broadcast"}'])
  t.same(b1.written, [], 'the skipped connection got nothing')
  t.equal(deliverToAudience([a1, b1], '{"type":"broadcast"}', undefined), 2, 'nobody skipped')
})
