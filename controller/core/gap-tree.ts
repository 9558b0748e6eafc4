// The free gaps of one chunk: disjoint [start, end] offset intervals in a B+tree over Float64Arrays.
//
// Why not a binary tree: at a million gaps an AVL tree of object nodes is ~20 levels, each a dependent
// cache miss, and a million small objects for the collector. Here a leaf holds up to `leaf` gaps side by
// side in one typed array (start and end interleaved), an inner node up to `inner` routing keys in another.
// Leaves are small (16 gaps, four cache lines): taking or giving a gap shifts the rest of its leaf, and that
// shift was most of the cost of an allocate+release pair with 64-gap leaves (4x slower than with 16). Inner
// nodes are wide (64), since they change only on a split or merge: a million gaps is four levels, the top
// ones cached. Offsets are below 2^52, exact as doubles.
//
// Routing: inner key k[i] is a lower bound of every start in child i, and k[i+1] is above them all (k[0]
// is never compared, so the leftmost path takes anything smaller). Keys are not kept equal to a child's
// minimum: a start may change in place as long as it stays within its leaf's bounds, which is what makes
// the common cases (shrink or extend a gap by one address) touch nothing but the gap itself.
//
// Every operation is O(log g) for g gaps: one descent, plus at most a second one in the rare case that a
// change crosses a leaf boundary. Leaves and inner nodes are kept at least a quarter full (borrow or merge),
// so the height is that of a B-tree over the gaps that exist now, whatever the history.

/** Which offsets may be handed out (avoid-buggy-ips); see address-space.ts. */
export interface OffsetRule {
  /** Smallest usable offset >= o. */
  next(o: number): number
  /** Largest usable offset <= o (may be negative). */
  prev(o: number): number
  usable(o: number): boolean
}

/** Node capacities: gaps per leaf, children per inner node (each at least 4). */
export interface GapTreeShape {
  readonly leaf: number
  readonly inner: number
}

const DEFAULT_SHAPE: GapTreeShape = { leaf: 16, inner: 64 }

class Leaf {
  n = 0
  /** Gap i is [d[2i], d[2i+1]], ordered by start. */
  readonly d: Float64Array
  prev: Leaf | null = null
  next: Leaf | null = null
  constructor(capacity: number) {
    this.d = new Float64Array(2 * capacity)
  }
}

class Inner {
  n = 0
  readonly k: Float64Array
  readonly c: Node[] = []
  constructor(capacity: number) {
    this.k = new Float64Array(capacity)
  }
}

type Node = Leaf | Inner

/** Index of the largest start <= o in a leaf, or -1. */
function leafFloor(l: Leaf, o: number): number {
  let lo = 0
  let hi = l.n
  while (lo < hi) {
    const m = (lo + hi) >>> 1
    if ((l.d[2 * m] ?? 0) <= o) lo = m + 1
    else hi = m
  }
  return lo - 1
}

/** Child index to follow for o: the largest i >= 1 with k[i] <= o, else 0. */
function route(n: Inner, o: number): number {
  let lo = 1
  let hi = n.n
  while (lo < hi) {
    const m = (lo + hi) >>> 1
    if ((n.k[m] ?? 0) <= o) lo = m + 1
    else hi = m
  }
  return lo - 1
}

export class GapTree {
  private root: Node
  /** The leftmost leaf: it is never replaced (splits and merges keep the left node), so lowest() is O(1). */
  private readonly head: Leaf
  private count = 0
  private readonly leafMax: number
  private readonly innerMax: number
  /** Fewest entries a non-root node keeps (a quarter of its capacity, at least two). */
  private readonly leafMin: number
  private readonly innerMin: number
  // Where the last descend() landed: fields rather than a returned object, as this runs on every call.
  private atLeaf: Leaf
  private atIndex = -1
  /** Every start in atLeaf must stay below this (the routing key right of its path); Infinity at the right. */
  private atHigh = Infinity

  constructor(
    private readonly rule: OffsetRule,
    first: number,
    last: number,
    shape: GapTreeShape = DEFAULT_SHAPE,
  ) {
    if (shape.leaf < 4 || shape.inner < 4) throw new RangeError('gap tree nodes must hold at least 4 entries')
    this.leafMax = shape.leaf
    this.innerMax = shape.inner
    // At least two, so a non-root inner node always has a sibling to borrow from or merge with.
    this.leafMin = Math.max(2, shape.leaf >> 2)
    this.innerMin = Math.max(2, shape.inner >> 2)
    this.head = new Leaf(shape.leaf)
    this.root = this.head
    this.atLeaf = this.head
    const s = rule.next(first)
    const e = rule.prev(last)
    if (s <= e) this.insert(s, e)
  }

  empty(): boolean {
    return this.count === 0
  }

  size(): number {
    return this.count
  }

  lowest(): number | null {
    return this.head.n > 0 ? (this.head.d[0] ?? null) : null
  }

  /** Point at[Leaf, Index, High] at the leaf whose range holds o and its largest start <= o. */
  private descend(o: number): void {
    let n = this.root
    let high = Infinity
    while (n instanceof Inner) {
      const i = route(n, o)
      if (i + 1 < n.n) {
        const k = n.k[i + 1] ?? Infinity
        if (k < high) high = k
      }
      const c = n.c[i]
      if (c === undefined) break
      n = c
    }
    if (!(n instanceof Leaf)) throw new Error('gap tree: inner node without children')
    this.atLeaf = n
    this.atIndex = leafFloor(n, o)
    this.atHigh = high
  }

  isFree(o: number): boolean {
    if (!this.rule.usable(o)) return false
    this.descend(o)
    const l = this.atLeaf
    const j = this.atIndex
    if (j >= 0) return o <= (l.d[2 * j + 1] ?? -1)
    // Below every start of its leaf: the gap holding o, if any, ends the previous leaf.
    const p = l.prev
    return p !== null && p.n > 0 && o <= (p.d[2 * p.n - 1] ?? -1)
  }

  take(o: number): boolean {
    if (!this.rule.usable(o)) return false
    // The allocator takes the lowest free offset it was just shown: no descent needed for that one.
    if (this.head.n > 0 && this.head.d[0] === o) return this.takeLowest() !== null
    this.descend(o)
    return this.takeFrom(o, this.atLeaf, this.atIndex, this.atHigh)
  }

  /** Take the lowest free offset (the allocator's common case): no descent, it is first in `head`. */
  takeLowest(): number | null {
    const h = this.head
    if (h.n === 0) return null
    const o = h.d[0] ?? 0
    // Any start kept below the head's second gap stays within the head's bounds.
    return this.takeFrom(o, h, 0, h.n > 1 ? (h.d[2] ?? -Infinity) : h === this.root ? Infinity : -Infinity) ? o : null
  }

  /** take(o) with the descent done: l, j and high as descend() leaves them. */
  private takeFrom(o: number, l: Leaf, index: number, high: number): boolean {
    // The gap holding o: in this leaf, or the last of the previous one.
    let g: Leaf = l
    let j = index
    if (j < 0) {
      const p = l.prev
      if (p === null || p.n === 0) return false
      g = p
      j = p.n - 1
    }
    const start = g.d[2 * j] ?? 0
    const end = g.d[2 * j + 1] ?? -1
    if (o < start || o > end) return false
    const leftEnd = this.rule.prev(o - 1)
    const rightStart = this.rule.next(o + 1)
    if (leftEnd >= start) {
      g.d[2 * j + 1] = leftEnd // shrinking a gap in place keeps the order
      if (rightStart <= end) {
        if (g === l && l.n < this.leafMax && rightStart < high) this.insertAt(l, j + 1, rightStart, end)
        else this.insert(rightStart, end)
      }
    } else if (rightStart <= end) {
      // Still above the previous gap and below the next; in place unless it leaves its leaf's bounds.
      if (g === l && rightStart < high) g.d[2 * j] = rightStart
      else {
        this.remove(start)
        this.insert(rightStart, end)
      }
    } else if (g.n > this.leafMin || g === this.root) this.removeAt(g, j)
    else this.remove(start)
    return true
  }

  give(o: number): boolean {
    if (!this.rule.usable(o)) return false
    this.descend(o)
    const l = this.atLeaf
    const j = this.atIndex
    // Predecessor (largest start <= o) and successor (smallest start > o), possibly in the next leaves.
    let pl: Leaf | null = l
    let pj = j
    if (j < 0) {
      pl = l.prev !== null && l.prev.n > 0 ? l.prev : null
      pj = pl === null ? -1 : pl.n - 1
    }
    let sl: Leaf | null = l
    let sj = j + 1
    if (sj >= l.n) {
      sl = l.next
      sj = 0
    }
    const predEnd = pl === null ? -Infinity : (pl.d[2 * pj + 1] ?? -Infinity)
    if (o <= predEnd) return false
    const succStart = sl === null || sl.n === 0 ? Infinity : (sl.d[2 * sj] ?? Infinity)
    const joinsPred = pl !== null && predEnd === this.rule.prev(o - 1)
    const joinsSucc = sl !== null && succStart === this.rule.next(o + 1)
    if (pl !== null && joinsPred && sl !== null && joinsSucc) {
      pl.d[2 * pj + 1] = sl.d[2 * sj + 1] ?? o
      if (sl.n > this.leafMin || sl === this.root) this.removeAt(sl, sj)
      else this.remove(succStart)
    } else if (pl !== null && joinsPred) pl.d[2 * pj + 1] = o
    else if (sl !== null && joinsSucc) {
      // o is within this leaf's bounds (the descent put it here): in place when the successor is here too.
      if (sl === l) l.d[2 * sj] = o
      else {
        const end = sl.d[2 * sj + 1] ?? o
        this.remove(succStart)
        this.insert(o, end)
      }
    } else if (l.n < this.leafMax) this.insertAt(l, j + 1, o, o)
    else this.insert(o, o)
    return true
  }

  /** Insert into a leaf that has room, at position i (order and bounds already checked by the caller). */
  private insertAt(l: Leaf, i: number, s: number, e: number): void {
    // A plain loop: copyWithin's call overhead is larger than moving a few dozen doubles.
    const d = l.d
    for (let x = 2 * l.n - 1; x >= 2 * i; x--) d[x + 2] = d[x] ?? 0
    d[2 * i] = s
    d[2 * i + 1] = e
    l.n++
    this.count++
  }

  /** Remove gap i of a leaf that stays at least `leafMin` full (or is the root). */
  private removeAt(l: Leaf, i: number): void {
    const d = l.d
    const stop = 2 * l.n - 2
    for (let x = 2 * i; x < stop; x++) d[x] = d[x + 2] ?? 0
    l.n--
    this.count--
  }

  /** Insert a gap from the root, splitting full nodes on the way back up. */
  private insert(s: number, e: number): void {
    const split = this.insertInto(this.root, s, e)
    if (split === null) return
    const r = new Inner(this.innerMax)
    r.k[0] = -Infinity
    r.k[1] = split.key
    r.c.push(this.root, split.node)
    r.n = 2
    this.root = r
  }

  // The node split off to the right and its routing key, or null. Returned rarely (once per ~capacity/2
  // inserts), so the small object costs nothing measurable.
  private insertInto(n: Node, s: number, e: number): { key: number; node: Node } | null {
    if (n instanceof Leaf) {
      const i = leafFloor(n, s) + 1
      if (n.n < this.leafMax) {
        this.insertAt(n, i, s, e)
        return null
      }
      // Split: the upper half moves to a new leaf on the right.
      const half = n.n >> 1
      const r = new Leaf(this.leafMax)
      r.d.set(n.d.subarray(2 * half, 2 * n.n))
      r.n = n.n - half
      n.n = half
      r.next = n.next
      if (r.next !== null) r.next.prev = r
      r.prev = n
      n.next = r
      if (i <= half) this.insertAt(n, i, s, e)
      else this.insertAt(r, i - half, s, e)
      return { key: r.d[0] ?? s, node: r }
    }
    const i = route(n, s)
    const child = n.c[i]
    if (child === undefined) return null
    const split = this.insertInto(child, s, e)
    if (split === null) return null
    if (n.n < this.innerMax) {
      this.innerInsertAt(n, i + 1, split.key, split.node)
      return null
    }
    const half = n.n >> 1
    const r = new Inner(this.innerMax)
    r.k.set(n.k.subarray(half, n.n))
    for (let x = half; x < n.n; x++) {
      const c = n.c[x]
      if (c !== undefined) r.c.push(c)
    }
    r.n = n.n - half
    n.c.length = half
    n.n = half
    const key = r.k[0] ?? split.key
    if (i + 1 <= half) this.innerInsertAt(n, i + 1, split.key, split.node)
    else this.innerInsertAt(r, i + 1 - half, split.key, split.node)
    return { key, node: r }
  }

  private innerInsertAt(n: Inner, i: number, key: number, child: Node): void {
    n.k.copyWithin(i + 1, i, n.n)
    n.k[i] = key
    n.c.splice(i, 0, child)
    n.n++
  }

  /** Remove the gap that starts at s (it exists), rebalancing from the root down. */
  private remove(s: number): void {
    this.removeFrom(this.root, s)
    const r = this.root
    if (r instanceof Inner && r.n === 1) {
      const c = r.c[0]
      if (c !== undefined) this.root = c
    }
  }

  private removeFrom(n: Node, s: number): void {
    if (n instanceof Leaf) {
      const i = leafFloor(n, s)
      if (i >= 0 && n.d[2 * i] === s) this.removeAt(n, i)
      return
    }
    const i = route(n, s)
    const child = n.c[i]
    if (child === undefined) return
    this.removeFrom(child, s)
    if (child.n < this.minOf(child)) this.fixUnderflow(n, i)
  }

  private minOf(n: Node): number {
    return n instanceof Leaf ? this.leafMin : this.innerMin
  }

  /** Child i of n has too few entries: borrow one from a sibling, or merge with it. */
  private fixUnderflow(n: Inner, i: number): void {
    const child = n.c[i]
    const left = i > 0 ? n.c[i - 1] : undefined
    const right = i + 1 < n.n ? n.c[i + 1] : undefined
    if (child === undefined) return
    const min = this.minOf(child)
    if (left !== undefined && left.n > min) this.borrowLeft(n, i, left, child)
    else if (right !== undefined && right.n > min) this.borrowRight(n, i, child, right)
    else if (left !== undefined) this.merge(n, i - 1, left, child)
    else if (right !== undefined) this.merge(n, i, child, right)
  }

  private borrowLeft(n: Inner, i: number, left: Node, child: Node): void {
    if (left instanceof Leaf && child instanceof Leaf) {
      const s = left.d[2 * left.n - 2] ?? 0
      const e = left.d[2 * left.n - 1] ?? 0
      left.n--
      child.d.copyWithin(2, 0, 2 * child.n)
      child.d[0] = s
      child.d[1] = e
      child.n++
      n.k[i] = s // the moved gap was the left's largest: everything left stays below it
    } else if (left instanceof Inner && child instanceof Inner) {
      const moved = left.c.pop()
      const key = left.k[left.n - 1] ?? 0
      left.n--
      if (moved === undefined) return
      // The child's old first key becomes a real bound (it was the parent's key for the child).
      child.k[0] = n.k[i] ?? 0
      this.innerInsertAt(child, 0, key, moved)
      n.k[i] = key
    }
  }

  private borrowRight(n: Inner, i: number, child: Node, right: Node): void {
    if (child instanceof Leaf && right instanceof Leaf) {
      child.d[2 * child.n] = right.d[0] ?? 0
      child.d[2 * child.n + 1] = right.d[1] ?? 0
      child.n++
      right.d.copyWithin(0, 2, 2 * right.n)
      right.n--
      n.k[i + 1] = right.d[0] ?? 0
    } else if (child instanceof Inner && right instanceof Inner) {
      const moved = right.c.shift()
      if (moved === undefined) return
      child.k[child.n] = n.k[i + 1] ?? 0
      child.c.push(moved)
      child.n++
      right.k.copyWithin(0, 1, right.n)
      right.n--
      n.k[i + 1] = right.k[0] ?? 0
    }
  }

  /** Merge child i+1 (b) into child i (a): the left node survives, so `head` stays the leftmost leaf. */
  private merge(n: Inner, i: number, a: Node, b: Node): void {
    if (a instanceof Leaf && b instanceof Leaf) {
      a.d.set(b.d.subarray(0, 2 * b.n), 2 * a.n)
      a.n += b.n
      a.next = b.next
      if (a.next !== null) a.next.prev = a
    } else if (a instanceof Inner && b instanceof Inner) {
      b.k[0] = n.k[i + 1] ?? 0
      a.k.set(b.k.subarray(0, b.n), a.n)
      for (const c of b.c) a.c.push(c)
      a.n += b.n
    }
    n.k.copyWithin(i + 1, i + 2, n.n)
    n.c.splice(i + 1, 1)
    n.n--
  }

  /** Every gap in order, and a check of the tree's invariants (tests only). */
  gaps(): [number, number][] {
    const out: [number, number][] = []
    this.check(this.root, -Infinity, Infinity, 0)
    for (let l: Leaf | null = this.head; l !== null; l = l.next) {
      for (let i = 0; i < l.n; i++) out.push([l.d[2 * i] ?? 0, l.d[2 * i + 1] ?? 0])
    }
    if (out.length !== this.count) throw new Error(`gap tree: count ${this.count} but ${out.length} gaps`)
    return out
  }

  private check(n: Node, lo: number, hi: number, depth: number): number {
    if (n !== this.root && n.n < this.minOf(n)) throw new Error('gap tree: underfull node')
    if (n instanceof Leaf) {
      for (let i = 0; i < n.n; i++) {
        const s = n.d[2 * i] ?? 0
        if (s < lo || s >= hi) throw new Error(`gap tree: start ${s} outside [${lo}, ${hi})`)
      }
      return depth
    }
    let leafDepth = -1
    for (let i = 0; i < n.n; i++) {
      const c = n.c[i]
      if (c === undefined) throw new Error('gap tree: missing child')
      const clo = i === 0 ? lo : (n.k[i] ?? 0)
      const chi = i + 1 < n.n ? (n.k[i + 1] ?? 0) : hi
      const d = this.check(c, clo, chi, depth + 1)
      if (leafDepth >= 0 && d !== leafDepth) throw new Error('gap tree: leaves at different depths')
      leafDepth = d
    }
    return leafDepth
  }
}
