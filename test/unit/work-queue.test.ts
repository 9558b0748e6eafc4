import t from 'tap'
import { WorkQueue, type WorkResult } from '../../controller/kube/work-queue.js'

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = (): void => {}
  const promise = new Promise<void>(r => { resolve = r })
  return { promise, resolve }
}

t.test('a key queued many times is processed once', async t => {
  const seen: string[] = []
  const q = new WorkQueue({ process: async k => { seen.push(k); return 'ok' }, onReprocessAll: () => {} })
  for (let i = 0; i < 5; i++) { q.add('a'); q.add('b') }
  await q.idle()
  t.same(seen, ['a', 'b'])
  q.close()
})

t.test('a key added while it is processed runs again afterwards, never concurrently', async t => {
  const gate = deferred()
  let running = 0
  let maxRunning = 0
  let runs = 0
  const q = new WorkQueue({
    process: async () => {
      running++; maxRunning = Math.max(maxRunning, running); runs++
      if (runs === 1) await gate.promise
      running--
      return 'ok'
    },
    onReprocessAll: () => {},
  })
  q.add('a')
  await new Promise(r => setImmediate(r))
  q.add('a'); q.add('a')
  gate.resolve()
  await q.idle()
  await new Promise(r => setTimeout(r, 10))
  await q.idle()
  t.equal(runs, 2, 'one more run for the adds during processing')
  t.equal(maxRunning, 1)
  q.close()
})

t.test('retry backs off, then succeeds; giveUp and reprocessAll are reported', async t => {
  const results: WorkResult[] = ['retry', 'retry', 'ok']
  const times: number[] = []
  let reprocessed = 0
  const gaveUp: string[] = []
  const q = new WorkQueue({
    baseDelayMs: 20,
    process: async k => {
      if (k === 'all') return 'reprocessAll'
      if (k === 'bad') return 'giveUp'
      times.push(Date.now())
      return results.shift() ?? 'ok'
    },
    onReprocessAll: () => { reprocessed++ },
    onGiveUp: k => { gaveUp.push(k) },
  })
  q.add('x'); q.add('all'); q.add('bad')
  const deadline = Date.now() + 2000
  while (times.length < 3 && Date.now() < deadline) await new Promise(r => setTimeout(r, 10))
  t.equal(times.length, 3, 'two retries then success')
  const [t0 = 0, t1 = 0, t2 = 0] = times
  t.ok(t1 - t0 >= 15, `first retry waited ${t1 - t0} ms`)
  t.ok(t2 - t1 >= 35, `second retry waited longer (${t2 - t1} ms)`)
  t.equal(reprocessed, 1)
  t.same(gaveUp, ['bad'])
  q.close()
})

t.test('several workers: keys run side by side, a key never on two workers, a key added while running runs again', async t => {
  const running = new Set<string>()
  let most = 0
  let overlap = false
  const runs: string[] = []
  const q = new WorkQueue({
    workers: 4,
    onReprocessAll: () => {},
    process: async key => {
      if (running.has(key)) overlap = true
      running.add(key)
      most = Math.max(most, running.size)
      runs.push(key)
      await new Promise(r => setTimeout(r, 20))
      running.delete(key)
      return 'ok'
    },
  })
  for (let i = 0; i < 8; i++) q.add(`k${i}`)
  await new Promise(r => setTimeout(r, 5))
  q.add('k0') // while k0 runs: once more afterwards, never twice at once
  await q.idle()
  t.equal(most, 4, 'four at a time')
  t.notOk(overlap, 'no key on two workers at once')
  t.equal(runs.filter(k => k === 'k0').length, 2, 'k0 ran again after the add during its run')
  t.equal(runs.length, 9)
  q.close()
})
