import t from 'tap'
import { liveMembers, observeHeartbeat, observeLease } from '../../speaker/core/membership.js'
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

t.test('peer heartbeats take a silent or leaving node out before its Lease expires, never keep one in', async t => {
  const lease = { renewTime: 'r1', observedAtMs: 0, durationMs: 3000 }
  const leases = new Map([['a', lease], ['b', lease], ['c', lease], ['old', lease]])
  const nodes = [node('a'), node('b'), node('c'), node('old')]
  // b and c heard at 1000 with 200 ms intervals (deadline 600 ms); a heard at 1500; 'old' never sends any.
  const heard = new Map([
    ['a', observeHeartbeat('alive', 200, 1500)],
    ['b', observeHeartbeat('alive', 200, 1000)],
    ['c', observeHeartbeat('alive', 200, 1000)],
  ])
  const at1200 = liveMembers(nodes, leases, 1200, heard)
  t.same([...at1200.live].sort(), ['a', 'b', 'c', 'old'])
  t.equal(at1200.nextExpiryMs, 1600, 're-evaluate when b and c fall silent')
  t.same([...liveMembers(nodes, leases, 1600, heard).live].sort(), ['a', 'old'], 'b and c silent for 3 intervals: out, though their Leases run to 3000')
  const leaving = new Map(heard).set('a', observeHeartbeat('leaving', 200, 1550))
  t.same([...liveMembers(nodes, leases, 1550, leaving).live].sort(), ['b', 'c', 'old'], 'a said it is leaving: out at once')
  t.same([...liveMembers([node('a', { ready: false })], leases, 1200, heard).live], [], 'a heartbeat does not make a NotReady node live')
  t.same([...liveMembers(nodes, new Map([['old', lease]]), 1200, heard).live], ['old'], 'nor a node without a fresh Lease')
})

t.test('silence counts only while the observer hears someone: a deaf speaker falls back to the Leases', async t => {
  const lease = { renewTime: 'r1', observedAtMs: 0, durationMs: 3000 }
  const leases = new Map([['a', lease], ['b', lease]])
  const heard = new Map([['a', observeHeartbeat('alive', 200, 1000)], ['b', observeHeartbeat('alive', 200, 1000)]])
  const m = liveMembers([node('a'), node('b')], leases, 2000, heard)
  t.same([...m.live].sort(), ['a', 'b'], 'nobody heard for a while: our receive path may be broken, so nobody is passed over')
  t.equal(m.nextExpiryMs, 3000, 'until the Leases say so')
  t.same([...liveMembers([node('a'), node('b')], leases, 3000, heard).live], [])
})

t.test('the observer takes itself out once it has not managed to send a heartbeat for as long as peers wait', async t => {
  const lease = { renewTime: 'r1', observedAtMs: 0, durationMs: 3000 }
  const leases = new Map([['me', lease], ['b', lease]])
  const sentAt1000 = new Map([['me', observeHeartbeat('alive', 200, 1000)]])
  t.same([...liveMembers([node('me'), node('b')], leases, 1500, sentAt1000, 'me').live].sort(), ['b', 'me'])
  t.same([...liveMembers([node('me'), node('b')], leases, 1600, sentAt1000, 'me').live], ['b'],
    'sends failing for 3 intervals: out, even though nobody else is heard (our own failure is known, not inferred)')
  const m = liveMembers([node('me')], leases, 1100, sentAt1000, 'me')
  t.equal(m.nextExpiryMs, 1600, 're-evaluate when our own heartbeats would be missed')
  t.same([...liveMembers([node('b')], leases, 1400, new Map([['b', observeHeartbeat('alive', 200, 1000)], ['me', observeHeartbeat('alive', 200, 1390)]]), 'me').live], ['b'],
    'our own heartbeat is no evidence that we hear others: b stays in on its Lease')
})

t.test('a Lease renewal seen after the silence began, or after a leaving, overrides the heartbeat', async t => {
  const at = (ms: number) => ({ renewTime: `r${ms}`, observedAtMs: ms, durationMs: 3000 })
  const nodes = [node('a'), node('b'), node('c')]
  // b and c keep us hearing; a went silent after 1000 (deadline 600 ms: silent from 1600).
  const heard = (aObs: ReturnType<typeof observeHeartbeat>) => new Map([['a', aObs], ['b', observeHeartbeat('alive', 200, 2000)], ['c', observeHeartbeat('alive', 200, 2000)]])
  const silentA = heard(observeHeartbeat('alive', 200, 1000))
  t.same([...liveMembers(nodes, new Map([['a', at(1500)], ['b', at(0)], ['c', at(0)]]), 2100, silentA).live].sort(), ['b', 'c'],
    'renewed before the silence began (a SIGKILL right after a renewal): out')
  t.same([...liveMembers(nodes, new Map([['a', at(1700)], ['b', at(0)], ['c', at(0)]]), 2100, silentA).live].sort(), ['a', 'b', 'c'],
    'renewed while its heartbeats are silent: alive, its heartbeats are being lost on the way (judged by the Lease)')
  const leavingA = heard(observeHeartbeat('leaving', 200, 1000))
  t.same([...liveMembers(nodes, new Map([['a', at(900)], ['b', at(0)], ['c', at(0)]]), 1100, leavingA).live].sort(), ['b', 'c'], 'leaving: out')
  t.same([...liveMembers(nodes, new Map([['a', at(1800)], ['b', at(0)], ['c', at(0)]]), 2100, leavingA).live].sort(), ['a', 'b', 'c'],
    'a Lease renewed after its leaving: it came back (without heartbeats) and counts again')
})

t.test('after hearing nobody, silence counts only from when the observer hears again', async t => {
  const lease = { renewTime: 'r1', observedAtMs: 0, durationMs: 10_000 }
  const leases = new Map([['a', lease], ['b', lease]])
  // We heard nobody until a's heartbeat at 5000 (a has sent again at 5300); b's last one was at 1000, before our
  // deafness ended.
  const heard = new Map([['a', observeHeartbeat('alive', 200, 5300)], ['b', observeHeartbeat('alive', 200, 1000)]])
  t.same([...liveMembers([node('a'), node('b')], leases, 5100, heard, null, 5000).live].sort(), ['a', 'b'],
    'b is not passed over the moment we hear again: it gets its 3 intervals from then')
  t.same([...liveMembers([node('a'), node('b')], leases, 5650, heard, null, 5000).live].sort(), ['a'], 'and is out after them')
})
