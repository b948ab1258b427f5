'use strict'
const { performance } = require('node:perf_hooks')

/**
 * Times every call of the heartbeat monitor's unit of synchronous work (`slice` when it has
 * one, else the whole `sweep`), in wall-clock and CPU time: on a shared machine the process
 * may be descheduled mid-call, which only the wall-clock figure counts. `rounds` and
 * `roundsCpu` add up each round's calls, a round being what one tick of the heartbeat starts.
 * `Monitor` is the HeartbeatMonitor class: lib's for bench/heartbeat-sweep.ts and the stress
 * suite's server, which run from source; the build's for the bench targets.
 */
function timeSweepWork (Monitor) {
  const record = { wall: [], cpu: [], rounds: [], roundsCpu: [] }
  const proto = Monitor.prototype
  const sliced = typeof proto.slice === 'function'
  if (sliced) startRounds(proto, record)
  const name = sliced ? 'slice' : 'sweep'
  const original = proto[name]
  proto[name] = function (...args) {
    const started = performance.now()
    const cpu = process.cpuUsage()
    original.apply(this, args)
    const used = process.cpuUsage(cpu)
    const wall = performance.now() - started
    const cpuMs = (used.user + used.system) / 1000
    record.wall.push(wall)
    record.cpu.push(cpuMs)
    if (!sliced) startRound(record)
    record.rounds[record.rounds.length - 1] += wall
    record.roundsCpu[record.roundsCpu.length - 1] += cpuMs
  }
  return record
}

/** Opens a new round at each tick that starts one (none while the previous one is still going). */
function startRounds (proto, record) {
  const sweep = proto.sweep
  proto.sweep = function (...args) {
    if (this.round === undefined) startRound(record)
    sweep.apply(this, args)
  }
}

function startRound (record) {
  record.rounds.push(0)
  record.roundsCpu.push(0)
}

module.exports = { timeSweepWork }
