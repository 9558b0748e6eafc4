// The results format (docs/reference.md, "Bench results format"), shared by every bench group.

export interface Figure {
  /** Dotted, lower case, group first: `allocator.v4.ops_per_s.assigned_1k`. */
  readonly name: string
  readonly value: number
  readonly unit: string
  /** A figure compared with a baseline carries the baseline measured in the same run... */
  readonly baseline?: { readonly name: string; readonly value: number }
  /** ...and value / baseline. */
  readonly ratio?: number
}

export interface Results {
  readonly machine: string
  readonly at: string
  readonly figures: readonly Figure[]
}

/** What a group module (`bench/<group>.ts`) exports. Keep each group's run bounded (seconds, not minutes). */
export type RunGroup = (log: (line: string) => void) => Promise<readonly Figure[]>

/** A figure with its baseline and the ratio filled in. */
export function compared(name: string, value: number, unit: string, baselineName: string, baselineValue: number): Figure {
  return { name, value, unit, baseline: { name: baselineName, value: baselineValue }, ratio: round(value / baselineValue, 3) }
}

export function round(v: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(v * f) / f
}
