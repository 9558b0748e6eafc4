// The allocator: pools, and who holds which IP. Pure and synchronous; the controller owns one instance.
//
// Promises (issue 3): an IP is never held by two Services unless the sharing rules allow it; an assignment
// that stays valid is never moved (not by a pool edit, not by a restart, not by an unrelated Service change);
// the cost of one allocation or release is O(log n) in the assigned IPs and independent of pool size
// (AddressSpace keeps free gaps, never free addresses); capacity and usage are exact bigints (MetalLB PR #3140).
import type { AllocationFailure, AllocationRequest } from './allocation-request.js'
import { AddressSpace, type Chunk } from './address-space.js'
import { LazyDeleteMap } from './lazy-delete-map.js'
import { formatIP, isBuggyIPv4, rangeContains, type IP, type IPFamily } from '../../internal/core/ip.js'
import { selectorMatches, type Pool, type PoolConfig } from '../../internal/core/pool-config.js'
import { sharingConflict, type SharingInfo } from './sharing.js'

export interface Assignment {
  readonly key: string
  readonly pool: string
  /** In the Service's family order. */
  readonly ips: readonly IP[]
  /** The same, as canonical text. */
  readonly texts: readonly string[]
}

export type AssignResult =
  | { readonly ok: true; readonly assignment: Assignment; readonly changed: boolean }
  | { readonly ok: false; readonly failure: AllocationFailure }

export interface FamilyUsage {
  readonly capacity: bigint
  readonly inUse: bigint
}

export interface PoolUsage {
  readonly pool: string
  /** Both families together. */
  readonly capacity: bigint
  readonly inUse: bigint
  /** Per family, zero for a family the pool has no addresses of (as MetalLB's ipv4_/ipv6_ gauges, stats.go). */
  readonly byFamily: Readonly<Record<IPFamily, FamilyUsage>>
}

/** An assignment the allocator dropped (its IP left the config, or it lost a restore conflict). */
export interface ClearedAssignment {
  readonly key: string
  /** The addresses taken from the Service. */
  readonly ips: readonly string[]
  /** Those it keeps (a dual-stack pair that lost one family); empty when it lost everything. */
  readonly kept: readonly string[]
  readonly message: string
}

// Layout matters at a million assignments: every pointer followed is a likely cache miss and every object
// is work for the collector. A Held points straight at its IP entries (release needs no map lookup to find
// them), an entry is itself the IP and knows where its address space filed it, and arrays are created at
// their final size. The bigint value and the text are made on first use: the allocator itself works on
// chunk offsets, and making an IPv6 bigint or its text cost more than the rest of an allocation.
class Held implements Assignment {
  /** The entries themselves, in family order. */
  ips: readonly IPEntry[] = NO_ENTRIES
  private textCache: readonly string[] | null = null
  constructor(
    readonly key: string,
    readonly pool: string,
    readonly namespace: string,
    readonly labels: Readonly<Record<string, string>>,
    public sharing: SharingInfo,
  ) {}

  get texts(): readonly string[] {
    if (this.textCache === null) {
      const a = this.ips[0]
      const b = this.ips[1]
      this.textCache = a === undefined ? [] : b === undefined ? [a.text] : [a.text, b.text]
    }
    return this.textCache
  }
}

class IPEntry implements IP {
  private valueCache: bigint | null = null
  private textCache: string | null = null
  constructor(
    readonly family: IPFamily,
    readonly pool: string,
    readonly space: AddressSpace<IPEntry>,
    /** Where the space filed the address: release gives it back there. */
    readonly chunk: Chunk<IPEntry>,
    readonly offset: number,
    /** Usually one; several only when they share the IP. An array: cheaper than a Map at these sizes. */
    readonly holders: Held[],
  ) {}

  get value(): bigint {
    this.valueCache ??= this.space.valueAt(this.chunk, this.offset)
    return this.valueCache
  }

  get text(): string {
    this.textCache ??= formatIP(this)
    return this.textCache
  }
}

const NO_ENTRIES: readonly IPEntry[] = []

/** The lowest free address of a space as pick() found it: still the lowest while the space's stamp is unchanged. */
class FreeIP implements IP {
  constructor(
    readonly family: IPFamily,
    readonly space: AddressSpace<IPEntry>,
    readonly chunk: Chunk<IPEntry>,
    readonly offset: number,
    readonly stamp: number,
  ) {}

  get value(): bigint {
    return this.space.valueAt(this.chunk, this.offset)
  }
}

interface PoolState {
  readonly pool: Pool
  readonly index: number
  readonly spaces: ReadonlyMap<IPFamily, AddressSpace<IPEntry>>
}

// The hot paths below use plain loops and no closures: besides the allocations, tsx (esbuild keepNames)
// wraps every function created at run time in a __name() call, which showed up first in profiles.

function familyRank(f: IPFamily, families: readonly IPFamily[]): number {
  const i = families.indexOf(f)
  return i < 0 ? (f === 'IPv4' ? 2 : 3) : i
}

/** The IPs in the Service's family order (at most two of them). */
function familyOrder(ips: readonly IP[], families: readonly IPFamily[]): readonly IP[] {
  const a = ips[0]
  const b = ips[1]
  if (a === undefined || b === undefined) return ips
  return familyRank(b.family, families) < familyRank(a.family, families) ? [b, a] : [a, b]
}

function poolAllows(pool: Pool, namespace: string, labels: Readonly<Record<string, string>>): boolean {
  if (pool.namespaces !== null && !pool.namespaces.includes(namespace)) return false
  if (pool.serviceSelectors === null) return true
  for (const sel of pool.serviceSelectors) if (selectorMatches(sel, labels)) return true
  return false
}

/** Whether a pool is reserved for some namespaces or some Services' labels (MetalLB: has a serviceAllocation). */
function isRestricted(pool: Pool | undefined): boolean {
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

function sameSet(a: readonly IP[], b: readonly IP[]): boolean {
  if (a.length !== b.length) return false
  for (const x of a) {
    let found = false
    for (const y of b) if (y.family === x.family && y.value === x.value) found = true
    if (!found) return false
  }
  return true
}

/** Whether a pool has addresses of every family (of some family when none is asked for). */
function serves(ps: PoolState, families: readonly IPFamily[]): boolean {
  if (ps.spaces.size === 0) return false
  for (const f of families) if (!ps.spaces.has(f)) return false
  return true
}

function hasFamily(ips: readonly IP[], f: IPFamily): boolean {
  for (const ip of ips) if (ip.family === f) return true
  return false
}

function notAllowedMessage(pool: Pool, namespace: string): string {
  if (pool.namespaces !== null && !pool.namespaces.includes(namespace)) {
    return `pool ${pool.name} is not allowed in namespace ${namespace} (it serves ${pool.namespaces.join(', ')})`
  }
  return `pool ${pool.name} is reserved by service-selectors the Service's labels do not match`
}

function sameSharing(a: SharingInfo, b: SharingInfo): boolean {
  if (a.sharingKey !== b.sharingKey || a.backendKey !== b.backendKey || a.ports.length !== b.ports.length) return false
  return a.ports.every((p, i) => p.protocol === b.ports[i]?.protocol && p.port === b.ports[i]?.port)
}

export class Allocator {
  private config: PoolConfig | null = null
  private pools = new Map<string, PoolState>()
  private poolList: PoolState[] = []
  /**
   * auto-assign pools in the order they are tried: pools restricted by `namespaces` or `service-selectors`
   * before unrestricted ones, then priority (lower first, unset last), then config order (autoOrderOf).
   */
  private autoOrder: PoolState[] = []
  // Not plain Maps: the same Service key (and sharing key) comes and goes over and over, and V8's Map slows
  // down on exactly that (lazy-delete-map.ts). Who holds an IP is filed in its pool's AddressSpace, keyed by
  // chunk offset.
  private readonly byKey = new LazyDeleteMap<string, Held>()
  /** sharing key -> IPs held under it, to find a shareable IP without scanning (a fresh entry per take). */
  private readonly shared = new LazyDeleteMap<string, Set<IPEntry>>()
  private freed = 0
  private restored = false

  hasConfig(): boolean {
    return this.config !== null
  }

  currentConfig(): PoolConfig | null {
    return this.config
  }

  assignment(key: string): Assignment | null {
    return this.byKey.get(key) ?? null
  }

  assignments(): IterableIterator<Assignment> {
    return this.byKey.values()
  }

  /** Service keys holding an IP (more than one only when they share it). */
  holders(ip: IP): readonly string[] {
    const e = this.entryOf(ip)
    return e === undefined ? [] : e.holders.map(h => h.key)
  }

  usage(): PoolUsage[] {
    return [...this.pools.values()].map(ps => {
      const of = (f: IPFamily): FamilyUsage => {
        const s = ps.spaces.get(f)
        return s === undefined ? { capacity: 0n, inUse: 0n } : { capacity: s.capacity, inUse: s.inUse }
      }
      const byFamily = { IPv4: of('IPv4'), IPv6: of('IPv6') }
      return {
        pool: ps.pool.name,
        capacity: byFamily.IPv4.capacity + byFamily.IPv6.capacity,
        inUse: byFamily.IPv4.inUse + byFamily.IPv6.inUse,
        byFamily,
      }
    })
  }

  /** Whether existing assignments have been claimed back (restore ran under a config). */
  isRestored(): boolean {
    return this.restored
  }

  /**
   * How many times an address has opened up: gone back to free, or become shareable in a new way (its holder's
   * sharing key, ports or backends changed). A change tells the caller that waiting Services may now fit.
   */
  freedCount(): number {
    return this.freed
  }

  /** The entry of a held IP (pools never overlap: at most one space files it). */
  private entryOf(ip: IP): IPEntry | undefined {
    // An entry of a current assignment (keeping one checks its own IPs on every pass): no search.
    if (ip instanceof IPEntry && ip.chunk.entries.get(ip.offset) === ip && this.pools.get(ip.pool)?.spaces.get(ip.family) === ip.space) {
      return ip
    }
    for (const ps of this.poolList) {
      const e = ps.spaces.get(ip.family)?.entryOf(ip.value)
      if (e !== undefined) return e
    }
    return undefined
  }

  /** The pool whose usable addresses include ip. */
  private usablePool(ip: IP): PoolState | null {
    for (const ps of this.poolList) {
      for (const r of ps.pool.ranges) {
        if (rangeContains(r, ip)) return ps.pool.avoidBuggyIPs && ip.family === 'IPv4' && isBuggyIPv4(ip.value) ? null : ps
      }
    }
    return null
  }

  private outside(ip: IP): AllocationFailure {
    const text = formatIP(ip)
    for (const ps of this.pools.values()) {
      if (ps.pool.ranges.some(r => rangeContains(r, ip))) {
        return { kind: 'outsidePools', ip: text, message: `${text} ends in .0 or .255, which pool ${ps.pool.name} avoids (avoid-buggy-ips)` }
      }
    }
    return { kind: 'outsidePools', ip: text, message: `${text} is outside every pool` }
  }

  /**
   * Replace the pools. Every assignment whose IPs are all still usable in one pool that still admits the
   * Service is kept exactly as it is (the pool may have been renamed); every other one is dropped, its IPs
   * released, and reported so the Service is re-assigned with Event ClearAssignment.
   */
  setConfig(config: PoolConfig): ClearedAssignment[] {
    const old = [...this.byKey.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    this.config = config
    this.pools = new Map(
      config.pools.map((pool, index) => {
        const spaces = new Map<IPFamily, AddressSpace<IPEntry>>()
        for (const family of pool.families) {
          const ranges = pool.ranges.filter(r => r.family === family)
          spaces.set(family, new AddressSpace<IPEntry>(ranges, family === 'IPv4' && pool.avoidBuggyIPs))
        }
        return [pool.name, { pool, index, spaces }]
      }),
    )
    this.poolList = [...this.pools.values()]
    this.autoOrder = autoOrderOf(this.poolList)
    this.byKey.clear()
    this.shared.clear()
    const cleared: ClearedAssignment[] = []
    for (const h of old) {
      const why = this.configProblem(h.ips, h.namespace, h.labels)
      if (why === null) {
        const ps = this.usablePool(h.ips[0] ?? { family: 'IPv4', value: -1n })
        if (ps !== null) {
          this.place(h.key, ps, h.ips, h.namespace, h.labels, h.sharing)
          continue
        }
      }
      // A dual-stack pair that lost one address keeps the other where it is: it stays taken, so nothing else
      // can be given it before this Service is reprocessed (and gets its missing family, or under
      // RequireDualStack both anew from a pool that can give both: allocateAuto tries this pool first).
      // When the valid ones now lie in different pools, those in the pool of the first (the Service's primary
      // family) stay: an assignment is drawn from one pool.
      const valid = h.ips.length > 1 ? h.ips.filter(ip => this.configProblem([ip], h.namespace, h.labels) === null) : []
      const home = valid[0] === undefined ? null : this.usablePool(valid[0])
      const still = home === null ? [] : valid.filter(ip => this.usablePool(ip) === home)
      if (home !== null) {
        this.place(h.key, home, still, h.namespace, h.labels, h.sharing)
        const stays = new Set(still)
        const gone = h.texts.filter((_, i) => { const ip = h.ips[i]; return ip === undefined || !stays.has(ip) })
        const kept = h.texts.filter(t => !gone.includes(t))
        cleared.push({ key: h.key, ips: gone, kept, message: `IP ${gone.join(', ')} is no longer usable: ${why ?? 'outside every pool'}; ${kept.join(', ')} stays` })
        continue
      }
      const message = `IP ${h.texts.join(', ')} is no longer usable: ${why ?? 'outside every pool'}`
      cleared.push({ key: h.key, ips: h.texts, kept: [], message })
    }
    return cleared
  }

  /** Why these IPs cannot stay with a Service under the current config, or null when they can. */
  private configProblem(ips: readonly IP[], namespace: string, labels: Readonly<Record<string, string>>): string | null {
    let pool: PoolState | null = null
    for (const ip of ips) {
      const ps = this.usablePool(ip)
      if (ps === null) return this.outside(ip).message
      if (pool !== null && pool !== ps) return `${formatIP(ip)} is in pool ${ps.pool.name}, the other address in pool ${pool.pool.name}`
      pool = ps
    }
    if (pool === null) return 'no address'
    if (!poolAllows(pool.pool, namespace, labels)) return notAllowedMessage(pool.pool, namespace)
    return null
  }

  /**
   * Whether a Service with this request may hold exactly these IPs (ignoring its own current hold), or why
   * not. Used to keep an assignment, to claim a status back after a restart, and to honour requested IPs.
   */
  private holdProblem(ips: readonly IP[], req: AllocationRequest): AllocationFailure | null {
    if (ips.length === 0) return { kind: 'invalidRequest', message: 'no address' }
    let pool: PoolState | null = null
    const seen = new Set<IPFamily>()
    for (const ip of ips) {
      if (seen.has(ip.family)) return { kind: 'familyMismatch', message: `two ${ip.family} addresses` }
      seen.add(ip.family)
      if (req.families.length > 0 && !req.families.includes(ip.family)) {
        return { kind: 'familyMismatch', message: `${formatIP(ip)} is ${ip.family} but the Service's ipFamilies are [${req.families.join(', ')}]` }
      }
      const ps = this.usablePool(ip)
      if (ps === null) return this.outside(ip)
      if (pool !== null && pool !== ps) {
        return { kind: 'invalidRequest', message: `${formatIP(ip)} is in pool ${ps.pool.name} but the other address in pool ${pool.pool.name}: ask for addresses of one pool` }
      }
      pool = ps
    }
    if (pool === null) return { kind: 'invalidRequest', message: 'no address' }
    if (req.dualStack === 'single' && ips.length > 1) return { kind: 'familyMismatch', message: 'a SingleStack Service holds one address' }
    if (req.dualStack === 'require' && ips.length < 2) return { kind: 'familyMismatch', message: 'RequireDualStack needs an IPv4 and an IPv6 address' }
    if (req.pool !== null && req.pool !== pool.pool.name) {
      if (!this.pools.has(req.pool)) return { kind: 'unknownPool', pool: req.pool, message: `no pool is named ${req.pool}` }
      return { kind: 'invalidRequest', message: `${formatIP(ips[0] ?? { family: 'IPv4', value: 0n })} is in pool ${pool.pool.name}, but annotation address-pool asks for ${req.pool}` }
    }
    if (!poolAllows(pool.pool, req.namespace, req.labels)) {
      return { kind: 'poolNotAllowed', pool: pool.pool.name, message: notAllowedMessage(pool.pool, req.namespace) }
    }
    for (const ip of ips) {
      const taken = this.takenProblem(ip, req)
      if (taken !== null) return taken
    }
    return null
  }

  private takenProblem(ip: IP, req: AllocationRequest): AllocationFailure | null {
    const e = this.entryOf(ip)
    if (e === undefined) return null
    const by: string[] = []
    let why: string | null = null
    for (const h of e.holders) {
      if (h.key === req.key) continue
      const c = sharingConflict(req.sharing, h.sharing)
      if (c !== null) {
        by.push(h.key)
        why ??= c
      }
    }
    if (why === null) return null
    const text = formatIP(ip)
    return { kind: 'ipTaken', ip: text, by, message: `${text} is taken by Service ${by.join(', ')}: ${why}` }
  }

  /**
   * Give the Service IPs, keeping what it holds when that is still valid. Order of preference: its current
   * assignment; the IPs its status shows (claimed back); the requested IPs; a fresh allocation (from its
   * previous IPs where possible, else the lowest free address of the first pool that can serve it).
   */
  assign(req: AllocationRequest): AssignResult {
    if (this.config === null) return { ok: false, failure: { kind: 'noConfig', message: 'no valid pool configuration yet' } }
    const cur = this.byKey.get(req.key)
    if (cur !== undefined) {
      const fits = req.requested.length === 0 || sameSet(cur.ips, req.requested)
      if (fits && this.holdProblem(cur.ips, req) === null) {
        return this.keep(cur, req)
      }
      this.release(req.key)
    }
    const previous = cur?.ips ?? req.statusIPs
    if (previous.length > 0 && (req.requested.length === 0 || sameSet(previous, req.requested))) {
      if (this.holdProblem(previous, req) === null) return this.commit(req, previous, cur === undefined)
    }
    if (req.requested.length > 0) {
      const why = this.holdProblem(req.requested, req)
      if (why !== null) return { ok: false, failure: why }
      return this.commit(req, req.requested, true)
    }
    return this.allocateAuto(req, previous)
  }

  private keep(cur: Held, req: AllocationRequest): AssignResult {
    // Sharing info may change without a conflict (holdProblem checked it); the entries point at cur. A new
    // sharing key moves the IPs to it in the index, or Services with the new key would not find them and
    // the old key would keep them filed for good.
    const was = cur.sharing.sharingKey
    // A new key, other ports or other backends may let a waiting Service share this address now: count it as
    // an opening, as a freed address is, so that the caller tries the waiting Services again.
    if (!sameSharing(cur.sharing, req.sharing)) this.freed++
    cur.sharing = req.sharing
    if (was !== req.sharing.sharingKey) {
      for (const e of cur.ips) {
        this.unfileShared(e, was)
        this.fileShared(e, req.sharing.sharingKey)
      }
    }
    // PreferDualStack: add the missing family when the pool can give it now; the held address stays.
    let missing: IPFamily | undefined
    for (const f of req.families) if (!hasFamily(cur.ips, f)) missing = f
    if (req.dualStack === 'prefer' && req.requested.length === 0 && missing !== undefined) {
      // Only from a pool the Service may draw from automatically: auto-assign, or the pool it names.
      const ps = this.pools.get(cur.pool)
      const may = ps !== undefined && (ps.pool.autoAssign || req.pool === ps.pool.name)
      const extra = ps === undefined || !may ? null : this.pick(ps, missing, req, [])
      if (extra !== null) {
        this.release(req.key)
        return this.commit(req, [...cur.ips, extra], true)
      }
    }
    return { ok: true, assignment: cur, changed: false }
  }

  /** A free or shareable address of a family in a pool, preferring `prefer`, then shared, then lowest. */
  private pick(ps: PoolState, family: IPFamily, req: AllocationRequest, prefer: readonly IP[]): IP | null {
    const space = ps.spaces.get(family)
    if (space === undefined) return null
    for (const p of prefer) {
      if (p.family === family && this.usablePool(p) === ps && this.takenProblem(p, req) === null) return p
    }
    const sk = req.sharing.sharingKey
    if (sk !== null) {
      let best: IP | null = null
      for (const e of this.shared.get(sk) ?? []) {
        if (e.pool !== ps.pool.name || e.family !== family) continue
        if (this.takenProblem(e, req) !== null) continue
        if (best === null || e.value < best.value) best = e
      }
      if (best !== null) return best
    }
    const chunk = space.findLowestFree() ? space.lowestChunk : null
    return chunk === null ? null : new FreeIP(family, space, chunk, space.lowestOffset, space.stamp)
  }

  private allocateAuto(req: AllocationRequest, prefer: readonly IP[]): AssignResult {
    let order: readonly PoolState[] = this.autoOrder
    if (req.pool !== null) {
      const ps = this.pools.get(req.pool)
      if (ps === undefined) return { ok: false, failure: { kind: 'unknownPool', pool: req.pool, message: `no pool is named ${req.pool}` } }
      order = [ps]
    }
    // The pool of the addresses the Service had comes first: an address that is still valid stays put.
    const first = prefer[0]
    const home = first === undefined ? null : this.usablePool(first)
    if (home !== null && order.includes(home) && order[0] !== home) order = [home, ...order.filter(ps => ps !== home)]
    // PreferDualStack: the first family is required, the second wanted; a pool that gives both wins over
    // an earlier one of the same tier that gives only the first.
    const prefer2 = req.dualStack === 'prefer' && req.families.length > 1
    const required = prefer2 ? req.families.slice(0, 1) : req.families
    // Tiers as MetalLB's Allocate tries them (internal/allocator/allocator.go: pinnedPoolsForService, then the
    // pools without serviceAllocation): the pools restricted to the Service's namespace or labels first, and
    // only when none of them can serve it, the unrestricted ones; the home pool is a tier of its own before both.
    let start = 0
    while (start < order.length) {
      let end = start + 1
      if (!(start === 0 && order[0] === home)) {
        const tier = isRestricted(order[start]?.pool)
        while (end < order.length && order[end] !== home && isRestricted(order[end]?.pool) === tier) end++
      }
      const found = this.allocateFromTier(req, order.slice(start, end), prefer2, required, prefer)
      if (found !== null) return found
      start = end
    }
    return { ok: false, failure: this.whyNoPool(req, order, required) }
  }

  /** The first pool of one tier that can serve the Service, both families first under PreferDualStack. */
  private allocateFromTier(req: AllocationRequest, tier: readonly PoolState[], prefer2: boolean, required: readonly IPFamily[], prefer: readonly IP[]): AssignResult | null {
    if (prefer2) {
      for (const ps of tier) {
        if (!poolAllows(ps.pool, req.namespace, req.labels) || !serves(ps, req.families)) continue
        const ips = this.attempt(ps, req.families, req, prefer)
        if (ips !== null) return this.commit(req, ips, true, ps)
      }
    }
    for (const ps of tier) {
      if (!poolAllows(ps.pool, req.namespace, req.labels) || !serves(ps, required)) continue
      const ips = this.attempt(ps, required, req, prefer)
      if (ips !== null) return this.commit(req, ips, true, ps)
    }
    return null
  }

  /** The most specific reason no pool of `order` gave the Service an address. */
  private whyNoPool(req: AllocationRequest, order: readonly PoolState[], required: readonly IPFamily[]): AllocationFailure {
    if (order.length === 0) {
      return { kind: 'poolNotAllowed', pool: null, message: 'no pool has auto-assign enabled: request an IP or a pool' }
    }
    const allowed = order.filter(ps => poolAllows(ps.pool, req.namespace, req.labels))
    if (allowed.length === 0) {
      const only = order.length === 1 ? order[0] : undefined
      if (req.pool !== null && only !== undefined) {
        return { kind: 'poolNotAllowed', pool: only.pool.name, message: notAllowedMessage(only.pool, req.namespace) }
      }
      return { kind: 'poolNotAllowed', pool: null, message: `no auto-assign pool admits namespace ${req.namespace} and the Service's labels` }
    }
    const serving = allowed.filter(ps => serves(ps, required))
    if (serving.length === 0) {
      const want = required.length > 0 ? required.join(' and ') : 'any'
      return { kind: 'familyMismatch', message: `no pool the Service may use has ${want} addresses (pools: ${allowed.map(c => c.pool.name).join(', ')})` }
    }
    const names = serving.map(ps => ps.pool.name)
    return { kind: 'poolExhausted', pools: names, message: `no free address in pool ${names.join(', ')}` }
  }

  /** One address per family from one pool, or null. Families unknown: the pool's first family. */
  private attempt(ps: PoolState, families: readonly IPFamily[], req: AllocationRequest, prefer: readonly IP[]): IP[] | null {
    const out: IP[] = []
    if (families.length === 0) {
      for (const f of ps.spaces.keys()) {
        const ip = this.pick(ps, f, req, prefer)
        return ip === null ? null : [ip]
      }
      return null
    }
    for (const f of families) {
      const ip = this.pick(ps, f, req, prefer)
      if (ip === null) return null
      out.push(ip)
    }
    return out
  }

  /** Record ips (already checked) as the Service's assignment. */
  private commit(req: AllocationRequest, ips: readonly IP[], changed: boolean, known?: PoolState): AssignResult {
    const ordered = familyOrder(ips, req.families)
    const first = ordered[0]
    const ps = known ?? (first === undefined ? null : this.usablePool(first))
    if (ps === null) return { ok: false, failure: { kind: 'invalidRequest', message: 'no address' } }
    return { ok: true, assignment: this.place(req.key, ps, ordered, req.namespace, req.labels, req.sharing), changed }
  }

  private place(
    key: string,
    ps: PoolState,
    ips: readonly IP[],
    namespace: string,
    labels: Readonly<Record<string, string>>,
    sharing: SharingInfo,
  ): Held {
    const held = new Held(key, ps.pool.name, namespace, labels, sharing)
    const a = ips[0]
    const b = ips[1]
    const ea = a === undefined ? null : this.hold(a, ps, held)
    let eb: IPEntry | null = null
    try {
      eb = b === undefined ? null : this.hold(b, ps, held)
    } catch (err) {
      // All or nothing: an assignment is never left half made.
      if (ea !== null) this.unhold(ea, held)
      throw err
    }
    if (ea !== null && eb !== null) held.ips = [ea, eb]
    else if (ea !== null) held.ips = [ea]
    this.byKey.set(key, held)
    return held
  }

  /** Add `held` as a holder of ip, taking the address from its space when it is the first. */
  private hold(ip: IP, ps: PoolState, held: Held): IPEntry {
    const space = ps.spaces.get(ip.family)
    if (space === undefined) throw new Error(`allocator: pool ${ps.pool.name} has no ${ip.family} addresses`)
    // An address just found free has no entry: skip the lookup.
    let e = ip instanceof FreeIP ? undefined : space.entryOf(ip.value)
    if (e === undefined) {
      // Still the lowest (nothing changed the space since pick): take it without finding it again.
      const fresh = ip instanceof FreeIP && ip.space === space && ip.stamp === space.stamp
      const took = fresh ? space.claimLowest() : space.take(ip.value)
      const chunk = space.takenChunk
      // Callers checked the address (holdProblem or pick): a taken address without an entry is a bug here.
      if (!took || chunk === null) throw new Error(`allocator: ${formatIP(ip)} is not free, yet no Service holds it`)
      const offset = space.takenChunkOffset
      e = new IPEntry(ip.family, ps.pool.name, space, chunk, offset, [held])
      space.setEntry(chunk, offset, e)
    } else e.holders.push(held)
    this.fileShared(e, held.sharing.sharingKey)
    return e
  }

  /** File an IP under a sharing key, so Services with that key find it. */
  private fileShared(e: IPEntry, sk: string | null): void {
    if (sk === null) return
    let set = this.shared.get(sk)
    if (set === undefined) this.shared.set(sk, (set = new Set()))
    set.add(e)
  }

  /** Unfile an IP from a sharing key once none of its holders has that key; drop the key when empty. */
  private unfileShared(e: IPEntry, sk: string | null): void {
    if (sk === null) return
    for (const o of e.holders) if (o.sharing.sharingKey === sk) return
    const set = this.shared.get(sk)
    if (set === undefined) return
    set.delete(e)
    if (set.size === 0) this.shared.delete(sk)
  }

  /** Release whatever the Service holds; returns what it held (null when nothing). */
  release(key: string): Assignment | null {
    const h = this.byKey.remove(key)
    if (h === undefined) return null
    for (const e of h.ips) this.unhold(e, h)
    return h
  }

  /** Drop `h` as a holder of e; the address goes back to its space with its last holder. */
  private unhold(e: IPEntry, h: Held): void {
    // Swap-remove: holder order carries no meaning, and splice allocates.
    const i = e.holders.indexOf(h)
    if (i >= 0) {
      const last = e.holders.pop()
      if (last !== undefined && i < e.holders.length) e.holders[i] = last
    }
    this.unfileShared(e, h.sharing.sharingKey)
    if (e.holders.length === 0) {
      this.freed++
      e.space.giveAt(e.chunk, e.offset)
    }
  }

  /**
   * Claim back what Services' status shows, before anything new is allocated (restart). Claims are taken in
   * the order given — the caller puts older Services first — and a claim that is invalid or collides with an
   * earlier one without sharing rights is refused and reported, so that Service is re-assigned.
   */
  restore(requests: readonly AllocationRequest[]): ClearedAssignment[] {
    const losers: ClearedAssignment[] = []
    if (this.config === null) return losers
    this.restored = true
    for (const req of requests) {
      if (req.statusIPs.length === 0 || this.byKey.has(req.key)) continue
      const why = this.holdProblem(req.statusIPs, req)
      if (why === null) {
        this.commit(req, req.statusIPs, false)
        continue
      }
      const texts = req.statusIPs.map(formatIP)
      const message = `IP ${texts.join(', ')} could not be kept: ${why.message}`
      losers.push({ key: req.key, ips: texts, kept: [], message })
    }
    return losers
  }
}
