// The tests' manual clock (test/lib/manual-clock.ts): what the responder shell tests rely on.
import t from 'tap'
import { ManualClock } from '../lib/manual-clock.js'

t.test('nothing fires until advance; due timers fire in time order, ties in the order set', async t => {
  const clock = new ManualClock(0)
  const fired: Array<[string, number]> = []
  const at = (name: string) => () => fired.push([name, clock.now()])
  clock.setTimeout(at('c'), 30)
  clock.setTimeout(at('a'), 10)
  clock.setTimeout(at('b1'), 20)
  clock.setTimeout(at('b2'), 20)
  t.same(fired, [], 'not fired by setting')
  await clock.advance(25)
  t.same(fired, [['a', 10], ['b1', 20], ['b2', 20]], 'each at its due time, as now() reads while it runs')
  t.equal(clock.now(), 25)
  t.equal(clock.pending, 1)
  await clock.advance(5)
  t.same(fired.at(-1), ['c', 30], 'a timer due exactly at the end of the step fires')
})

t.test('timers set by timers within the step fire in the same advance; later ones wait', async t => {
  const clock = new ManualClock(0)
  const fired: number[] = []
  const tick = (): void => {
    fired.push(clock.now())
    clock.setTimeout(tick, 10)
  }
  clock.setTimeout(tick, 10)
  await clock.advance(35)
  t.same(fired, [10, 20, 30])
  t.equal(clock.pending, 1, 'the one due at 40 is still pending')
})

t.test('clearTimeout cancels, also from within another timer; undefined and fired handles are ignored', async t => {
  const clock = new ManualClock(0)
  const fired: string[] = []
  const late = clock.setTimeout(() => fired.push('late'), 20)
  const early = clock.setTimeout(() => { fired.push('early'); clock.clearTimeout(late) }, 10)
  const never = clock.setTimeout(() => fired.push('never'), 5)
  clock.clearTimeout(never)
  clock.clearTimeout(undefined)
  await clock.advance(50)
  clock.clearTimeout(early)
  t.same(fired, ['early'])
  t.equal(clock.pending, 0)
})

t.test('promise callbacks a timer queues run before the next timer', async t => {
  const clock = new ManualClock(0)
  const order: string[] = []
  clock.setTimeout(() => { void Promise.resolve().then(() => Promise.resolve()).then(() => order.push('then')) }, 10)
  clock.setTimeout(() => order.push('second'), 11)
  await clock.advance(20)
  t.same(order, ['then', 'second'])
})

t.test('a delay under 1 ms counts as 1 ms, as in Node; next() jumps to the next timer', async t => {
  const clock = new ManualClock(100)
  const fired: number[] = []
  clock.setTimeout(() => fired.push(clock.now()), 0)
  clock.setTimeout(() => fired.push(clock.now()), Number.NaN)
  await clock.advance(0)
  t.same(fired, [], 'not within the call, not at advance(0)')
  t.equal(await clock.next(), true)
  t.same(fired, [101, 101])
  t.equal(await clock.next(), false, 'none left')
  await t.rejects(clock.advance(-1), RangeError)
})
