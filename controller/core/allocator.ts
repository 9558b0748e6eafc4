// The allocator: pools, and who holds which IP. Pure and synchronous; the controller owns one instance.
//
// Promises (issue 3): an IP is never held by two Services unless the sharing rules allow it; an assignment
// that stays valid is never moved (not by a pool edit, not by a restart, not by an unrelated Service change);
// the cost of one allocation or release is O(log n) in the assigned IPs and independent of pool size
// (FreeSpace keeps free gaps, never addresses); capacity and usage are exact bigints (MetalLB PR #3140).
import type { AllocationFailure, AllocationRequest } from './allocation-request.js'
import { FreeSpace, ALL_USABLE, NON_BUGGY_V4 } from './free-space.js'
import { formatIP, isBuggyIPv4, rangeContains, type IP, type IPFamily } from './ip.js'
import { selectorMatches, type Pool, type PoolConfig } from './pool-config.js'
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

export interface PoolUsage {
  readonly pool: string
  readonly capacity: bigint
  readonly inUse: bigint
}

/** An assignment the allocator dropped (its IP left the config, or it lost a restore conflict). */
export interface ClearedAssignment {
  readonly key: string
  readonly ips: readonly string[]
  readonly message: string
}

interface Held {
  readonly key: string
  readonly pool: string
  readonly ips: readonly IP[]
  readonly texts: readonly string[]
  readonly namespace: string
  readonly labels: Readonly<Record<string, string>>
  sharing: SharingInfo
}

interface IPEntry {
  readonly ip: IP
  readonly pool: string
  readonly holders: Map<string, SharingInfo>
}

interface PoolState {
  readonly pool: Pool
  readonly index: number
  readonly spaces: ReadonlyMap<IPFamily, FreeSpace>
}

// IPv4 keys are numbers and IPv6 keys bigints: a Map keeps them apart (5 !== 5n) and numbers hash fastest.
type IPKey = number | bigint
const keyOf = (ip: IP): IPKey => (ip.family === 'IPv4' ? Number(ip.value) : ip.value)

function familyOrder(ips: readonly IP[], families: readonly IPFamily[]): IP[] {
  const rank = (f: IPFamily): number => {
    const i = families.indexOf(f)
    return i < 0 ? (f === 'IPv4' ? 2 : 3) : i
  }
  return [...ips].sort((a, b) => rank(a.family) - rank(b.family))
}

function poolAllows(pool: Pool, namespace: string, labels: Readonly<Record<string, string>>): boolean {
  if (pool.namespaces !== null && !pool.namespaces.includes(namespace)) return false
  if (pool.serviceSelectors !== null && !pool.serviceSelectors.some(s => selectorMatches(s, labels))) return false
  return true
}

function notAllowedMessage(pool: Pool, namespace: string): string {
  if (pool.namespaces !== null && !pool.namespaces.includes(namespace)) {
    return `pool ${pool.name} is not allowed in namespace ${namespace} (it serves ${pool.namespaces.join(', ')})`
  }
  return `pool ${pool.name} is reserved by service-selectors the Service's labels do not match`
}

export class Allocator {
  private config: PoolConfig | null = null
  private pools = new Map<string, PoolState>()
  private readonly byIP = new Map<IPKey, IPEntry>()
  private readonly byKey = new Map<string, Held>()
  /** sharing key -> IPs held under it, to find a shareable IP without scanning. */
  private readonly shared = new Map<string, Set<IPKey>>()
  private readonly clearNotes = new Map<string, string>()
  /** Services that got no IP, with the last failure reported for them (see markWaiting). */
  private readonly waiting = new Map<string, string>()
  private freed = 0
  private restored = false

  hasConfig(): boolean {
    return this.config !== null
  }

  currentConfig(): PoolConfig | null {
    return this.config
  }

  assignment(key: string): Assignment | null {
    const h = this.byKey.get(key)
    return h === undefined ? null : { key: h.key, pool: h.pool, ips: h.ips, texts: h.texts }
  }

  *assignments(): IterableIterator<Assignment> {
    for (const h of this.byKey.values()) yield { key: h.key, pool: h.pool, ips: h.ips, texts: h.texts }
  }

  /** Service keys holding an IP (more than one only when they share it). */
  holders(ip: IP): readonly string[] {
    const e = this.byIP.get(keyOf(ip))
    return e === undefined ? [] : [...e.holders.keys()]
  }

  usage(): PoolUsage[] {
    return [...this.pools.values()].map(ps => {
      let capacity = 0n
      let inUse = 0n
      for (const s of ps.spaces.values()) {
        capacity += s.capacity
        inUse += s.inUse
      }
      return { pool: ps.pool.name, capacity, inUse }
    })
  }

  /** Whether existing assignments have been claimed back (restore ran under a config). */
  isRestored(): boolean {
    return this.restored
  }

  /** How many times an IP has gone back to free: a change tells the caller waiting Services may now fit. */
  freedCount(): number {
    return this.freed
  }

  /**
   * Remember that a Service is waiting for an address. Returns false when the same message was already
   * reported for it, so the caller does not repeat the same Warning Event on every pass.
   */
  markWaiting(key: string, message: string): boolean {
    if (this.waiting.get(key) === message) return false
    this.waiting.set(key, message)
    return true
  }

  unmarkWaiting(key: string): void {
    this.waiting.delete(key)
  }

  /** Whether any Service other than `except` is waiting for an address. */
  hasWaiting(except?: string): boolean {
    return this.waiting.size > (except !== undefined && this.waiting.has(except) ? 1 : 0)
  }

  /** The note left when an assignment was cleared by a config change or a restore conflict; consumed. */
  takeClearNote(key: string): string | null {
    const n = this.clearNotes.get(key)
    if (n === undefined) return null
    this.clearNotes.delete(key)
    return n
  }

  /** The pool whose usable addresses include ip. */
  private poolOf(ip: IP): PoolState | null {
    for (const ps of this.pools.values()) {
      if (ps.pool.ranges.some(r => rangeContains(r, ip))) {
        return ps.pool.avoidBuggyIPs && ip.family === 'IPv4' && isBuggyIPv4(ip.value) ? null : ps
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
        const spaces = new Map<IPFamily, FreeSpace>()
        for (const family of pool.families) {
          const usable = family === 'IPv4' && pool.avoidBuggyIPs ? NON_BUGGY_V4 : ALL_USABLE
          spaces.set(family, new FreeSpace(pool.ranges.filter(r => r.family === family), usable))
        }
        return [pool.name, { pool, index, spaces }]
      }),
    )
    this.byIP.clear()
    this.byKey.clear()
    this.shared.clear()
    const cleared: ClearedAssignment[] = []
    for (const h of old) {
      const why = this.configProblem(h.ips, h.namespace, h.labels)
      if (why === null) {
        const ps = this.poolOf(h.ips[0] ?? { family: 'IPv4', value: -1n })
        if (ps !== null) {
          this.record({ ...h, pool: ps.pool.name }, ps)
          continue
        }
      }
      const message = `IP ${h.texts.join(', ')} is no longer usable: ${why ?? 'outside every pool'}`
      this.clearNotes.set(h.key, message)
      cleared.push({ key: h.key, ips: h.texts, message })
    }
    return cleared
  }

  /** Why these IPs cannot stay with a Service under the current config, or null when they can. */
  private configProblem(ips: readonly IP[], namespace: string, labels: Readonly<Record<string, string>>): string | null {
    let pool: PoolState | null = null
    for (const ip of ips) {
      const ps = this.poolOf(ip)
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
      const ps = this.poolOf(ip)
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
    const e = this.byIP.get(keyOf(ip))
    if (e === undefined) return null
    const by: string[] = []
    let why: string | null = null
    for (const [k, s] of e.holders) {
      if (k === req.key) continue
      const c = sharingConflict(req.sharing, s)
      if (c !== null) {
        by.push(k)
        why ??= c
      }
    }
    if (why === null) return null
    const text = formatIP(ip)
    return { kind: 'ipTaken', ip: text, by, message: `${text} is taken by Service ${by.join(', ')}: ${why}` }
  }

  private sameSet(a: readonly IP[], b: readonly IP[]): boolean {
    return a.length === b.length && a.every(x => b.some(y => y.family === x.family && y.value === x.value))
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
      const fits = req.requested.length === 0 || this.sameSet(cur.ips, req.requested)
      if (fits && this.holdProblem(cur.ips, req) === null) {
        return this.keep(cur, req)
      }
      this.release(req.key)
    }
    const previous = cur?.ips ?? req.statusIPs
    if (previous.length > 0 && (req.requested.length === 0 || this.sameSet(previous, req.requested))) {
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
    cur.sharing = req.sharing
    for (const ip of cur.ips) this.byIP.get(keyOf(ip))?.holders.set(req.key, req.sharing)
    // PreferDualStack: add the missing family when the pool can give it now; the held address stays.
    const missing = req.families.find(f => !cur.ips.some(ip => ip.family === f))
    if (req.dualStack === 'prefer' && req.requested.length === 0 && missing !== undefined) {
      const ps = this.pools.get(cur.pool)
      const extra = ps === undefined ? null : this.pick(ps, missing, req, [])
      if (extra !== null) {
        this.release(req.key)
        return this.commit(req, [...cur.ips, extra], true)
      }
    }
    return { ok: true, assignment: { key: cur.key, pool: cur.pool, ips: cur.ips, texts: cur.texts }, changed: false }
  }

  /** A free or shareable address of a family in a pool, preferring `prefer`, then shared, then lowest. */
  private pick(ps: PoolState, family: IPFamily, req: AllocationRequest, prefer: readonly IP[]): IP | null {
    const space = ps.spaces.get(family)
    if (space === undefined) return null
    for (const p of prefer) {
      if (p.family === family && this.poolOf(p) === ps && this.takenProblem(p, req) === null) return p
    }
    const sk = req.sharing.sharingKey
    if (sk !== null) {
      let best: IP | null = null
      for (const k of this.shared.get(sk) ?? []) {
        const e = this.byIP.get(k)
        if (e === undefined || e.pool !== ps.pool.name || e.ip.family !== family) continue
        if (this.takenProblem(e.ip, req) !== null) continue
        if (best === null || e.ip.value < best.value) best = e.ip
      }
      if (best !== null) return best
    }
    const v = space.lowest()
    return v === null ? null : { family, value: v }
  }

  private allocateAuto(req: AllocationRequest, prefer: readonly IP[]): AssignResult {
    let candidates: PoolState[]
    if (req.pool !== null) {
      const ps = this.pools.get(req.pool)
      if (ps === undefined) return { ok: false, failure: { kind: 'unknownPool', pool: req.pool, message: `no pool is named ${req.pool}` } }
      if (!poolAllows(ps.pool, req.namespace, req.labels)) {
        return { ok: false, failure: { kind: 'poolNotAllowed', pool: ps.pool.name, message: notAllowedMessage(ps.pool, req.namespace) } }
      }
      candidates = [ps]
    } else {
      const auto = [...this.pools.values()].filter(ps => ps.pool.autoAssign)
      if (auto.length === 0) {
        return { ok: false, failure: { kind: 'poolNotAllowed', pool: null, message: 'no pool has auto-assign enabled: request an IP or a pool' } }
      }
      candidates = auto.filter(ps => poolAllows(ps.pool, req.namespace, req.labels))
      if (candidates.length === 0) {
        return { ok: false, failure: { kind: 'poolNotAllowed', pool: null, message: `no auto-assign pool admits namespace ${req.namespace} and the Service's labels` } }
      }
      // Priority first (lower first, unset last), then the order of the config.
      candidates.sort((a, b) => {
        const pa = a.pool.priority
        const pb = b.pool.priority
        if (pa !== pb) return pa === null ? 1 : pb === null ? -1 : pa - pb
        return a.index - b.index
      })
    }
    const required: IPFamily[] = req.families.length === 0 ? [] : req.dualStack === 'prefer' ? req.families.slice(0, 1) : [...req.families]
    const optional: IPFamily[] = req.dualStack === 'prefer' ? req.families.slice(1) : []
    const serving = candidates.filter(ps => required.every(f => ps.spaces.has(f)) && ps.spaces.size > 0)
    if (serving.length === 0) {
      const want = required.length > 0 ? required.join(' and ') : 'any'
      return { ok: false, failure: { kind: 'familyMismatch', message: `no pool the Service may use has ${want} addresses (pools: ${candidates.map(c => c.pool.name).join(', ')})` } }
    }
    const attempt = (ps: PoolState, families: readonly IPFamily[]): IP[] | null => {
      const fams = families.length > 0 ? families : [...ps.spaces.keys()].slice(0, 1)
      const out: IP[] = []
      for (const f of fams) {
        const ip = this.pick(ps, f, req, prefer)
        if (ip === null) return null
        out.push(ip)
      }
      return out
    }
    // PreferDualStack: a pool that gives both families wins over an earlier one that gives only the first.
    if (optional.length > 0) {
      for (const ps of serving) {
        const ips = attempt(ps, [...required, ...optional])
        if (ips !== null) return this.commit(req, ips, true)
      }
    }
    for (const ps of serving) {
      const ips = attempt(ps, required)
      if (ips !== null) return this.commit(req, ips, true)
    }
    const names = serving.map(s => s.pool.name)
    return { ok: false, failure: { kind: 'poolExhausted', pools: names, message: `no free address in pool ${names.join(', ')}` } }
  }

  /** Record ips (already checked) as the Service's assignment. */
  private commit(req: AllocationRequest, ips: readonly IP[], changed: boolean): AssignResult {
    const ordered = familyOrder(ips, req.families)
    const first = ordered[0]
    const ps = first === undefined ? null : this.poolOf(first)
    if (ps === null) return { ok: false, failure: { kind: 'invalidRequest', message: 'no address' } }
    const held: Held = {
      key: req.key,
      pool: ps.pool.name,
      ips: ordered,
      texts: ordered.map(formatIP),
      namespace: req.namespace,
      labels: req.labels,
      sharing: req.sharing,
    }
    this.record(held, ps)
    this.clearNotes.delete(req.key)
    return { ok: true, assignment: { key: held.key, pool: held.pool, ips: held.ips, texts: held.texts }, changed }
  }

  private record(h: Held, ps: PoolState): void {
    this.byKey.set(h.key, h)
    for (const ip of h.ips) {
      const k = keyOf(ip)
      let e = this.byIP.get(k)
      if (e === undefined) {
        ps.spaces.get(ip.family)?.take(ip.value)
        e = { ip, pool: ps.pool.name, holders: new Map() }
        this.byIP.set(k, e)
      }
      e.holders.set(h.key, h.sharing)
      const sk = h.sharing.sharingKey
      if (sk !== null) {
        let set = this.shared.get(sk)
        if (set === undefined) this.shared.set(sk, (set = new Set()))
        set.add(k)
      }
    }
  }

  /** Release whatever the Service holds; returns the IPs it held (empty when none). */
  release(key: string): readonly string[] {
    this.clearNotes.delete(key)
    const h = this.byKey.get(key)
    if (h === undefined) return []
    this.byKey.delete(key)
    for (const ip of h.ips) {
      const k = keyOf(ip)
      const e = this.byIP.get(k)
      if (e === undefined) continue
      e.holders.delete(key)
      const sk = h.sharing.sharingKey
      if (sk !== null && ![...e.holders.values()].some(s => s.sharingKey === sk)) this.shared.get(sk)?.delete(k)
      if (e.holders.size === 0) {
        this.freed++
        this.byIP.delete(k)
        this.pools.get(e.pool)?.spaces.get(ip.family)?.give(ip.value)
      }
    }
    return h.texts
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
      this.clearNotes.set(req.key, message)
      losers.push({ key: req.key, ips: texts, message })
    }
    return losers
  }
}
