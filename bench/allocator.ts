// Allocate+release pairs per second with 1 thousand, 100 thousand and 1 million IPs assigned, in an IPv4 /8
// and an IPv6 /64 pool (issue 3). Goals: >= 500k pairs/s at 1k, and per-pair time at 1M <= 2x that at 1k.
//
// The assigned IPs are fragmented — every other address is held, so the free space is ~N single-address
// gaps, the allocator's worst shape — and they stay assigned throughout.
// - The goal figures (`ops_per_s`): each pair assigns a Service that holds nothing and releases it — a
//   Service created and deleted while N others hold addresses. Each pair is a different Service (a ring of
//   65536 names), and gets the lowest free address. It goes through every structure that holds the N: the
//   Service index and the address entries (N each), the gap tree (depth log N). So the figures show
//   whether the cost of an allocation grows with what is already allocated (issue 3, item 4): anything
//   linear in N shows up here at once — this pattern is what exposed V8's Map slowing down on a key that
//   comes and goes (12.5k pairs/s at 100k assigned, lazy-delete-map.ts). What it does not measure is
//   the price of memory no cache holds: the lowest free address and its neighbourhood stay cached.
// - `random_ops_per_s`: each pair releases a random one of the N held Services and assigns it again (the
//   figure session 1 reported as ops_per_s). At 1M every pair lands on state no cache holds, so it mostly
//   measures the memory system, and the same run measures a baseline for it: a plain Map's
//   get+delete+set on the same keys in the same order.
//
// Each (family, size) is measured in fresh processes (bench/lib/allocator-child.ts) that first run both
// families' code paths on a small pool: what one measurement leaves behind — a grown heap, code specialised
// for one family — weighs on no other, and no measurement runs on code that has seen only one family.
// Identical processes still differ by up to 1.7x (V8 compiles concurrently, and what it inlines varies from
// run to run), so each figure is the median of three processes.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Agent } from '../test/lib/json-agent.js'
import { percentile } from './lib/datapath-parse.js'
import { compared, round, type Figure, type RunGroup } from './lib/figures.js'
import type { Measured } from './lib/allocator-measure.js'

const FAMILIES_RUN = [['v4', 'IPv4'], ['v6', 'IPv6']] as const
const SIZES: readonly [string, number][] = [['1k', 1_000], ['100k', 100_000], ['1m', 1_000_000]]
/** Sizes that also get the random-release figures. */
const RANDOM_SIZES = new Set(['1k', '1m'])
/** Processes per figure; the figure is their median. */
const PROCESSES = 3
/** One measurement's ceiling (setup of a million Services included). */
const CHILD_TIMEOUT_MS = 120_000

const childPath = fileURLToPath(new URL('./lib/allocator-child.ts', import.meta.url))

async function measureInChild(family: string, assigned: number, random: boolean, log: (l: string) => void): Promise<Measured> {
  // --expose-gc: the child collects the setup's garbage before timing, without changing V8 flags at run time.
  const child = new Agent(spawn(process.execPath, ['--expose-gc', '--import', 'tsx', childPath, family, String(assigned), random ? 'random' : 'goal']))
  try {
    const done = await child.next('result', CHILD_TIMEOUT_MS)
    for (const l of child.all('log')) log(String(l.line))
    const num = (v: unknown): number | null => (typeof v === 'number' ? v : null)
    const pairs = num(done.pairs)
    if (pairs === null) throw new Error(`allocator bench child: no pair rate in ${JSON.stringify(done)}`)
    return { pairs, random: num(done.random), randomMapBaseline: num(done.randomMapBaseline) }
  } finally {
    child.end()
    await child.exited()
  }
}

/** The middle value (nearest-rank p50, as every latency figure of the bench is taken). */
function median(values: readonly number[]): number {
  return percentile([...values].sort((x, y) => x - y), 50)
}

/** The median of each figure over PROCESSES fresh processes. */
async function measureMedian(family: string, assigned: number, random: boolean, log: (l: string) => void): Promise<Measured> {
  const runs: Measured[] = []
  for (let i = 0; i < PROCESSES; i++) runs.push(await measureInChild(family, assigned, random, log))
  const of = (pick: (m: Measured) => number | null): number | null => {
    const values = runs.map(pick).filter((v): v is number => v !== null)
    return values.length === 0 ? null : median(values)
  }
  const pairs = median(runs.map(m => m.pairs))
  log(`${family} assigned ${assigned}: median of ${PROCESSES} processes ${Math.round(pairs)} pairs/s (${runs.map(m => Math.round(m.pairs)).join(', ')})`)
  return { pairs, random: of(m => m.random), randomMapBaseline: of(m => m.randomMapBaseline) }
}

export const run: RunGroup = async log => {
  const figures: Figure[] = []
  const rates = new Map<string, Measured>()
  for (const [label, n] of SIZES) {
    for (const [tag, family] of FAMILIES_RUN) {
      const m = await measureMedian(family, n, RANDOM_SIZES.has(label), log)
      rates.set(`${tag}.${label}`, m)
      figures.push({ name: `allocator.${tag}.ops_per_s.assigned_${label}`, value: Math.round(m.pairs), unit: 'ops/s' })
      if (m.random !== null && m.randomMapBaseline !== null) {
        const name = `allocator.${tag}.random_ops_per_s.assigned_${label}`
        figures.push(compared(name, Math.round(m.random), 'ops/s', `plain Map get+delete+set, ${label} keys`, Math.round(m.randomMapBaseline)))
      }
    }
  }
  for (const [tag] of FAMILIES_RUN) {
    const small = rates.get(`${tag}.1k`)
    const big = rates.get(`${tag}.1m`)
    if (small === undefined || big === undefined) continue
    figures.push({ name: `allocator.${tag}.slowdown_1m_vs_1k`, value: round(small.pairs / big.pairs, 2), unit: 'x' })
    if (small.random !== null && big.random !== null) {
      figures.push({ name: `allocator.${tag}.random_slowdown_1m_vs_1k`, value: round(small.random / big.random, 2), unit: 'x' })
    }
  }
  return figures
}
