// LazyDeleteMap against a plain Map: the same answers for every interleaving of set, delete, remove, get and
// has, before and after the rebuilds that drop vacated keys (forced by runs with thousands of deletes).
import t from 'tap'
import fc from 'fast-check'
import { LazyDeleteMap } from '../../controller/core/lazy-delete-map.js'

type Op = { readonly kind: 'set' | 'delete' | 'remove' | 'get'; readonly key: number; readonly value: number }

const op: fc.Arbitrary<Op> = fc.record({
  kind: fc.constantFrom('set' as const, 'delete' as const, 'remove' as const, 'get' as const),
  // A small key space, so keys come back after being deleted: the case the class exists for.
  key: fc.integer({ min: 0, max: 40 }),
  value: fc.integer(),
})

function same(m: LazyDeleteMap<number, number>, model: Map<number, number>): void {
  if (m.size !== model.size) throw new Error(`size ${m.size}, model ${model.size}`)
  const got = [...m.entries()].sort((a, b) => a[0] - b[0])
  const want = [...model.entries()].sort((a, b) => a[0] - b[0])
  if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`entries ${JSON.stringify(got)}, model ${JSON.stringify(want)}`)
  const values = [...m.values()].sort((a, b) => a - b)
  if (JSON.stringify(values) !== JSON.stringify(want.map(e => e[1]).sort((a, b) => a - b))) throw new Error('values differ')
}

t.test('same answers as a Map', async t => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 3000 }), ops => {
      const m = new LazyDeleteMap<number, number>()
      const model = new Map<number, number>()
      for (const o of ops) {
        if (o.kind === 'set') {
          m.set(o.key, o.value)
          model.set(o.key, o.value)
        } else if (o.kind === 'delete') {
          if (m.delete(o.key) !== model.delete(o.key)) throw new Error(`delete(${o.key})`)
        } else if (o.kind === 'remove') {
          const want = model.get(o.key)
          model.delete(o.key)
          if (m.remove(o.key) !== want) throw new Error(`remove(${o.key})`)
        } else {
          if (m.get(o.key) !== model.get(o.key)) throw new Error(`get(${o.key})`)
          if (m.has(o.key) !== model.has(o.key)) throw new Error(`has(${o.key})`)
        }
      }
      same(m, model)
    }),
    { numRuns: 200 },
  )
  t.pass('200 random sequences agree with a Map')
})

t.test('rebuilds keep every live entry, and clear empties it', async t => {
  const m = new LazyDeleteMap<string, number>()
  const model = new Map<string, number>()
  // Many distinct keys deleted (vacancies pile up past the rebuild threshold several times) among live ones.
  const wrong: string[] = []
  for (let i = 0; i < 20_000; i++) {
    m.set(`k${i}`, i)
    model.set(`k${i}`, i)
    if (i % 3 !== 0) {
      if (m.remove(`k${i - 1}`) !== model.get(`k${i - 1}`)) wrong.push(`k${i - 1}`)
      model.delete(`k${i - 1}`)
    }
  }
  t.same(wrong, [], 'remove returned what each key held')
  t.equal(m.size, model.size)
  t.same(new Map(m.entries()), model)
  m.clear()
  t.equal(m.size, 0)
  t.same([...m.values()], [])
  t.equal(m.get('k0'), undefined)
})

t.test('deleting while iterating skips what was deleted, across a rebuild too', async t => {
  const m = new LazyDeleteMap<number, number>()
  for (let i = 0; i < 3000; i++) m.set(i, i)
  const seen: number[] = []
  for (const [k] of m.entries()) {
    seen.push(k)
    // While the first 1000 are visited, every key from 1000 on goes: enough deletes to force a rebuild.
    if (k === 0) for (let j = 1000; j < 3000; j++) m.delete(j)
  }
  t.equal(seen.length, 1000, 'a plain Map would visit exactly the 1000 that are left')
  t.same(seen, [...Array(1000).keys()])
  t.equal(m.size, 1000)
})
