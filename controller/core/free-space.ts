// The free addresses of one pool and family. Each range of the pool is cut into chunks of 2^52 addresses
// (an IPv4 range is always one chunk; an IPv6 /64 is 4096), and a chunk's free addresses are an ordered
// set of disjoint gaps [start, end] of offsets, held in a B+tree keyed by start (gap-tree.ts). A chunk nobody has
// touched is not materialised at all: it is wholly free.
//
// Cost: taking the lowest free address, taking a given one and giving one back are each O(log g) for g
// gaps in the chunk, and g <= assigned addresses + 1, so the pool's size never matters: an IPv6 /64 costs
// what a /28 costs. Nothing is ever materialised per address. Offsets are plain numbers (exact below 2^53),
// because BigInt arithmetic allocates on every operation and cost more than the whole tree walk; bigint
// appears only at the boundary (the address in, the address out) and in the exact capacity.
//
// avoid-buggy-ips (IPv4 .0 and .255) is folded in through `Usable`: gap ends are always usable addresses
// and a gap holding no usable address is not stored, so the lowest gap start is always allocatable.

import { GapTree as Gaps, type OffsetRule } from './gap-tree.js'

export type { GapTree } from './gap-tree.js'

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

interface Range {
  readonly start: bigint
  readonly end: bigint
  /** Number of chunks, and the size of the last one as a number. */
  readonly chunks: bigint
  readonly lastSize: number
  /** start as a number when the whole range fits below 2^53 (every IPv4 range): no bigint on the hot path. */
  readonly startNum: number | null
  /** Chunk 0, the only one of most ranges, kept out of the map; null until first taken from. */
  first: Gaps | null
  /** Other chunks taken from at least once; an absent chunk is wholly free. */
  readonly touched: Map<bigint, Gaps>
}

export class FreeSpace {
  readonly capacity: bigint
  private readonly ranges: readonly Range[]
  private used = 0
  // Where the last locate()/findLowest() landed. Fields rather than a returned object: these run on every
  // allocation and release, and a fresh object each time showed up as GC work.
  private atRange: Range | null = null
  private atChunk = 0n
  private atOffset = 0
  /** Bumped by every change, so a caller can tell that what lowest() showed is still the lowest. */
  private changes = 0
  // Where the last successful take put its address (the chunk's gaps and the offset in it): the caller keeps
  // it and gives the address back through giveSlot(), with no bigint arithmetic and no range search.
  private slotGaps: Gaps | null = null
  private slotOffset = 0

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
      const startNum = r.end < 1n << 53n ? Number(r.start) : null
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
      if (r.first !== null) n += r.first.size()
      for (const g of r.touched.values()) n += g.size()
    }
    return n
  }

  private newGaps(r: Range, chunk: bigint): Gaps {
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

  private gapsFor(r: Range, chunk: bigint, create: boolean): Gaps | null {
    if (chunk === 0n) {
      if (r.first === null && create) r.first = this.newGaps(r, 0n)
      return r.first
    }
    let g = r.touched.get(chunk) ?? null
    if (g === null && create) {
      g = this.newGaps(r, chunk)
      r.touched.set(chunk, g)
    }
    return g
  }

  private value(r: Range, chunk: bigint, offset: number): bigint {
    if (r.startNum !== null) return BigInt(r.startNum + offset)
    return chunk === 0n ? r.start + BigInt(offset) : r.start + (chunk << CHUNK_BITS) + BigInt(offset)
  }

  /** The lowest free address, without taking it; null when the space is exhausted. */
  lowest(): bigint | null {
    return this.findLowest() && this.atRange !== null ? this.value(this.atRange, this.atChunk, this.atOffset) : null
  }

  /** Point at[Range, Chunk, Offset] at the lowest free address; false when there is none. */
  private findLowest(): boolean {
    for (const r of this.ranges) {
      // A chunk is only ever full after 2^52 allocations or when the range is small, so this loop runs
      // once per range in practice; its bound is the range's chunk count either way.
      for (let c = 0n; c < r.chunks; c++) {
        const g = this.gapsFor(r, c, false) ?? this.newGaps(r, c)
        const o = g.lowest()
        if (o !== null) {
          this.atRange = r
          this.atChunk = c
          this.atOffset = o
          return true
        }
      }
    }
    return false
  }

  /** Take the lowest free address; null when the space is exhausted. */
  takeLowest(): bigint | null {
    const r = this.claimLowest() ? this.atRange : null
    return r === null ? null : this.value(r, this.atChunk, this.atOffset)
  }

  /** Take the lowest free address without making its bigint value; false when the space is exhausted. */
  claimLowest(): boolean {
    this.slotGaps = null
    const r = this.findLowest() ? this.atRange : null
    if (r === null) return false
    const g = this.gapsFor(r, this.atChunk, true)
    if (g === null || g.takeLowest() === null) return false
    this.took(g, this.atOffset)
    return true
  }

  private took(g: Gaps, offset: number): void {
    this.used++
    this.changes++
    this.slotGaps = g
    this.slotOffset = offset
  }

  /** A count of changes: while it stays the same, what lowest() returned is still the lowest free. */
  get stamp(): number {
    return this.changes
  }

  /** The chunk gaps of the address the last successful take/claimLowest took (null after a failed one). */
  get takenGaps(): Gaps | null {
    return this.slotGaps
  }

  /** Its offset in that chunk. */
  get takenOffset(): number {
    return this.slotOffset
  }

  isFree(v: bigint): boolean {
    const r = this.locate(v) ? this.atRange : null
    if (r === null) return false
    const g = this.gapsFor(r, this.atChunk, false) ?? this.newGaps(r, this.atChunk)
    return g.isFree(this.atOffset)
  }

  /** Take a given address; false when it is not free (taken, unusable or outside the space). */
  take(v: bigint): boolean {
    this.slotGaps = null
    const r = this.locate(v) ? this.atRange : null
    if (r === null) return false
    const offset = this.atOffset
    const g = this.gapsFor(r, this.atChunk, true)
    if (g === null || !g.take(offset)) return false
    this.took(g, offset)
    return true
  }

  /** Give back an address taken before; false (and no change) when it was free or is not in the space. */
  give(v: bigint): boolean {
    const r = this.locate(v) ? this.atRange : null
    if (r === null) return false
    const g = this.gapsFor(r, this.atChunk, false)
    return g !== null && this.giveSlot(g, this.atOffset)
  }

  /** Give back an address by the slot its take reported (takenGaps, takenOffset). */
  giveSlot(g: Gaps, offset: number): boolean {
    if (!g.give(offset)) return false
    this.used--
    this.changes++
    return true
  }
}
