/** One exported sample, in the shape prom-client's registry reads from its own metrics. */
interface Sample {
  metricName: string
  labels: Record<string, string | number>
  value: number
}

/** The observations of one label value: bucket counts in a typed array, nothing allocated per observation. */
export class HistogramSeries {
  readonly counts: Float64Array
  sum = 0
  count = 0

  constructor (private readonly bounds: readonly number[]) {
    this.counts = new Float64Array(bounds.length)
  }

  observe (value: number): void {
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > bounds[i]) i++
    if (i < bounds.length) this.counts[i]++
    this.sum += value
    this.count++
  }
}

/**
 * A Prometheus histogram with one label whose values are all known up front. prom-client's
 * Histogram hashes and validates a labels object on every observation (a few µs, paid per
 * message); here a caller holds its series and observing is a short loop. The registry reads
 * it through `get()`, the method it reads its own metrics with.
 */
export class FixedHistogram<V extends string> {
  readonly type = 'histogram'
  readonly aggregator = 'sum'
  private readonly series = new Map<V, HistogramSeries>()

  constructor (
    readonly name: string,
    readonly help: string,
    private readonly label: string,
    values: readonly V[],
    private readonly bounds: readonly number[]
  ) {
    for (const value of values) this.series.set(value, new HistogramSeries(bounds))
  }

  /** The series of one label value, to observe into. */
  of (value: V): HistogramSeries {
    return this.series.get(value) as HistogramSeries
  }

  async get (): Promise<{ name: string, help: string, type: 'histogram', aggregator: 'sum', values: Sample[] }> {
    const values: Sample[] = []
    for (const [value, series] of this.series) values.push(...this.exported(value, series))
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values }
  }

  reset (): void {
    for (const value of this.series.keys()) this.series.set(value, new HistogramSeries(this.bounds))
  }

  /** Cumulative buckets, `+Inf`, sum and count, as Prometheus expects them. */
  private exported (value: V, series: HistogramSeries): Sample[] {
    const labels = { [this.label]: value }
    const bucket = `${this.name}_bucket`
    let cumulative = 0
    const out: Sample[] = this.bounds.map((le, i) => {
      cumulative += series.counts[i]
      return { metricName: bucket, labels: { ...labels, le }, value: cumulative }
    })
    out.push(
      { metricName: bucket, labels: { ...labels, le: '+Inf' }, value: series.count },
      { metricName: `${this.name}_sum`, labels, value: series.sum },
      { metricName: `${this.name}_count`, labels, value: series.count }
    )
    return out
  }
}
