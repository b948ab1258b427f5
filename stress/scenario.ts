// What every scenario returns: its figures (one printed line) and the budgets it judges.

export interface Mode {
  quick: boolean
  /** fast-check seed of the fuzz scenario, printed so that a failure can be replayed. */
  seed: number
}

export interface Budget {
  name: string
  pass: boolean
  /** The figure that was judged, as printed. */
  value: string
}

export interface Result {
  figures: Record<string, string | number>
  budgets: Budget[]
  /** Extra lines printed under the figures (e.g. the first mismatches seen). */
  notes?: string[]
}

export interface Scenario {
  name: string
  run (mode: Mode): Promise<Result>
}

export const budget = (name: string, pass: boolean, value: string | number): Budget => ({ name, pass, value: String(value) })
