// The free addresses of one pool and family, kept as an ordered set of disjoint gaps [start, end] in an AVL
// tree keyed by start. Taking the lowest free address, taking a given one and giving one back each cost
// O(log g) for g gaps, and g <= assigned addresses + ranges in the pool: the pool's size never matters, so an
// IPv6 /64 costs what a /28 costs. Nothing is ever materialised per address.
//
// avoid-buggy-ips (IPv4 .0 and .255) is folded in through `usable`: gap ends are always usable addresses,
// and a gap holding no usable address is not stored, so the lowest gap start is always allocatable.

interface Node {
  start: bigint
  end: bigint
  left: Node | null
  right: Node | null
  height: number
}

const h = (n: Node | null): number => (n === null ? 0 : n.height)

function fix(n: Node): Node {
  n.height = Math.max(h(n.left), h(n.right)) + 1
  return n
}

function rotateRight(n: Node): Node {
  const l = n.left
  if (l === null) return n
  n.left = l.right
  l.right = fix(n)
  return fix(l)
}

function rotateLeft(n: Node): Node {
  const r = n.right
  if (r === null) return n
  n.right = r.left
  r.left = fix(n)
  return fix(r)
}

function balance(n: Node): Node {
  fix(n)
  const bf = h(n.left) - h(n.right)
  if (bf > 1 && n.left !== null) {
    if (h(n.left.left) < h(n.left.right)) n.left = rotateLeft(n.left)
    return rotateRight(n)
  }
  if (bf < -1 && n.right !== null) {
    if (h(n.right.right) < h(n.right.left)) n.right = rotateRight(n.right)
    return rotateLeft(n)
  }
  return n
}

function insert(n: Node | null, start: bigint, end: bigint): Node {
  if (n === null) return { start, end, left: null, right: null, height: 1 }
  if (start < n.start) n.left = insert(n.left, start, end)
  else n.right = insert(n.right, start, end)
  return balance(n)
}

function removeMin(n: Node): { root: Node | null; min: Node } {
  if (n.left === null) return { root: n.right, min: n }
  const r = removeMin(n.left)
  n.left = r.root
  return { root: balance(n), min: r.min }
}

function remove(n: Node | null, start: bigint): Node | null {
  if (n === null) return null
  if (start < n.start) n.left = remove(n.left, start)
  else if (start > n.start) n.right = remove(n.right, start)
  else {
    if (n.left === null) return n.right
    if (n.right === null) return n.left
    const { root, min } = removeMin(n.right)
    min.right = root
    min.left = n.left
    return balance(min)
  }
  return balance(n)
}

/** Which addresses of the space may be handed out, and how to step over those that may not. */
export interface Usable {
  /** Smallest usable address >= v (may exceed the family's maximum). */
  next(v: bigint): bigint
  /** Largest usable address <= v (may be negative). */
  prev(v: bigint): bigint
  /** Number of usable addresses in [a, b]. */
  count(a: bigint, b: bigint): bigint
}

export const ALL_USABLE: Usable = {
  next: v => v,
  prev: v => v,
  count: (a, b) => (b >= a ? b - a + 1n : 0n),
}

// Usable addresses below n when the last octet must be 1..254.
function belowNonBuggy(n: bigint): bigint {
  if (n <= 0n) return 0n
  const blocks = n / 256n
  const rest = n % 256n
  const partial = rest <= 1n ? 0n : rest - 1n > 254n ? 254n : rest - 1n
  return blocks * 254n + partial
}

/** IPv4 with avoid-buggy-ips: addresses ending in .0 or .255 are never handed out. */
export const NON_BUGGY_V4: Usable = {
  next(v) {
    const last = v & 255n
    if (last === 0n) return v + 1n
    if (last === 255n) return v + 2n
    return v
  },
  prev(v) {
    const last = v & 255n
    if (last === 255n) return v - 1n
    if (last === 0n) return v - 2n
    return v
  },
  count: (a, b) => (b >= a ? belowNonBuggy(b + 1n) - belowNonBuggy(a) : 0n),
}

export class FreeSpace {
  private root: Node | null = null
  private free = 0n
  readonly capacity: bigint

  constructor(
    ranges: readonly { readonly start: bigint; readonly end: bigint }[],
    private readonly usable: Usable,
  ) {
    let cap = 0n
    for (const r of ranges) {
      const s = usable.next(r.start)
      const e = usable.prev(r.end)
      if (s > e) continue
      // Ranges of one pool never overlap (the parser refuses it), so each is one gap to begin with.
      this.root = insert(this.root, s, e)
      cap += usable.count(s, e)
    }
    this.capacity = cap
    this.free = cap
  }

  get freeCount(): bigint {
    return this.free
  }

  get inUse(): bigint {
    return this.capacity - this.free
  }

  /** Number of gaps, for tests of the O(assigned) size bound. */
  gapCount(): number {
    const walk = (n: Node | null): number => (n === null ? 0 : 1 + walk(n.left) + walk(n.right))
    return walk(this.root)
  }

  /** The gap containing v, or null. */
  private gapOf(v: bigint): Node | null {
    let n = this.root
    let best: Node | null = null
    while (n !== null) {
      if (n.start <= v) {
        best = n
        n = n.right
      } else n = n.left
    }
    return best !== null && v <= best.end ? best : null
  }

  isFree(v: bigint): boolean {
    return this.usable.next(v) === v && this.gapOf(v) !== null
  }

  /** The lowest free address, without taking it. */
  lowest(): bigint | null {
    let n = this.root
    if (n === null) return null
    while (n.left !== null) n = n.left
    return n.start
  }

  /** Take the lowest free address; null when the space is exhausted. */
  takeLowest(): bigint | null {
    let n = this.root
    if (n === null) return null
    while (n.left !== null) n = n.left
    const v = n.start
    const next = this.usable.next(v + 1n)
    // Raising the smallest key keeps the order (it stays below its successor's start), so no rebalancing.
    if (next > n.end) this.root = remove(this.root, v)
    else n.start = next
    this.free -= 1n
    return v
  }

  /** Take a given address; false when it is not free (taken, unusable or outside the space). */
  take(v: bigint): boolean {
    if (this.usable.next(v) !== v) return false
    const g = this.gapOf(v)
    if (g === null) return false
    const leftEnd = this.usable.prev(v - 1n)
    const rightStart = this.usable.next(v + 1n)
    const end = g.end
    if (leftEnd >= g.start) {
      g.end = leftEnd // shrinking a gap in place keeps the order
      if (rightStart <= end) this.root = insert(this.root, rightStart, end)
    } else if (rightStart <= end) {
      g.start = rightStart // still above the previous gap, still below the next
    } else this.root = remove(this.root, g.start)
    this.free -= 1n
    return true
  }

  /**
   * Give back an address taken before. The caller guarantees it belongs to the space's ranges and is
   * usable; giving back a free address is a no-op (returns false).
   */
  give(v: bigint): boolean {
    if (this.usable.next(v) !== v) return false
    // Predecessor (largest start <= v) and successor (smallest start > v) in one descent.
    let n = this.root
    let pred: Node | null = null
    let succ: Node | null = null
    while (n !== null) {
      if (n.start <= v) {
        pred = n
        n = n.right
      } else {
        succ = n
        n = n.left
      }
    }
    if (pred !== null && v <= pred.end) return false
    const joinsPred = pred !== null && pred.end === this.usable.prev(v - 1n)
    const joinsSucc = succ !== null && succ.start === this.usable.next(v + 1n)
    if (pred !== null && joinsPred && succ !== null && joinsSucc) {
      const end = succ.end
      this.root = remove(this.root, succ.start)
      pred.end = end
    } else if (pred !== null && joinsPred) pred.end = v
    else if (succ !== null && joinsSucc) succ.start = v
    else this.root = insert(this.root, v, v)
    this.free += 1n
    return true
  }
}
