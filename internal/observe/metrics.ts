// A small Prometheus registry: created by each program's main, never at import (no global state).
// Values may be bigint because pool capacities do not fit a double exactly (an IPv6 /64 has 2^64 addresses;
// MetalLB's float gauge saturated, MetalLB PR #3140).
type Labels = Readonly<Record<string, string>>
type Value = number | bigint

interface Family {
  readonly name: string
  readonly help: string
  readonly type: 'gauge' | 'counter'
  readonly series: Map<string, { labels: Labels; value: Value }>
}

function labelKey(labels: Labels): string {
  return Object.keys(labels).sort().map(k => `${k}=${labels[k]}`).join(',')
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

export class MetricFamily {
  readonly #f: Family
  constructor(f: Family) {
    this.#f = f
  }
  set(labels: Labels, value: Value): void {
    this.#f.series.set(labelKey(labels), { labels, value })
  }
  inc(labels: Labels = {}, by: number = 1): void {
    const k = labelKey(labels)
    const cur = this.#f.series.get(k)
    const value = cur === undefined ? by : typeof cur.value === 'bigint' ? cur.value + BigInt(by) : cur.value + by
    this.#f.series.set(k, { labels, value })
  }
  get(labels: Labels = {}): Value | undefined {
    return this.#f.series.get(labelKey(labels))?.value
  }
  /** Drops every series whose labels match all the given ones (e.g. a pool that left the config). */
  remove(match: Labels): void {
    for (const [k, s] of this.#f.series) {
      if (Object.entries(match).every(([mk, mv]) => s.labels[mk] === mv)) this.#f.series.delete(k)
    }
  }
  clear(): void {
    this.#f.series.clear()
  }
}

export class MetricsRegistry {
  readonly #families = new Map<string, Family>()

  #family(name: string, help: string, type: Family['type']): MetricFamily {
    let f = this.#families.get(name)
    if (!f) {
      f = { name, help, type, series: new Map() }
      this.#families.set(name, f)
    }
    return new MetricFamily(f)
  }

  gauge(name: string, help: string): MetricFamily {
    return this.#family(name, help, 'gauge')
  }

  counter(name: string, help: string): MetricFamily {
    return this.#family(name, help, 'counter')
  }

  /** Prometheus text exposition format 0.0.4. */
  render(): string {
    const out: string[] = []
    for (const f of this.#families.values()) {
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`)
      for (const s of f.series.values()) {
        const ls = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',')
        out.push(`${f.name}${ls ? `{${ls}}` : ''} ${s.value.toString()}`)
      }
    }
    return out.join('\n') + '\n'
  }
}
