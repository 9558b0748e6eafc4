// Which IPs a node may announce, and on which interfaces: the pools and l2-advertisements of the pool config.
// Without an `l2-advertisements` list every layer-2 pool is advertised from every node on every eligible
// interface (MetalLB <= v0.12: `protocol: layer2` was the advertisement, so nothing surprises a user the way
// MetalLB #1154 did). With one, a pool is announced only by the advertisements naming it (or naming no pool),
// from nodes their node-selectors match, on their interfaces.
// An IP in no pool is never announced: a hand-edited status cannot make a node claim someone else's address.
import { poolOf, selectorMatches, type L2Advertisement, type PoolConfig } from '../../internal/core/pool-config.js'

export interface IPAdvertisement {
  readonly pool: string
  /** The advertisements that apply to the pool; empty when the IP is not advertised at all. */
  readonly rules: readonly L2Advertisement[]
}

const EVERYWHERE: L2Advertisement = { ipAddressPools: [], nodeSelectors: [], interfaces: [] }

export function advertisementOf(ip: string, config: PoolConfig): IPAdvertisement | null {
  const pool = poolOf(ip, config.pools)
  if (!pool) return null
  if (config.l2Advertisements.length === 0) return { pool: pool.name, rules: [EVERYWHERE] }
  const rules = config.l2Advertisements.filter(a => a.ipAddressPools.length === 0 || a.ipAddressPools.includes(pool.name))
  return { pool: pool.name, rules }
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
