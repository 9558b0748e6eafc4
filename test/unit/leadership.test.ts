import t from 'tap'
import { decide, mustStepDown, observe, type LeaseRecord } from '../../controller/core/leadership.js'

const rec = (holder: string, renewTime: string, over: Partial<LeaseRecord> = {}): LeaseRecord =>
  ({ holder, renewTime, durationMs: 15_000, transitions: 0, resourceVersion: '1', ...over })

t.test('candidates wait a whole lease duration of silence before taking over', async t => {
  t.same(decide('b', null, 0), { action: 'create' }, 'no Lease: create it')
  const seen = observe(null, rec('a', 't1'), 1000)
  t.same(decide('b', seen, 15_999), { action: 'wait', holder: 'a', untilMs: 16_000 })
  t.same(decide('b', seen, 16_000), { action: 'takeOver' })
  const renewed = observe(seen, rec('a', 't2'), 10_000)
  t.same(decide('b', renewed, 16_000), { action: 'wait', holder: 'a', untilMs: 25_000 }, 'a renewal restarts the wait')
  t.equal(observe(renewed, rec('a', 't2', { resourceVersion: '9' }), 20_000).observedAtMs, 10_000, 'the same renewTime re-delivered does not')
  t.same(decide('a', renewed, 99_999), { action: 'renew' }, 'the holder renews')
  t.same(decide('b', observe(renewed, rec('', 't3'), 11_000), 11_000), { action: 'takeOver' }, 'a released Lease is free at once')
})

t.test('a leader steps down at the renew deadline, before a candidate may take over', async t => {
  t.equal(mustStepDown(0, 10_000, 9_999), false)
  t.equal(mustStepDown(0, 10_000, 10_000), true)
})
