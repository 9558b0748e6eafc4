// The allocator: which pool and which address a Service gets, when two Services may hold one IP, what the
// ipFamilyPolicy asks for, and what a config change keeps. Pure and synchronous; the controller owns one
// instance. This file is the policy: it decides and checks, and records through Holdings (holdings.ts: the
// address spaces, the assignments and the sharing-key index, laid out for speed). Which pools a Service may
// use and in what order is pool-choice.ts; when two Services may share an IP is sharing.ts.
//
// Promises (issue 3): an IP is never held by two Services unless the sharing rules allow it; an assignment
// that stays valid is never moved (not by a pool edit, not by a restart, not by an unrelated Service change);
// the cost of one allocation or release is O(log n) in the assigned IPs and independent of pool size
// (AddressSpace keeps free gaps, never free addresses); capacity and usage are exact bigints (MetalLB PR #3140).
import type { AllocationFailure, AllocationRequest } from './allocation-request.js'
import { Holdings, type Assignment, type Held, type PoolSpaces, type PoolUsage } from './holdings.js'
import { formatIP, type CanonicalIP, type IP, type IPFamily } from '../../internal/core/ip.js'
import type { PoolConfig } from '../../internal/core/pool-config.js'
import { autoOrderOf, isRestricted, notAllowedMessage, outsideFailure, poolAllows, serves, usablePool } from './pool-choice.js'
import { sharingConflict } from './sharing.js'

export type AssignResult =
  | { readonly ok: true; readonly assignment: Assignment; readonly changed: boolean }
  | { readonly ok: false; readonly failure: AllocationFailure }

/** An assignment the allocator dropped (its IP left the config, or it lost a restore conflict). */
export interface ClearedAssignment {
  readonly key: string
  /** The addresses taken from the Service. */
  readonly ips: readonly CanonicalIP[]
  /** Those it keeps (a dual-stack pair that lost one family); empty when it lost everything. */
  readonly kept: readonly CanonicalIP[]
  readonly message: string
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

function sameSet(a: readonly IP[], b: readonly IP[]): boolean {
  if (a.length !== b.length) return false
  for (const x of a) {
    let found = false
    for (const y of b) if (y.family === x.family && y.value === x.value) found = true
    if (!found) return false
  }
  return true
}

function hasFamily(ips: readonly IP[], f: IPFamily): boolean {
  for (const ip of ips) if (ip.family === f) return true
  return false
}

export class Allocator {
  private config: PoolConfig | null = null
  /**
   * auto-assign pools in the order they are tried: pools restricted by `namespaces` or `service-selectors`
   * before unrestricted ones, then priority (lower first, unset last), then config order (autoOrderOf).
   */
  private autoOrder: PoolSpaces[] = []
  /** Who holds what, and what is free: the speed machinery, which records what this policy decides. */
  private readonly holdings = new Holdings()
  private restored = false

  hasConfig(): boolean {
    return this.config !== null
  }

  currentConfig(): PoolConfig | null {
    return this.config
  }

  assignment(key: string): Assignment | null {
    return this.holdings.assignment(key) ?? null
  }

  assignments(): IterableIterator<Assignment> {
    return this.holdings.assignments()
  }

  /** Service keys holding an IP (more than one only when they share it). */
  holders(ip: IP): readonly string[] {
    return this.holdings.holdersOf(ip).map(h => h.key)
  }

  usage(): PoolUsage[] {
    return this.holdings.usage()
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
    return this.holdings.openingCount
  }

  /**
   * Replace the pools. Every assignment whose IPs are all still usable in one pool that still admits the
   * Service is kept exactly as it is (the pool may have been renamed); every other one is dropped, its IPs
   * released, and reported so the Service is re-assigned with Event ClearAssignment.
   */
  setConfig(config: PoolConfig): ClearedAssignment[] {
    this.config = config
    const old = this.holdings.setPools(config.pools).sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
    this.autoOrder = autoOrderOf(this.holdings.pools)
    const cleared: ClearedAssignment[] = []
    for (const h of old) {
      const why = this.configProblem(h.ips, h.namespace, h.labels)
      if (why === null) {
        const ps = usablePool(this.holdings.pools, h.ips[0] ?? { family: 'IPv4', value: -1n })
        if (ps !== null) {
          this.holdings.place(h.key, ps, h.ips, h.namespace, h.labels, h.sharing)
          continue
        }
      }
      // A dual-stack pair that lost one address keeps the other where it is: it stays taken, so nothing else
      // can be given it before this Service is reprocessed (and gets its missing family, or under
      // RequireDualStack both anew from a pool that can give both: allocateAuto tries this pool first).
      // When the valid ones now lie in different pools, those in the pool of the first (the Service's primary
      // family) stay: an assignment is drawn from one pool.
      const valid = h.ips.length > 1 ? h.ips.filter(ip => this.configProblem([ip], h.namespace, h.labels) === null) : []
      const home = valid[0] === undefined ? null : usablePool(this.holdings.pools, valid[0])
      const still = home === null ? [] : valid.filter(ip => usablePool(this.holdings.pools, ip) === home)
      if (home !== null) {
        this.holdings.place(h.key, home, still, h.namespace, h.labels, h.sharing)
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
    let pool: PoolSpaces | null = null
    for (const ip of ips) {
      const ps = usablePool(this.holdings.pools, ip)
      if (ps === null) return outsideFailure(this.holdings.pools, ip).message
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
    let pool: PoolSpaces | null = null
    const seen = new Set<IPFamily>()
    for (const ip of ips) {
      if (seen.has(ip.family)) return { kind: 'familyMismatch', message: `two ${ip.family} addresses` }
      seen.add(ip.family)
      if (req.families.length > 0 && !req.families.includes(ip.family)) {
        return { kind: 'familyMismatch', message: `${formatIP(ip)} is ${ip.family} but the Service's ipFamilies are [${req.families.join(', ')}]` }
      }
      const ps = usablePool(this.holdings.pools, ip)
      if (ps === null) return outsideFailure(this.holdings.pools, ip)
      if (pool !== null && pool !== ps) {
        return { kind: 'invalidRequest', message: `${formatIP(ip)} is in pool ${ps.pool.name} but the other address in pool ${pool.pool.name}: ask for addresses of one pool` }
      }
      pool = ps
    }
    if (pool === null) return { kind: 'invalidRequest', message: 'no address' }
    if (req.dualStack === 'single' && ips.length > 1) return { kind: 'familyMismatch', message: 'a SingleStack Service holds one address' }
    if (req.dualStack === 'require' && ips.length < 2) return { kind: 'familyMismatch', message: 'RequireDualStack needs an IPv4 and an IPv6 address' }
    if (req.pool !== null && req.pool !== pool.pool.name) {
      if (this.holdings.pool(req.pool) === undefined) return { kind: 'unknownPool', pool: req.pool, message: `no pool is named ${req.pool}` }
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
    const by: string[] = []
    let why: string | null = null
    for (const h of this.holdings.holdersOf(ip)) {
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
    const cur = this.holdings.assignment(req.key)
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
    // Sharing info may change without a conflict (holdProblem checked it).
    this.holdings.reshare(cur, req.sharing)
    // PreferDualStack: add the missing family when the pool can give it now; the held address stays.
    let missing: IPFamily | undefined
    for (const f of req.families) if (!hasFamily(cur.ips, f)) missing = f
    if (req.dualStack === 'prefer' && req.requested.length === 0 && missing !== undefined) {
      // Only from a pool the Service may draw from automatically: auto-assign, or the pool it names.
      const ps = this.holdings.pool(cur.pool)
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
  private pick(ps: PoolSpaces, family: IPFamily, req: AllocationRequest, prefer: readonly IP[]): IP | null {
    if (!ps.has(family)) return null
    for (const p of prefer) {
      if (p.family === family && usablePool(this.holdings.pools, p) === ps && this.takenProblem(p, req) === null) return p
    }
    const sk = req.sharing.sharingKey
    if (sk !== null) {
      let best: IP | null = null
      for (const e of this.holdings.sharedUnder(sk)) {
        if (e.pool !== ps.pool.name || e.family !== family) continue
        if (this.takenProblem(e, req) !== null) continue
        if (best === null || e.value < best.value) best = e
      }
      if (best !== null) return best
    }
    return this.holdings.lowestFree(ps, family)
  }

  private allocateAuto(req: AllocationRequest, prefer: readonly IP[]): AssignResult {
    let order: readonly PoolSpaces[] = this.autoOrder
    if (req.pool !== null) {
      const ps = this.holdings.pool(req.pool)
      if (ps === undefined) return { ok: false, failure: { kind: 'unknownPool', pool: req.pool, message: `no pool is named ${req.pool}` } }
      order = [ps]
    }
    // The pool of the addresses the Service had comes first: an address that is still valid stays put.
    const first = prefer[0]
    const home = first === undefined ? null : usablePool(this.holdings.pools, first)
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
  private allocateFromTier(req: AllocationRequest, tier: readonly PoolSpaces[], prefer2: boolean, required: readonly IPFamily[], prefer: readonly IP[]): AssignResult | null {
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
  private whyNoPool(req: AllocationRequest, order: readonly PoolSpaces[], required: readonly IPFamily[]): AllocationFailure {
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
  private attempt(ps: PoolSpaces, families: readonly IPFamily[], req: AllocationRequest, prefer: readonly IP[]): IP[] | null {
    const out: IP[] = []
    if (families.length === 0) {
      for (const f of ps.families) {
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
  private commit(req: AllocationRequest, ips: readonly IP[], changed: boolean, known?: PoolSpaces): AssignResult {
    const ordered = familyOrder(ips, req.families)
    const first = ordered[0]
    const ps = known ?? (first === undefined ? null : usablePool(this.holdings.pools, first))
    if (ps === null) return { ok: false, failure: { kind: 'invalidRequest', message: 'no address' } }
    return { ok: true, assignment: this.holdings.place(req.key, ps, ordered, req.namespace, req.labels, req.sharing), changed }
  }

  /** Release whatever the Service holds; returns what it held (null when nothing). */
  release(key: string): Assignment | null {
    return this.holdings.release(key)
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
      if (req.statusIPs.length === 0 || this.holdings.assignment(req.key) !== undefined) continue
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
