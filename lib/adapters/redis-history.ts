import type { HistoryEntry, HistoryPolicy, HistoryRead, HistoryStore, StreamPosition } from './adapter'
import type { RedisConnection } from './redis-connections'
import type { RedisKeys } from './redis-keys'
import { LuaScript } from './redis-lua'
import { fromRedis } from './redis-reply'

/*
 * A channel's history is one Redis Stream whose key is named exactly as the topic's pub/sub
 * channel (`keys.topic(topic)`). Keys and channels are apart in Redis, and one name hashes to
 * one slot: on a Redis Cluster the stream lives on the shard of its channel, so the append
 * script may SPUBLISH there, and histories spread over the shards as topics do.
 *
 * Entry IDs are `<epoch>-<offset>`: the epoch is Redis's clock, in microseconds, when the stream
 * was started; the offset counts its appends. Each entry has the payload as published (`p`,
 * without offset and epoch: a receiver stamps them into its frame) and the time it was appended
 * (`t`, Redis's clock in ms), against which `ttl` is measured. The stream's position is the last
 * ID it gave, which Redis keeps even when no entry is left (trimmed, expired, or a stream started
 * by a subscribe). The key expires `positionTtl` after the last append or `position()`; once it is
 * gone (expired, flushed, lost in a restart), the next call starts a new epoch at offset 0.
 *
 * Every step is one script, so that a position, the offset it hands out, the trim and the message
 * published are one atomic change on every node's view.
 */
const FUNCTIONS = `
local function id_of (epoch, offset) return epoch .. '-' .. string.format('%d', offset) end

local function offset_of (id) return tonumber(string.match(id, '%-(%d+)$')) end

-- Redis's clock in ms, from TIME's seconds and microseconds.
local function ms (clock) return tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000) end

local function young (entry, now, ttl) return entry ~= nil and tonumber(entry[2][4]) > now - ttl end

-- The last ID the stream gave: its newest entry's, or, when it keeps none, the one Redis
-- remembers for it. nil when there is no stream.
local function last_id (key)
  local newest = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  if #newest > 0 then return newest[1][1] end
  if redis.call('EXISTS', key) == 0 then return nil end
  local info = redis.call('XINFO', 'STREAM', key)
  for i = 1, #info, 2 do
    if info[i] == 'last-generated-id' then return info[i + 1] end
  end
end

-- The stream's epoch and offset. A channel without a stream gets one, empty, at offset 0 under a
-- new epoch (Redis's clock in microseconds: later than any epoch this key had before), kept for
-- positionTtl: XADD creates it, MAXLEN 0 leaves only its last ID.
local function position (key, clock, position_ttl)
  local id = last_id(key)
  if id then
    local epoch, offset = string.match(id, '^(%d+)%-(%d+)$')
    return epoch, tonumber(offset)
  end
  local epoch = clock[1] .. string.format('%06d', tonumber(clock[2]))
  redis.call('XADD', key, 'MAXLEN', '0', id_of(epoch, 0), 'p', '', 't', '0')
  redis.call('PEXPIRE', key, position_ttl)
  return epoch, 0
end

-- Drops the entries appended ttl ms ago or earlier. They are the oldest (entries are appended
-- in time order), and the offsets kept are contiguous: a binary search over them finds the
-- first one kept in a few lookups, however many expired.
local function drop_expired (key, epoch, offset, now, ttl)
  local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  if oldest == nil or young(oldest, now, ttl) then return end
  -- The entry before low expired; high is kept, or is past the newest.
  local low, high = offset_of(oldest[1]) + 1, offset + 1
  while low < high do
    local mid = math.floor((low + high) / 2)
    local id = id_of(epoch, mid)
    if young(redis.call('XRANGE', key, id, id)[1], now, ttl) then high = mid else low = mid + 1 end
  end
  redis.call('XTRIM', key, 'MINID', id_of(epoch, low))
end

-- Entries as offset, payload, offset, payload…, oldest first (XREVRANGE gives them newest first).
local function flatten (entries, newest_first)
  local out = {}
  for i = 1, #entries do
    local entry = entries[newest_first and #entries + 1 - i or i]
    out[#out + 1] = offset_of(entry[1])
    out[#out + 1] = entry[2][2]
  end
  return out
end
`

// KEYS: the stream. ARGV: positionTtl. The epoch and offset; the stream is kept positionTtl from now.
const POSITION = new LuaScript(FUNCTIONS + `
local epoch, offset = position(KEYS[1], redis.call('TIME'), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return { epoch, offset }
`)

// KEYS: the stream. ARGV: positionTtl, ttl, limit, and, to read after a position, its epoch and
// offset. Returns the epoch, the offset, whether the entries continue that position without a
// gap (1 or 0), and the entries (flattened).
const READ = new LuaScript(FUNCTIONS + `
local clock = redis.call('TIME')
local epoch, offset = position(KEYS[1], clock, ARGV[1])
drop_expired(KEYS[1], epoch, offset, ms(clock), tonumber(ARGV[2]))
if ARGV[4] == nil then
  return { epoch, offset, 1, flatten(redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', ARGV[3]), true) }
end
local after = tonumber(ARGV[5])
if ARGV[4] ~= epoch or after > offset then return { epoch, offset, 0, {} } end
local missed = redis.call('XRANGE', KEYS[1], '(' .. id_of(epoch, after), '+', 'COUNT', ARGV[3])
local complete = after == offset or (#missed > 0 and offset_of(missed[1][1]) == after + 1)
return { epoch, offset, complete and 1 or 0, flatten(missed, false) }
`)

// KEYS: the stream, which is named as the topic's channel. ARGV: size, positionTtl, the publish
// command (PUBLISH, or SPUBLISH on a cluster), the message's header after its place (see
// redis-wire.ts), the payload. Keeps the message at the next offset, trims to size, and
// publishes it with its place, in this one step: every node receives a channel's messages in
// the order of their offsets. Returns the entry ID.
const APPEND = new LuaScript(FUNCTIONS + `
local clock = redis.call('TIME')
local epoch, offset = position(KEYS[1], clock, ARGV[2])
local id = id_of(epoch, offset + 1)
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[1], id, 'p', ARGV[5], 't', string.format('%d', ms(clock)))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call(ARGV[3], KEYS[1], string.len(id) .. ':' .. id .. ARGV[4] .. ARGV[5])
return id
`)

type ReadReply = [epoch: string, offset: number, complete: number, entries: Array<number | string>]

function entriesOf (flat: Array<number | string>): HistoryEntry[] {
  const out: HistoryEntry[] = []
  for (let i = 0; i < flat.length; i += 2) out.push({ offset: Number(flat[i]), payload: String(flat[i + 1]) })
  return out
}

/**
 * The position to read after, as the script takes it. An offset that no stream hands out (not a
 * whole number from 0) is read under an epoch that no stream has: nothing continues it.
 */
function after (position: StreamPosition | undefined): string[] {
  if (position === undefined) return []
  const { epoch, offset } = position
  return Number.isSafeInteger(offset) && offset >= 0 ? [epoch, String(offset)] : ['', '0']
}

/**
 * Channel history in Redis, the same for every node: reads and positions answer from Redis or
 * reject with HAUYNA_STATE_UNAVAILABLE, since no node holds a part of it to answer with.
 */
export class RedisHistoryStore implements HistoryStore {
  private readonly publishCommand: string

  constructor (private readonly redis: RedisConnection, private readonly keys: RedisKeys, sharded: boolean) {
    this.publishCommand = sharded ? 'SPUBLISH' : 'PUBLISH'
  }

  async position (topic: string, policy: HistoryPolicy): Promise<StreamPosition> {
    const [epoch, offset] = await fromRedis(this.redis, () =>
      POSITION.run(this.redis, [this.keys.topic(topic)], [String(policy.positionTtl)])) as [string, number]
    return { offset, epoch }
  }

  async read (topic: string, policy: HistoryPolicy, since: StreamPosition | undefined, limit: number): Promise<HistoryRead> {
    const args = [String(policy.positionTtl), String(policy.ttl), String(limit), ...after(since)]
    const [epoch, offset, complete, entries] = await fromRedis(this.redis, () =>
      READ.run(this.redis, [this.keys.topic(topic)], args)) as ReadReply
    return { offset, epoch, entries: entriesOf(entries), complete: complete === 1 }
  }

  /**
   * Runs the append script on the topic's channel: `header` is the message's header after its
   * place. Resolves to the entry ID the message got; the caller bounds the wait.
   */
  async append (channel: string, header: string, payload: string, policy: HistoryPolicy): Promise<string> {
    const args = [String(policy.size), String(policy.positionTtl), this.publishCommand, header, payload]
    return await APPEND.run(this.redis, [channel], args) as string
  }
}
