import t from 'tap'
import { liveMembers, observeLease } from '../../speaker/core/membership.js'
import type { NodeView } from '../../controller/core/views.js'

const node = (name: string, over: Partial<NodeView> = {}): NodeView =>
  ({ name, ready: true, labels: {}, excludedFromLoadBalancers: false, ...over })

t.test('a node is live while Ready, not excluded, and its Lease is fresh', async t => {
  const leases = new Map([
    ['a', { renewTime: 'r1', observedAtMs: 1000, durationMs: 3000 }],
    ['b', { renewTime: 'r1', observedAtMs: 0, durationMs: 3000 }],
    ['c', { renewTime: 'r1', observedAtMs: 1000, durationMs: 3000 }],
    ['d', { renewTime: 'r1', observedAtMs: 1000, durationMs: 3000 }],
  ])
  const m = liveMembers([node('a'), node('b'), node('c', { ready: false }), node('d', { excludedFromLoadBalancers: true }), node('e')], leases, 3500)
  t.same([...m.live], ['a'], 'b expired, c NotReady, d excluded, e has no speaker Lease')
  t.equal(m.nextExpiryMs, 4000, 're-evaluate when a expires')
  t.same([...liveMembers([node('a')], leases, 4000).live], [], 'expiry is exclusive')
})

t.test('freshness is measured on the observer clock from the last renewTime change', async t => {
  const first = observeLease(undefined, '2026-11-22T01:00:00.000000Z', 3000, 100)
  t.equal(first.observedAtMs, 100)
  const same = observeLease(first, '2026-11-22T01:00:00.000000Z', 3000, 2500)
  t.equal(same, first, 'a re-delivered Lease without a new renewTime does not extend it')
  const renewed = observeLease(first, '2026-11-22T01:00:00.750000Z', 3000, 2600)
  t.equal(renewed.observedAtMs, 2600, 'a renewal restarts the clock, whatever the server timestamp says')
})
