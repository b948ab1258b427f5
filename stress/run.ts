// The stress suite: each scenario starts its own server process(es), attacks them over
// loopback with bounded loops, prints one line of figures, then a summary table with every
// budget's PASS/FAIL. Exit code 1 when a budget failed or a scenario broke.
//   npm run stress -- [--quick] [--only <scenario>]… [--seed <n>]
import { raiseFdLimit } from './processes'
import { withTimeout } from './measure'
import type { Result, Scenario } from './scenario'
import { churn } from './scenarios/churn'
import { flood } from './scenarios/flood'
import { fuzz } from './scenarios/fuzz'
import { heartbeat } from './scenarios/heartbeat'
import { inbox } from './scenarios/inbox'
import { pong } from './scenarios/pong'
import { redisOutage } from './scenarios/redis-outage'
import { slowConsumer } from './scenarios/slow-consumer'

const all: Scenario[] = [fuzz, flood, inbox, pong, slowConsumer, churn, redisOutage, heartbeat]
// A scenario that hangs despite its own bounds is stopped here, so the suite always ends.
const SCENARIO_TIMEOUT_MS = 300_000

function argValues (name: string): string[] {
  return process.argv.flatMap((arg, i) => (arg === name ? [process.argv[i + 1]] : []))
}

const line = (name: string, r: Result): string => `${name}: ${Object.entries(r.figures).map(([k, v]) => `${k} ${v}`).join(', ')}`

function summary (rows: Array<{ name: string, result?: Result, error?: string }>): string {
  const out = ['| scenario | budget | figure | verdict |', '|---|---|---|---|']
  for (const { name, result, error } of rows) {
    if (error !== undefined) out.push(`| ${name} | — | ${error} | ERROR |`)
    else if (result?.budgets.length === 0) out.push(`| ${name} | (figures only) | — | — |`)
    for (const b of result?.budgets ?? []) out.push(`| ${name} | ${b.name} | ${b.value} | ${b.pass ? 'PASS' : 'FAIL'} |`)
  }
  return out.join('\n')
}

async function main (): Promise<void> {
  const quick = process.argv.includes('--quick')
  const only = argValues('--only')
  const seed = Number(argValues('--seed')[0] ?? Date.now() % 2 ** 31)
  const unknown = only.filter((name) => !all.some((s) => s.name === name))
  if (unknown.length > 0) {
    console.error(`--only: unknown scenario ${unknown.join(', ')}; known: ${all.map((s) => s.name).join(', ')}`)
    process.exit(2)
  }
  // The heartbeat scenario holds ~19k client sockets in this process.
  raiseFdLimit(process.pid)
  const scenarios = only.length === 0 ? all : all.filter((s) => only.includes(s.name))
  console.log(`stress suite${quick ? ' (quick)' : ''}, seed ${seed}, Node ${process.version}`)
  const rows: Array<{ name: string, result?: Result, error?: string }> = []
  for (const scenario of scenarios) {
    const started = Date.now()
    try {
      const result = await withTimeout(scenario.run({ quick, seed }), SCENARIO_TIMEOUT_MS, `did not finish within ${SCENARIO_TIMEOUT_MS / 1000} s`)
      console.log(`${line(scenario.name, result)} (${((Date.now() - started) / 1000).toFixed(0)} s)`)
      for (const note of result.notes ?? []) console.log(`  ${note}`)
      for (const b of result.budgets) console.log(`  ${b.pass ? 'PASS' : 'FAIL'} ${b.name}: ${b.value}`)
      rows.push({ name: scenario.name, result })
    } catch (error) {
      console.log(`${scenario.name}: ERROR ${(error as Error).stack ?? String(error)}`)
      rows.push({ name: scenario.name, error: (error as Error).message })
    }
  }
  console.log(`\n${summary(rows)}`)
  const failed = rows.some((r) => r.error !== undefined || r.result?.budgets.some((b) => !b.pass))
  // Open handles of a broken scenario must not keep the suite alive.
  process.exit(failed ? 1 : 0)
}

void main()
