// Which pools a Service may draw from, and in what order: MetalLB's rules for namespaces, service-selectors,
// auto-assign and priority, and which pool's usable addresses an IP is among. Pure functions of the config in
// force, used by the allocator's policy (allocator.ts).
import type { AllocationFailure } from './allocation-request.js'
import type { PoolSpaces } from './holdings.js'
import { formatIP, isBuggyIPv4, rangeContains, type IP, type IPFamily } from '../../internal/core/ip.js'
import { selectorMatches, type Pool } from '../../internal/core/pool-config.js'

/** Whether a pool admits a Service of this namespace and these labels. */
export function poolAllows(pool: Pool, namespace: string, labels: Readonly<Record<string, string>>): boolean {
  if (pool.namespaces !== null && !pool.namespaces.includes(namespace)) return false
  if (pool.serviceSelectors === null) return true
  for (const sel of pool.serviceSelectors) if (selectorMatches(sel, labels)) return true
  return false
}

/** Whether a pool is reserved for some namespaces or some Services' labels (MetalLB: has a serviceAllocation). */
export function isRestricted(pool: Pool | undefined): boolean {
  return pool !== undefined && (pool.namespaces !== null || pool.serviceSelectors !== null)
}

/**
 * The auto-assign pools in the order automatic allocation tries them, as MetalLB (v0.13 and later) does:
 * restricted pools (namespaces or service-selectors) before unrestricted ones — so a Service of team-a gets
 * an address from the pool reserved for team-a, not from a general pool listed earlier
 * (internal/allocator/allocator.go, Allocate: pinnedPoolsForService first) — and within each, priority
 * (lower first; unset, which MetalLB writes as 0, last: sortPools), then config order (MetalLB's order among
 * equal priorities is Go map order, i.e. unspecified; l2lb keeps it deterministic).
 */
export function autoOrderOf<T extends { readonly pool: Pool }>(pools: readonly T[]): T[] {
  const rank = pools.map((ps, index) => ({ ps, index }))
  return rank
    .filter(r => r.ps.pool.autoAssign)
    .sort((a, b) => {
      const ra = isRestricted(a.ps.pool)
      if (ra !== isRestricted(b.ps.pool)) return ra ? -1 : 1
      const pa = a.ps.pool.priority
      const pb = b.ps.pool.priority
      if (pa !== pb) return pa === null ? 1 : pb === null ? -1 : pa - pb
      return a.index - b.index
    })
    .map(r => r.ps)
}

/** Whether a pool has addresses of every family (of some family when none is asked for). */
export function serves(ps: PoolSpaces, families: readonly IPFamily[]): boolean {
  if (ps.families.length === 0) return false
  for (const f of families) if (!ps.has(f)) return false
  return true
}

/** Why poolAllows refused (the namespace first). */
export function notAllowedMessage(pool: Pool, namespace: string): string {
  if (pool.namespaces !== null && !pool.namespaces.includes(namespace)) {
    return `pool ${pool.name} is not allowed in namespace ${namespace} (it serves ${pool.namespaces.join(', ')})`
  }
  return `pool ${pool.name} is reserved by service-selectors the Service's labels do not match`
}

/** The pool whose usable addresses include ip. */
export function usablePool(pools: readonly PoolSpaces[], ip: IP): PoolSpaces | null {
  for (const ps of pools) {
    for (const r of ps.pool.ranges) {
      if (rangeContains(r, ip)) return ps.pool.avoidBuggyIPs && ip.family === 'IPv4' && isBuggyIPv4(ip.value) ? null : ps
    }
  }
  return null
}

/** Why an address is not among any pool's usable addresses (usablePool gave null). */
export function outsideFailure(pools: readonly PoolSpaces[], ip: IP): AllocationFailure {
  const text = formatIP(ip)
  for (const ps of pools) {
    if (ps.pool.ranges.some(r => rangeContains(r, ip))) {
      return { kind: 'outsidePools', ip: text, message: `${text} ends in .0 or .255, which pool ${ps.pool.name} avoids (avoid-buggy-ips)` }
    }
  }
  return { kind: 'outsidePools', ip: text, message: `${text} is outside every pool` }
}
