// Which IPs a node may announce, and on which interfaces: the pools and l2-advertisements of the pool config.
// Without an `l2-advertisements` list every layer-2 pool is advertised from every node on every eligible
// interface (MetalLB <= v0.12: `protocol: layer2` was the advertisement, so nothing surprises a user the way
// MetalLB #1154 did). With one, a pool is announced only by the advertisements naming it (or naming no pool),
// from nodes their node-selectors match, on their interfaces.
// An IP in no pool is never announced: a hand-edited status cannot make a node claim someone else's address.
import { ipOf, type CanonicalIP, type IPFamily } from '../../internal/core/ip.js'
import { selectorMatches, type L2Advertisement, type PoolConfig } from '../../internal/core/pool-config.js'

export interface IPAdvertisement {
  readonly pool: string
  /** The advertisements that apply to the pool; empty when the IP is not advertised at all. */
  readonly rules: readonly L2Advertisement[]
}

const EVERYWHERE: L2Advertisement = { ipAddressPools: [], nodeSelectors: [], interfaces: [] }

/**
 * What a speaker keeps of a pool config: for each family the ranges sorted by start with their pool's name
 * (pools never overlap: the parser refuses that), so finding an IP's pool is a binary search, and the
 * l2-advertisements. The largest valid config has 55,000 ranges: a scan per IP on every change would cost
 * seconds, and this is all that crosses from the parsing thread (config-parser.ts).
 */
export interface PoolIndex {
  readonly l2Advertisements: readonly L2Advertisement[]
  readonly byFamily: ReadonlyMap<IPFamily, { readonly starts: readonly bigint[]; readonly ends: readonly bigint[]; readonly pools: readonly string[] }>
}

export function indexPools(config: PoolConfig): PoolIndex {
  const entries = new Map<IPFamily, { start: bigint; end: bigint; pool: string }[]>()
  for (const pool of config.pools) {
    for (const r of pool.ranges) {
      const list = entries.get(r.family) ?? []
      list.push({ start: r.start, end: r.end, pool: pool.name })
      entries.set(r.family, list)
    }
  }
  const byFamily = new Map<IPFamily, { starts: bigint[]; ends: bigint[]; pools: string[] }>()
  for (const [family, list] of entries) {
    list.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    byFamily.set(family, { starts: list.map(e => e.start), ends: list.map(e => e.end), pools: list.map(e => e.pool) })
  }
  return { l2Advertisements: config.l2Advertisements, byFamily }
}

/** The name of the pool holding ip, or null. */
export function poolOf(ip: CanonicalIP, index: PoolIndex): string | null {
  const { family, value: v } = ipOf(ip)
  const f = index.byFamily.get(family)
  if (!f) return null
  // The last range starting at or before v.
  let lo = 0
  let hi = f.starts.length - 1
  let at = -1
  while (lo <= hi) {
    const mid = (lo + hi) >> 1
    if ((f.starts[mid] ?? 0n) <= v) { at = mid; lo = mid + 1 } else hi = mid - 1
  }
  return at >= 0 && v <= (f.ends[at] ?? -1n) ? (f.pools[at] ?? null) : null
}

export function advertisementOf(ip: CanonicalIP, index: PoolIndex): IPAdvertisement | null {
  const pool = poolOf(ip, index)
  if (pool === null) return null
  if (index.l2Advertisements.length === 0) return { pool, rules: [EVERYWHERE] }
  const rules = index.l2Advertisements.filter(a => a.ipAddressPools.length === 0 || a.ipAddressPools.includes(pool))
  return { pool, rules }
}

function ruleAllowsNode(rule: L2Advertisement, labels: Readonly<Record<string, string>>): boolean {
  return rule.nodeSelectors.length === 0 || rule.nodeSelectors.some(s => selectorMatches(s, labels))
}

export function nodeMayAnnounce(adv: IPAdvertisement, labels: Readonly<Record<string, string>>): boolean {
  return adv.rules.some(r => ruleAllowsNode(r, labels))
}

/** The interfaces a node announces the IP on; null means every eligible interface. */
export function interfacesFor(adv: IPAdvertisement, labels: Readonly<Record<string, string>>): ReadonlySet<string> | null {
  const names = new Set<string>()
  for (const r of adv.rules) {
    if (!ruleAllowsNode(r, labels)) continue
    if (r.interfaces.length === 0) return null
    for (const i of r.interfaces) names.add(i)
  }
  return names
}
