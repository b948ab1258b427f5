'use strict'
const { performance } = require('node:perf_hooks')

/**
 * Times every call of the heartbeat monitor's unit of synchronous work (`slice` when it has
 * one, else the whole `sweep`), in wall-clock and CPU time: on a shared machine the process
 * may be descheduled mid-call, which only the wall-clock figure counts. `rounds` adds up the
 * wall-clock time of each round's calls, a round being what one tick of the heartbeat starts.
 * `Monitor` is the HeartbeatMonitor class: lib's for bench/heartbeat-sweep.ts and the stress
 * suite's server, which run from source; the build's for the bench targets.
 */
function timeSweepWork (Monitor) {
  const record = { wall: [], cpu: [], rounds: [] }
  const proto = Monitor.prototype
  const sliced = typeof proto.slice === 'function'
  if (sliced) startRounds(proto, record.rounds)
  const name = sliced ? 'slice' : 'sweep'
  const original = proto[name]
  proto[name] = function (...args) {
    const started = performance.now()
    const cpu = process.cpuUsage()
    original.apply(this, args)
    const used = process.cpuUsage(cpu)
    const wall = performance.now() - started
    record.wall.push(wall)
    record.cpu.push((used.user + used.system) / 1000)
    if (sliced) record.rounds[record.rounds.length - 1] += wall
    else record.rounds.push(wall)
  }
  return record
}

/** Opens a new entry of `rounds` at each tick that starts a round (none while one is still going). */
function startRounds (proto, rounds) {
  const sweep = proto.sweep
  proto.sweep = function (...args) {
    if (this.round === undefined) rounds.push(0)
    sweep.apply(this, args)
  }
}

module.exports = { timeSweepWork }
