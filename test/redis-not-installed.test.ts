import Module from 'node:module'
import t from 'tap'
import { redisAdapter } from '../lib/index'

// ioredis is an optional peer dependency. test/packed-install.test.ts sees the real thing in a
// fresh app without it; here the same answer is checked in this process, where ioredis is
// installed, by making its load fail the way Node fails for a package that is not there.

type Load = (request: string, ...rest: unknown[]) => unknown
const loader = Module as unknown as { _load: Load }

t.test('redisAdapter({ url }) without ioredis throws HAUYNA_REDIS_NOT_INSTALLED with the loader\'s error as cause', async (t) => {
  const load = loader._load
  loader._load = function (this: unknown, request: string, ...rest: unknown[]) {
    if (request === 'ioredis') throw Object.assign(new Error("Cannot find module 'ioredis'"), { code: 'MODULE_NOT_FOUND' })
    return load.call(this, request, ...rest)
  }
  t.teardown(() => { loader._load = load })
  const error = t.throws(() => redisAdapter({ url: 'redis://127.0.0.1:6379' })) as Error & { code: string, statusCode: number, cause: { code: string } }
  t.equal(error.code, 'HAUYNA_REDIS_NOT_INSTALLED')
  t.match(error.message, /npm install ioredis.*Cannot find module 'ioredis'/)
  t.equal(error.cause.code, 'MODULE_NOT_FOUND')
})
