// The addresses of one pool and family: which are free, and what entry the allocator filed for each taken
// one. Each range of the pool is cut into chunks of 2^52 addresses (an IPv4 range is always one chunk; an
// IPv6 /64 is 4096). In a chunk, the free addresses are an ordered set of disjoint gaps [start, end] of
// offsets in a B+tree keyed by start (gap-tree.ts), and the taken ones that have an entry are in a map keyed
// by offset. A chunk nobody has touched is not materialised at all: it is wholly free.
//
// Cost: taking the lowest free address, taking a given one and giving one back are each O(log g) for g
// gaps in the chunk, and g <= assigned addresses + 1, so the pool's size never matters: an IPv6 /64 costs
// what a /28 costs. Nothing is materialised per free address. Offsets are plain numbers (exact below 2^53),
// because BigInt arithmetic allocates on every operation and cost more than the whole tree walk; bigint
// appears only at the boundary (an address in, an address out) and in the exact capacity. The entries are
// keyed by offset for the same reason: a bigint or its text as a key cost more than the rest of an
// allocation (IPv6 text especially).
//
// avoid-buggy-ips (IPv4 .0 and .255) is folded in through `Usable`: gap ends are always usable addresses
// and a gap holding no usable address is not stored, so the lowest gap start is always allocatable.

import { GapTree as Gaps, type OffsetRule } from './gap-tree.js'
import { LazyDeleteMap } from './lazy-delete-map.js'

const CHUNK_BITS = 52n
const CHUNK = 1n << CHUNK_BITS

/** Which offsets of a chunk may be handed out. A class (not closures) so calls stay monomorphic. */
class Usable implements OffsetRule {
  constructor(
    /** Skip addresses whose last octet is 0 or 255. */
    private readonly avoidBuggy: boolean,
    /** The chunk base's last octet, so offsets map to absolute last octets. */
    private readonly baseLow: number,
  ) {}

  private low(o: number): number {
    return (this.baseLow + o) % 256
  }

  /** Smallest usable offset >= o. */
  next(o: number): number {
    if (!this.avoidBuggy) return o
    const l = this.low(o)
    return l === 0 ? o + 1 : l === 255 ? o + 2 : o
  }

  /** Largest usable offset <= o (may be negative). */
  prev(o: number): number {
    if (!this.avoidBuggy) return o
    const l = this.low(o)
    return l === 255 ? o - 1 : l === 0 ? o - 2 : o
  }

  usable(o: number): boolean {
    if (!this.avoidBuggy) return true
    const l = this.low(o)
    return l !== 0 && l !== 255
  }
}

/** Usable addresses in [a, b] (absolute), exact. */
export function countUsable(a: bigint, b: bigint, avoidBuggy: boolean): bigint {
  if (b < a) return 0n
  if (!avoidBuggy) return b - a + 1n
  return belowNonBuggy(b + 1n) - belowNonBuggy(a)
}

// Addresses below n whose last octet is 1..254.
function belowNonBuggy(n: bigint): bigint {
  if (n <= 0n) return 0n
  const rest = n % 256n
  const partial = rest <= 1n ? 0n : rest - 1n > 254n ? 254n : rest - 1n
  return (n / 256n) * 254n + partial
}

/**
 * One chunk of a range: its free gaps, the entries of its taken addresses, and its first address. A taker
 * keeps (chunk, offset) and gives the address back through them: no bigint and no range search.
 */
export class Chunk<T> {
  readonly entries = new LazyDeleteMap<number, T>()
  constructor(
    readonly gaps: Gaps,
    readonly base: bigint,
  ) {}
}

interface Range<T> {
  readonly start: bigint
  readonly end: bigint
  /** Number of chunks, and the size of the last one as a number. */
  readonly chunks: bigint
  readonly lastSize: number
  /**
   * start as a number when the range is one chunk ending below 2^53 (every IPv4 range): an offset is then
   * v - start in plain numbers. A bigger range near :: ends below 2^53 too, but has several chunks.
   */
  readonly startNum: number | null
  /** Chunk 0, the only one of most ranges, kept out of the map; null until first taken from. */
  first: Chunk<T> | null
  /** Other chunks taken from at least once; an absent chunk is wholly free. */
  readonly touched: Map<bigint, Chunk<T>>
}

export class AddressSpace<T> {
  readonly capacity: bigint
  private readonly ranges: readonly Range<T>[]
  private used = 0
  // Where the last locate()/findLowest() landed. Fields rather than a returned object: these run on every
  // allocation and release, and a fresh object each time showed up as GC work.
  private atRange: Range<T> | null = null
  private atChunk = 0n
  private atOffset = 0
  /** Bumped by every change, so a caller can tell that what lowest() showed is still the lowest. */
  private changes = 0
  // What the last findLowest() found in a materialised chunk, valid while `changes` equals lowStamp: the
  // allocator looks at the lowest address, checks it, then takes it, and the second search is skipped.
  private lowChunk: Chunk<T> | null = null
  private lowOffset = 0
  private lowStamp = -1
  // Where the last successful take put its address.
  private takenAt: Chunk<T> | null = null
  private takenOffset = 0

  constructor(
    ranges: readonly { readonly start: bigint; readonly end: bigint }[],
    private readonly avoidBuggy: boolean,
  ) {
    const sorted = [...ranges].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0))
    let cap = 0n
    this.ranges = sorted.map(r => {
      cap += countUsable(r.start, r.end, avoidBuggy)
      const size = r.end - r.start + 1n
      const chunks = (size + CHUNK - 1n) / CHUNK
      const lastSize = Number(size - (chunks - 1n) * CHUNK)
      const startNum = chunks === 1n && r.end < 1n << 53n ? Number(r.start) : null
      return { start: r.start, end: r.end, chunks, lastSize, startNum, first: null, touched: new Map() }
    })
    this.capacity = cap
  }

  get inUse(): bigint {
    return BigInt(this.used)
  }

  get freeCount(): bigint {
    return this.capacity - BigInt(this.used)
  }

  /** Gaps stored across all touched chunks (for tests of the O(assigned) size bound). */
  gapCount(): number {
    let n = 0
    for (const r of this.ranges) {
      if (r.first !== null) n += r.first.gaps.size()
      for (const c of r.touched.values()) n += c.gaps.size()
    }
    return n
  }

  private newGaps(r: Range<T>, chunk: bigint): Gaps {
    const base = r.start + chunk * CHUNK
    const size = chunk === r.chunks - 1n ? r.lastSize : Number(CHUNK)
    return new Gaps(new Usable(this.avoidBuggy, Number(base % 256n)), 0, size - 1)
  }

  /** Point at[Range, Chunk, Offset] at v; false when v is outside every range. */
  private locate(v: bigint): boolean {
    for (const r of this.ranges) {
      if (v < r.start || v > r.end) continue
      this.atRange = r
      if (r.startNum !== null) {
        this.atChunk = 0n
        this.atOffset = Number(v) - r.startNum
      } else {
        const d = v - r.start
        if (d < CHUNK) {
          this.atChunk = 0n // nearly every address lives here: lowest-first allocation
          this.atOffset = Number(d)
        } else {
          this.atChunk = d >> CHUNK_BITS
          this.atOffset = Number(d & (CHUNK - 1n))
        }
      }
      return true
    }
    return false
  }

  private chunkFor(r: Range<T>, chunk: bigint, create: boolean): Chunk<T> | null {
    if (chunk === 0n) {
      if (r.first === null && create) r.first = new Chunk(this.newGaps(r, 0n), r.start)
      return r.first
    }
    let c = r.touched.get(chunk) ?? null
    if (c === null && create) {
      c = new Chunk(this.newGaps(r, chunk), r.start + chunk * CHUNK)
      r.touched.set(chunk, c)
    }
    return c
  }

  /** The address at an offset of a chunk. */
  valueAt(chunk: Chunk<T>, offset: number): bigint {
    return chunk.base + BigInt(offset)
  }

  /** The lowest free address, without taking it; null when the space is exhausted. */
  lowest(): bigint | null {
    const c = this.findLowest() ? this.lowChunk : null
    return c === null ? null : this.valueAt(c, this.lowOffset)
  }

  /**
   * Find the lowest free address without taking it; false when the space is exhausted. Until the next change
   * it is at lowestChunk/lowestOffset, and claimLowest() takes it without searching again.
   */
  findLowestFree(): boolean {
    return this.findLowest()
  }

  get lowestChunk(): Chunk<T> | null {
    return this.lowStamp === this.changes ? this.lowChunk : null
  }

  get lowestOffset(): number {
    return this.lowOffset
  }

  /** Point at[Range, Chunk, Offset] at the lowest free address; false when there is none. */
  private findLowest(): boolean {
    this.lowStamp = -1
    for (const r of this.ranges) {
      // A chunk is only ever full after 2^52 allocations or when the range is small, so this loop runs
      // once per range in practice; its bound is the range's chunk count either way. The chunk found is
      // materialised (one gap when untouched), so claimLowest() can take from it directly.
      for (let c = 0n; c < r.chunks; c++) {
        const chunk = this.chunkFor(r, c, true)
        const o = chunk === null ? null : chunk.gaps.lowest()
        if (chunk !== null && o !== null) {
          this.atRange = r
          this.atChunk = c
          this.atOffset = o
          this.lowChunk = chunk
          this.lowOffset = o
          this.lowStamp = this.changes
          return true
        }
      }
    }
    return false
  }

  /** A count of changes: while it stays the same, what lowest() returned is still the lowest free. */
  get stamp(): number {
    return this.changes
  }

  /** Take the lowest free address; false when the space is exhausted. Where it went: takenChunk/Offset. */
  claimLowest(): boolean {
    this.takenAt = null
    if (this.lowStamp === this.changes && this.lowChunk !== null) {
      // Nothing changed since findLowest(): it is still its chunk's first gap start.
      const c = this.lowChunk
      const o = this.lowOffset
      if (c.gaps.takeLowest() === null) return false
      this.took(c, o)
      return true
    }
    const c = this.findLowest() ? this.lowChunk : null
    const o = this.lowOffset
    if (c === null || c.gaps.takeLowest() === null) return false
    this.took(c, o)
    return true
  }

  private took(c: Chunk<T>, offset: number): void {
    this.used++
    this.changes++
    this.takenAt = c
    this.takenOffset = offset
  }

  /** The chunk of the address the last successful take/claimLowest took (null after a failed one). */
  get takenChunk(): Chunk<T> | null {
    return this.takenAt
  }

  /** Its offset in that chunk. */
  get takenChunkOffset(): number {
    return this.takenOffset
  }

  isFree(v: bigint): boolean {
    const r = this.locate(v) ? this.atRange : null
    if (r === null) return false
    const c = this.chunkFor(r, this.atChunk, false)
    return (c !== null ? c.gaps : this.newGaps(r, this.atChunk)).isFree(this.atOffset)
  }

  /** Take a given address; false when it is not free (taken, unusable or outside the space). */
  take(v: bigint): boolean {
    this.takenAt = null
    const r = this.locate(v) ? this.atRange : null
    if (r === null) return false
    const offset = this.atOffset
    const c = this.chunkFor(r, this.atChunk, true)
    if (c === null || !c.gaps.take(offset)) return false
    this.took(c, offset)
    return true
  }

  /** Give back an address taken before, dropping its entry; false (and no change) when it was free. */
  give(v: bigint): boolean {
    const r = this.locate(v) ? this.atRange : null
    if (r === null) return false
    const c = this.chunkFor(r, this.atChunk, false)
    return c !== null && this.giveAt(c, this.atOffset)
  }

  /** Give back an address by where its take put it, dropping its entry. */
  giveAt(c: Chunk<T>, offset: number): boolean {
    if (!c.gaps.give(offset)) return false
    c.entries.delete(offset)
    this.used--
    this.changes++
    return true
  }

  /** File the entry of a taken address. */
  setEntry(c: Chunk<T>, offset: number, entry: T): void {
    c.entries.set(offset, entry)
  }

  /** The entry filed for an address, if any. */
  entryOf(v: bigint): T | undefined {
    const r = this.locate(v) ? this.atRange : null
    if (r === null) return undefined
    return this.chunkFor(r, this.atChunk, false)?.entries.get(this.atOffset)
  }
}
