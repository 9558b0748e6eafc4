// Who holds which address, laid out for speed: per pool and family an AddressSpace (free gaps, and the entry
// of each taken address keyed by chunk offset), the Services' assignments by key, and the IPs filed under each
// sharing key. It records and looks up; it decides nothing. Which pool, which address, whether an address may
// be shared or kept are the allocator's policy (allocator.ts), which checks before it asks for a change here.
//
// Layout matters at a million assignments: every pointer followed is a likely cache miss and every object
// is work for the collector. A Held points straight at its IP entries (release needs no map lookup to find
// them), an entry is itself the IP and knows where its address space filed it, and arrays are created at
// their final size. The bigint value and the text are made on first use: the allocator works on chunk
// offsets, and making an IPv6 bigint or its text cost more than the rest of an allocation.
//
// The hot paths below use plain loops and no closures: besides the allocations, tsx (esbuild keepNames)
// wraps every function created at run time in a __name() call, which showed up first in profiles.
import { AddressSpace, type Chunk } from './address-space.js'
import { LazyDeleteMap } from './lazy-delete-map.js'
import { formatIP, type CanonicalIP, type IP, type IPFamily } from '../../internal/core/ip.js'
import type { Pool } from '../../internal/core/pool-config.js'
import { sameSharing, type SharingInfo } from './sharing.js'

export interface Assignment {
  readonly key: string
  readonly pool: string
  /** In the Service's family order. */
  readonly ips: readonly IP[]
  /** The same, as canonical text. */
  readonly texts: readonly CanonicalIP[]
}

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

/** A Service's assignment as held: what the policy needs to check it again under a new config. */
export class Held implements Assignment {
  /** The entries themselves, in family order. */
  ips: readonly IPEntry[] = NO_ENTRIES
  private textCache: readonly CanonicalIP[] | null = null
  constructor(
    readonly key: string,
    readonly pool: string,
    readonly namespace: string,
    readonly labels: Readonly<Record<string, string>>,
    public sharing: SharingInfo,
  ) {}

  get texts(): readonly CanonicalIP[] {
    if (this.textCache === null) {
      const a = this.ips[0]
      const b = this.ips[1]
      this.textCache = a === undefined ? [] : b === undefined ? [a.text] : [a.text, b.text]
    }
    return this.textCache
  }
}

/** A held address: the IP itself, its pool, and the Services holding it. */
export class IPEntry implements IP {
  private valueCache: bigint | null = null
  private textCache: CanonicalIP | null = null
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

  get text(): CanonicalIP {
    this.textCache ??= formatIP(this)
    return this.textCache
  }
}

const NO_ENTRIES: readonly IPEntry[] = []
const NO_HOLDERS: readonly Held[] = []

/** The lowest free address of a space as lowestFree() found it: still the lowest while the space's stamp is unchanged. */
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

/** One pool of the config in force, with an address space per family it has addresses of. */
export class PoolSpaces {
  /** The families the pool has addresses of, in the pool's order. */
  readonly families: readonly IPFamily[]
  constructor(
    readonly pool: Pool,
    readonly spaces: ReadonlyMap<IPFamily, AddressSpace<IPEntry>>,
  ) {
    this.families = [...spaces.keys()]
  }

  has(family: IPFamily): boolean {
    return this.spaces.has(family)
  }
}

export class Holdings {
  private byName = new Map<string, PoolSpaces>()
  private list: readonly PoolSpaces[] = []
  // Not plain Maps: the same Service key (and sharing key) comes and goes over and over, and V8's Map slows
  // down on exactly that (lazy-delete-map.ts). Who holds an IP is filed in its pool's AddressSpace, keyed by
  // chunk offset.
  private readonly byKey = new LazyDeleteMap<string, Held>()
  /** sharing key -> IPs held under it, to find a shareable IP without scanning (a fresh entry per take). */
  private readonly shared = new LazyDeleteMap<string, Set<IPEntry>>()
  private openings = 0

  /**
   * Start over with these pools, every address free and nothing held; returns what was held before, for the
   * policy to place again what stays valid. The count of openings carries on.
   */
  setPools(pools: readonly Pool[]): Held[] {
    const before = [...this.byKey.values()]
    this.byName = new Map(
      pools.map(pool => {
        const spaces = new Map<IPFamily, AddressSpace<IPEntry>>()
        for (const family of pool.families) {
          const ranges = pool.ranges.filter(r => r.family === family)
          spaces.set(family, new AddressSpace<IPEntry>(ranges, family === 'IPv4' && pool.avoidBuggyIPs))
        }
        return [pool.name, new PoolSpaces(pool, spaces)]
      }),
    )
    this.list = [...this.byName.values()]
    this.byKey.clear()
    this.shared.clear()
    return before
  }

  /** The pools, in config order. */
  get pools(): readonly PoolSpaces[] {
    return this.list
  }

  pool(name: string): PoolSpaces | undefined {
    return this.byName.get(name)
  }

  assignment(key: string): Held | undefined {
    return this.byKey.get(key)
  }

  assignments(): IterableIterator<Held> {
    return this.byKey.values()
  }

  /**
   * How many times an address has opened up: gone back to free, or become shareable in a new way (reshare
   * with other sharing info).
   */
  get openingCount(): number {
    return this.openings
  }

  usage(): PoolUsage[] {
    return this.list.map(ps => {
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

  /** The Services holding an IP (more than one only when they share it); empty when nobody does. */
  holdersOf(ip: IP): readonly Held[] {
    return this.entryOf(ip)?.holders ?? NO_HOLDERS
  }

  /** The IPs held under a sharing key, of every pool and family. */
  sharedUnder(sharingKey: string): Iterable<IPEntry> {
    return this.shared.get(sharingKey) ?? NO_ENTRIES
  }

  /**
   * The lowest free address of a pool's family, or null (exhausted, or no such family). Given straight back
   * to place() with nothing changed in between, it is taken without searching again.
   */
  lowestFree(ps: PoolSpaces, family: IPFamily): IP | null {
    const space = ps.spaces.get(family)
    if (space === undefined) return null
    const chunk = space.findLowestFree() ? space.lowestChunk : null
    return chunk === null ? null : new FreeIP(family, space, chunk, space.lowestOffset, space.stamp)
  }

  /** The entry of a held IP (pools never overlap: at most one space files it). */
  private entryOf(ip: IP): IPEntry | undefined {
    // An entry of a current assignment (keeping one checks its own IPs on every pass): no search.
    if (ip instanceof IPEntry && ip.chunk.entries.get(ip.offset) === ip && this.byName.get(ip.pool)?.spaces.get(ip.family) === ip.space) {
      return ip
    }
    for (const ps of this.list) {
      const e = ps.spaces.get(ip.family)?.entryOf(ip.value)
      if (e !== undefined) return e
    }
    return undefined
  }

  /**
   * Record ips of pool ps (checked by the caller: free, or shareable with every holder) as the Service's
   * assignment, replacing none (the caller released any previous one). All or nothing.
   */
  place(
    key: string,
    ps: PoolSpaces,
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
  private hold(ip: IP, ps: PoolSpaces, held: Held): IPEntry {
    const space = ps.spaces.get(ip.family)
    if (space === undefined) throw new Error(`allocator: pool ${ps.pool.name} has no ${ip.family} addresses`)
    // An address just found free has no entry: skip the lookup.
    let e = ip instanceof FreeIP ? undefined : space.entryOf(ip.value)
    if (e === undefined) {
      // Still the lowest (nothing changed the space since lowestFree): take it without finding it again.
      const fresh = ip instanceof FreeIP && ip.space === space && ip.stamp === space.stamp
      const took = fresh ? space.claimLowest() : space.take(ip.value)
      const chunk = space.takenChunk
      // Callers checked the address: a taken address without an entry is a bug here.
      if (!took || chunk === null) throw new Error(`allocator: ${formatIP(ip)} is not free, yet no Service holds it`)
      const offset = space.takenChunkOffset
      e = new IPEntry(ip.family, ps.pool.name, space, chunk, offset, [held])
      space.setEntry(chunk, offset, e)
    } else e.holders.push(held)
    this.fileShared(e, held.sharing.sharingKey)
    return e
  }

  /**
   * Give a held assignment new sharing info (the policy checked that its co-holders still allow it). A new
   * sharing key moves its IPs to it in the index, or Services with the new key would not find them and the
   * old key would keep them filed for good.
   */
  reshare(held: Held, sharing: SharingInfo): void {
    const was = held.sharing.sharingKey
    // A new key, other ports or other backends may let a waiting Service share this address now: count it as
    // an opening, as a freed address is, so that the caller tries the waiting Services again.
    if (!sameSharing(held.sharing, sharing)) this.openings++
    held.sharing = sharing
    if (was === sharing.sharingKey) return
    for (const e of held.ips) {
      this.unfileShared(e, was)
      this.fileShared(e, sharing.sharingKey)
    }
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
  release(key: string): Held | null {
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
      this.openings++
      e.space.giveAt(e.chunk, e.offset)
    }
  }
}
