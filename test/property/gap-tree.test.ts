// The gap B+tree against a plain model (a set of taken offsets), with small nodes so that a few hundred
// operations split, borrow, merge and collapse nodes on every level; every step also checks the tree's own
// invariants (order, routing bounds, fill, equal leaf depth) through gaps().
import t from 'tap'
import fc from 'fast-check'
import { GapTree, type OffsetRule } from '../../controller/core/gap-tree.js'

const SIZE = 300
const all: OffsetRule = { next: o => o, prev: o => o, usable: () => true }
// Like avoid-buggy-ips with a period of 8: offsets ending in 0 or 7 (mod 8) are never handed out.
const holes: OffsetRule = {
  next: o => (o % 8 === 0 ? o + 1 : o % 8 === 7 ? o + 2 : o),
  prev: o => (((o % 8) + 8) % 8 === 7 ? o - 1 : ((o % 8) + 8) % 8 === 0 ? o - 2 : o),
  usable: o => o % 8 !== 0 && o % 8 !== 7,
}

/** The gaps the model's free offsets make, in order. */
function modelGaps(taken: ReadonlySet<number>, rule: OffsetRule): [number, number][] {
  const out: [number, number][] = []
  for (let o = 0; o < SIZE; o++) {
    if (!rule.usable(o) || taken.has(o)) continue
    const last = out[out.length - 1]
    if (last !== undefined && last[1] === rule.prev(o - 1)) last[1] = o
    else out.push([o, o])
  }
  return out
}

const op = fc.record({ kind: fc.constantFrom('take' as const, 'give' as const, 'lowest' as const), o: fc.integer({ min: -1, max: SIZE }) })

for (const [name, rule] of [['every offset usable', all], ['unusable offsets', holes]] as const) {
  // Small nodes, so a few hundred operations split, borrow and merge at every level; leaves and inner nodes
  // of different sizes, as in the default shape.
  for (const shape of [{ leaf: 4, inner: 4 }, { leaf: 5, inner: 5 }, { leaf: 8, inner: 8 }, { leaf: 4, inner: 7 }, { leaf: 9, inner: 4 }]) {
    t.test(`${name}, leaf ${shape.leaf}, inner ${shape.inner}: same answers and gaps as the model`, async t => {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 600 }), fc.boolean(), (ops, fillFirst) => {
          const tree = new GapTree(rule, 0, SIZE - 1, shape)
          const taken = new Set<number>()
          // Half the runs start from a fragmented tree: every other offset taken, many leaves.
          if (fillFirst) for (let o = 0; o < SIZE; o += 2) if (rule.usable(o) && tree.take(o)) taken.add(o)
          for (const { kind, o } of ops) {
            const inRange = o >= 0 && o < SIZE && rule.usable(o)
            if (kind === 'take') {
              const want = inRange && !taken.has(o)
              if (tree.isFree(o) !== want) throw new Error(`isFree(${o})`)
              if (tree.take(o) !== want) throw new Error(`take(${o}) should be ${want}`)
              if (want) taken.add(o)
            } else if (kind === 'give') {
              if (o < 0 || o >= SIZE) continue // AddressSpace never gives back outside the chunk
              const want = inRange && taken.has(o)
              if (tree.give(o) !== want) throw new Error(`give(${o}) should be ${want}`)
              if (want) taken.delete(o)
            } else {
              const want = modelGaps(taken, rule)[0]?.[0] ?? null
              if (tree.lowest() !== want) throw new Error(`lowest ${tree.lowest()} but ${want}`)
            }
            const got = JSON.stringify(tree.gaps())
            const want = JSON.stringify(modelGaps(taken, rule))
            if (got !== want) throw new Error(`after ${kind}(${o}): ${got} but ${want}`)
          }
        }),
        { numRuns: 200 },
      )
      t.pass('matches')
    })
  }
}
