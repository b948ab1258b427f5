// The package ships no typings; this covers what the tests read.
declare module 'parse-prometheus-text-format' {
  namespace parsePrometheusTextFormat {
    interface Sample {
      value?: string
      labels?: Record<string, string>
      buckets?: Record<string, string>
      count?: string
      sum?: string
    }
    interface Family {
      name: string
      help: string
      /** COUNTER, GAUGE, HISTOGRAM, SUMMARY or UNTYPED */
      type: string
      metrics: Sample[]
    }
  }
  /** Throws on a line that is not valid Prometheus text format. */
  function parsePrometheusTextFormat (text: string): parsePrometheusTextFormat.Family[]
  export = parsePrometheusTextFormat
}
