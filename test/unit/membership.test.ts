// The membership rules of speaker/core/membership.ts, one failure at a time, on a hand-driven clock.
import t from 'tap'
import {
  HEARTBEAT_INTERVAL_ANNOTATION, declaredHeartbeatInterval, liveMembers, observeHeartbeat, observeLease,
  type HeartbeatObservation, type LeaseObservation, type Listening, type MembershipInput, type SelfObservation,
} from '../../speaker/core/membership.js'
import type { NodeView } from '../../internal/core/views.js'

const node = (name: string, over: Partial<NodeView> = {}): NodeView =>
  ({ name, ready: true, labels: {}, excludedFromLoadBalancers: false, ...over })

/** A Lease first seen at `at`; `renewedAt` when a renewal was witnessed then. Heartbeats every 200 ms. */
const lease = (at: number, over: Partial<LeaseObservation> = {}): LeaseObservation =>
  ({ renewTime: `r${at}`, observedAtMs: at, durationMs: 3000, renewalSeenAtMs: at, heartbeatIntervalMs: 200, ...over })
const heard = (at: number, kind: 'alive' | 'standby' | 'leaving' = 'alive', reachesApiSinceMs: number | null = at): HeartbeatObservation =>
  ({ heardAtMs: at, deadlineMs: 600, kind, reachesApiSinceMs })

const me = (over: Partial<SelfObservation> = {}): SelfObservation =>
  ({ name: 'me', leaseRenewedAtMs: null, leaseDurationMs: 3000, renewalsFailingSinceMs: null, lastRenewalOkMs: null, heartbeatSentAtMs: null, ...over })
const listening = (over: Partial<Listening> = {}): Listening => ({ sinceMs: 0, hearingSinceMs: -Infinity, ownIntervalMs: 200, ...over })

function run(over: Partial<MembershipInput> & { nowMs: number }) {
  return liveMembers({
    nodes: [node('me'), node('a'), node('b'), node('c')],
    leases: new Map(),
    heard: new Map(),
    listening: listening(),
    self: me(),
    ...over,
  })
}
const sorted = (s: ReadonlySet<string>): string[] => [...s].sort()

t.test('Leases alone (heartbeats off): a node is live while Ready, not excluded, and its Lease is fresh', async t => {
  const leases = new Map([['a', lease(1000)], ['b', lease(0)], ['c', lease(1000)], ['d', lease(1000)]])
  const nodes = [node('me'), node('a'), node('b'), node('c', { ready: false }), node('d', { excludedFromLoadBalancers: true }), node('e')]
  const m = run({ nodes, leases, listening: null, self: me({ leaseRenewedAtMs: 3000 }), nowMs: 3500 })
  t.same(sorted(m.live), ['a', 'me'], 'b expired, c NotReady, d excluded, e has no speaker Lease; we renew ours')
  t.equal(m.recheckAtMs, 4000, 're-evaluate when a expires')
  t.same(sorted(run({ nodes, leases, listening: null, nowMs: 4000 }).live), [], 'expiry is exclusive; we have not renewed: fenced')
  t.equal(run({ nodes, leases, listening: null, nowMs: 4000 }).self.state, 'fenced')
})

t.test('a Lease is fresh from when this observer saw renewTime change; a first sighting is not a witnessed renewal', async t => {
  const sighting = { renewTime: '2026-11-22T01:00:00.000000Z', durationMs: 3000, heartbeatIntervalMs: 200 }
  const first = observeLease(undefined, sighting, 100)
  t.equal(first.observedAtMs, 100)
  t.equal(first.renewalSeenAtMs, null, 'listed at start: we did not see it renewed (its holder may have died a moment ago)')
  t.equal(observeLease(first, sighting, 2500), first, 'a re-delivered Lease without a new renewTime does not extend it')
  const renewed = observeLease(first, { ...sighting, renewTime: '2026-11-22T01:00:00.750000Z' }, 2600)
  t.equal(renewed.observedAtMs, 2600, 'a renewal restarts the clock, whatever the server timestamp says')
  t.equal(renewed.renewalSeenAtMs, 2600)
  t.equal(observeLease(renewed, { ...sighting, renewTime: renewed.renewTime, heartbeatIntervalMs: 0 }, 2700).heartbeatIntervalMs, 0,
    'the declared interval follows the Lease')
  t.equal(declaredHeartbeatInterval({ [HEARTBEAT_INTERVAL_ANNOTATION]: '200' }), 200)
  t.equal(declaredHeartbeatInterval({ [HEARTBEAT_INTERVAL_ANNOTATION]: '0' }), 0)
  t.equal(declaredHeartbeatInterval({ [HEARTBEAT_INTERVAL_ANNOTATION]: '2e2' }), null, 'unreadable: as if absent')
  t.equal(declaredHeartbeatInterval({}), null)
})

t.test('hearing the LAN: heartbeats decide, whatever the Leases say', async t => {
  const leases = new Map([['a', lease(0)], ['b', lease(0)], ['c', lease(1900)]])
  // a and b heard at 2000; c last heard at 1000 but renewing its Lease (cut from the LAN, reaching the API).
  const h = new Map([['a', heard(2000)], ['b', heard(2000)], ['c', heard(1000)]])
  const m = run({ leases, heard: h, nowMs: 2100 })
  t.same(sorted(m.live), ['a', 'b'], 'c is silent while we hear others: out though its Lease was renewed at 1900 (it cannot answer on this LAN)')
  t.same(sorted(run({ leases, heard: new Map([['a', heard(5400)], ['b', heard(5400)]]), nowMs: 5500 }).live), ['a', 'b'],
    'a and b heard, their Leases long expired (the API server is away): still live')
  t.same(sorted(run({ leases, heard: new Map(h).set('a', heard(2050, 'leaving')), nowMs: 2100 }).live), ['b'], 'leaving: out at once')
  t.same(sorted(run({ leases, heard: new Map(h).set('a', heard(2050, 'standby')), nowMs: 2100 }).live), ['b'], 'standby: alive, but out')
  t.same(sorted(run({ nodes: [node('a', { ready: false }), node('b')], leases, heard: h, nowMs: 2100 }).live), ['b'],
    'a heartbeat does not make a NotReady node live')
  t.same(sorted(run({ leases: new Map([['b', lease(0)]]), heard: h, nowMs: 2100 }).live), ['b'], 'nor a node without a speaker Lease')
  t.equal(run({ leases, heard: h, nowMs: 2100 }).recheckAtMs, 2600, 're-evaluate when a and b would fall silent')
})

t.test('a node killed right after a renewal is out after HEARTBEATS_MISSED intervals, long before its Lease runs out', async t => {
  const leases = new Map([['a', lease(990)], ['b', lease(0)]])
  const h = new Map([['a', heard(1000)], ['b', heard(1500)]])
  t.same(sorted(run({ leases, heard: h, nowMs: 1599 }).live), ['a', 'b'])
  t.same(sorted(run({ leases, heard: h, nowMs: 1600 }).live), ['b'], 'silent for 3 intervals of 200 ms: out; its Lease had until 3990')
})

t.test('deaf (hearing nobody): a silent peer counts again only on a renewal witnessed after its silence began', async t => {
  // Every peer went silent at 1000 (deadline 600: silent from 1600).
  const h = new Map([['a', heard(1000)], ['b', heard(1000)]])
  const nodes = [node('me'), node('a'), node('b')]
  const m = run({ nodes, leases: new Map([['a', lease(1500)], ['b', lease(1700)]]), heard: h, nowMs: 1700 })
  t.same(sorted(m.live), ['b'], 'a renewed before its silence began (a SIGKILL right after a renewal): out; b renewed since: our receive path is what broke, b is live')
  t.equal(m.recheckAtMs, 4700, 'until b\'s Lease says otherwise')
  t.same(sorted(run({ nodes, leases: new Map([['a', lease(1500)], ['b', lease(1700)]]), heard: h, nowMs: 4700 }).live), [])
})

t.test('rule A fixed: the last survivor, hearing nobody, takes over from a killed peer in HEARTBEATS_MISSED intervals', async t => {
  // a (the owner) is killed at 1000 just after renewing; b, restarting, said `leaving` at 900. We hear no one.
  const leases = new Map([['a', lease(990)], ['b', lease(0)]])
  const h = new Map([['a', heard(1000)], ['b', heard(900, 'leaving')]])
  const self = me({ leaseRenewedAtMs: 1400, heartbeatSentAtMs: 1550 })
  const m = run({ nodes: [node('me'), node('a'), node('b')], leases, heard: h, self, nowMs: 1600 })
  t.same(sorted(m.live), ['me'], 'failover after 600 ms, not after a\'s Lease (3990)')
  t.equal(m.self.state, 'serving')
  const back = run({ nodes: [node('me'), node('a'), node('b')], leases: new Map(leases).set('b', lease(1650)), heard: h, self, nowMs: 1700 })
  t.same(sorted(back.live), ['b'], 'b\'s new process renews its Lease after its leaving: a deaf observer counts it again...')
  t.equal(back.self.state, 'standby', '...and stands by: b is alive and we do not hear it, so it does not hear us and has taken our IPs')
})

t.test('rule B fixed: a starting speaker does not defer to a node that died before it started listening', async t => {
  // We started listening at 5000. a died before that: its Lease is listed (first sighting, renewTime never
  // changes again); b is alive and heard.
  const leases = new Map([['a', lease(5000, { renewalSeenAtMs: null })], ['b', lease(5000, { renewalSeenAtMs: null })]])
  const h = new Map([['b', heard(5300)]])
  const l = listening({ sinceMs: 5000, hearingSinceMs: 5100 })
  t.same(sorted(run({ nodes: [node('me'), node('a'), node('b')], leases, heard: h, listening: l, nowMs: 5500 }).live), ['a', 'b'],
    'within the grace (3 intervals from when we started hearing, 5100) a is judged by its Lease')
  t.same(sorted(run({ nodes: [node('me'), node('a'), node('b')], leases, heard: h, listening: l, nowMs: 5700 }).live), ['b'],
    'after it (when a speaker joins) a is out: never heard, and its Lease only listed')
  t.same(sorted(run({ nodes: [node('me'), node('a')], leases, heard: new Map(), listening: l, nowMs: 5700 }).live), [],
    'deaf as well: a listed, never-renewed Lease does not count either')
})

t.test('rule C fixed: a restarted node counts only once its heartbeats say it serves', async t => {
  // a was killed at 1000 and its new process renews its Lease from 2000, before it joins.
  const leases = new Map([['a', lease(2000)], ['b', lease(0)]])
  const h = new Map([['a', heard(1000)], ['b', heard(2000)]])
  t.same(sorted(run({ leases, heard: h, nowMs: 2100 }).live), ['b'], 'renewing, but not heard: out while we hear b')
  t.same(sorted(run({ leases, heard: new Map(h).set('a', heard(2050, 'standby')), nowMs: 2100 }).live), ['b'], 'heard in standby: out')
  t.same(sorted(run({ leases, heard: new Map(h).set('a', heard(2050)), nowMs: 2100 }).live), ['a', 'b'], 'heard alive: in')
})

t.test('after hearing nobody, silence counts only from when the observer hears again', async t => {
  const leases = new Map([['a', lease(0, { durationMs: 10_000 })], ['b', lease(0, { durationMs: 10_000 })]])
  // We heard nobody until a's heartbeat at 5000 (a has sent again at 5300); b's last one was at 1000.
  const h = new Map([['a', heard(5300)], ['b', heard(1000)]])
  const l = listening({ hearingSinceMs: 5000 })
  t.same(sorted(run({ nodes: [node('a'), node('b')], leases, heard: h, listening: l, nowMs: 5100 }).live), ['a', 'b'],
    'b is not passed over the moment we hear again: it gets its 3 intervals from then')
  t.same(sorted(run({ nodes: [node('a'), node('b')], leases, heard: h, listening: l, nowMs: 5650 }).live), ['a'], 'and is out after them')
})

t.test('a node whose Lease says it sends no heartbeats, or an older speaker never heard, is judged by its Lease', async t => {
  const leases = new Map([['a', lease(1000, { heartbeatIntervalMs: 0 })], ['b', lease(1000, { heartbeatIntervalMs: null })], ['c', lease(0)]])
  const h = new Map([['c', heard(3000)]])
  t.same(sorted(run({ leases, heard: h, nowMs: 3500 }).live), ['a', 'b', 'c'])
  t.same(sorted(run({ leases, heard: new Map([['c', heard(3900)]]), nowMs: 4000 }).live), ['c'], 'their Leases expired')
  t.same(sorted(run({ leases, heard: new Map(h).set('b', heard(900)), nowMs: 3500 }).live), ['a', 'c'],
    'an older speaker that was heard is judged by its heartbeats')
})

t.test('this node: it serves while it renews; through an outage for all it serves on heartbeats', async t => {
  const leases = new Map([['a', lease(0)], ['b', lease(0)]])
  const h = new Map([['a', heard(9900, 'alive', null)], ['b', heard(9900, 'alive', null)]])
  const renewing = run({ leases, heard: h, self: me({ leaseRenewedAtMs: 9500, heartbeatSentAtMs: 9950 }), nowMs: 10_000 })
  t.equal(renewing.self.state, 'serving')
  const outage = run({ leases, heard: h, self: me({ leaseRenewedAtMs: 2000, lastRenewalOkMs: 2000, renewalsFailingSinceMs: 2750, heartbeatSentAtMs: 9950 }), nowMs: 10_000 })
  t.equal(outage.self.state, 'serving', 'no one we hear reaches the API server: we keep announcing')
  t.same(sorted(outage.live), ['a', 'b', 'me'], 'and so do they, seven seconds after every Lease ran out')
  t.match(outage.self.reason, /away for every peer/)
})

t.test('this node stands by when it is cut from the API server for two Lease durations while a peer it hears reaches it', async t => {
  const leases = new Map([['a', lease(0)]])
  const self = me({ leaseRenewedAtMs: 1000, lastRenewalOkMs: 1000, renewalsFailingSinceMs: 1750, heartbeatSentAtMs: 9950 })
  const nodes = [node('me'), node('a')]
  const reaching = (since: number) => new Map([['a', heard(9900, 'alive', since)]])
  const early = run({ nodes, leases, heard: reaching(8000), self, nowMs: 10_000 })
  t.equal(early.self.state, 'serving', 'a has reached it for only 2 s (the API server may just be coming back): wait')
  t.equal(early.recheckAtMs, 10_500, 'and look again when a would fall silent (a\'s streak is a Lease long at 11000)')
  const late = run({ nodes, leases, heard: reaching(7000), self, nowMs: 10_000 })
  t.equal(late.self.state, 'standby', 'a sees Nodes and Services we cannot: it takes over')
  t.same(sorted(late.live), ['a'])
  t.equal(run({ nodes, leases, heard: reaching(0), self: { ...self, lastRenewalOkMs: 5000, leaseRenewedAtMs: 5000, renewalsFailingSinceMs: 5750 }, nowMs: 10_000 }).self.state, 'serving',
    'our last good renewal was 5 s ago: not yet two Lease durations (an outage for everyone takes up to one renewal interval to reach every node)')
  t.equal(run({ nodes, leases, heard: new Map([['a', heard(9900, 'alive', null)]]), self, nowMs: 10_000 }).self.state, 'serving',
    'no peer we hear reaches the API server: an outage for everyone, keep serving')
})

t.test('this node, hearing nobody while peers renew their Leases, stands by: they passed it over', async t => {
  const self = me({ leaseRenewedAtMs: 9800, lastRenewalOkMs: 9800, heartbeatSentAtMs: 9950 })
  const nodes = [node('me'), node('a'), node('b')]
  // a and b went silent at 8000 (a split LAN); both renew their Leases, seen at 9500.
  const split = run({ nodes, leases: new Map([['a', lease(9500)], ['b', lease(9500)]]), heard: new Map([['a', heard(8000)], ['b', heard(8000)]]), self, nowMs: 10_000 })
  t.equal(split.self.state, 'standby')
  t.same(sorted(split.live), ['a', 'b'])
  const dead = run({ nodes, leases: new Map([['a', lease(7900)], ['b', lease(7900)]]), heard: new Map([['a', heard(8000)], ['b', heard(8000)]]), self, nowMs: 10_000 })
  t.equal(dead.self.state, 'serving', 'silent and not renewing: they died, we are the survivor')
  t.same(sorted(dead.live), ['me'])
  const leaseOnly = run({ nodes, leases: new Map([['a', lease(9500, { heartbeatIntervalMs: 0 })]]), self, nowMs: 10_000 })
  t.equal(leaseOnly.self.state, 'serving', 'a peer without heartbeats never passed us over: no reason to stand by')
})

t.test('this node fences itself when it neither renews nor hears anyone, unless no one else could take over', async t => {
  const self = me({ leaseRenewedAtMs: 1000, lastRenewalOkMs: 1000, renewalsFailingSinceMs: 1750, heartbeatSentAtMs: 9950 })
  const fenced = run({ nodes: [node('me'), node('a')], leases: new Map([['a', lease(0)]]), self, nowMs: 10_000 })
  t.equal(fenced.self.state, 'fenced')
  t.same(sorted(fenced.live), [])
  t.equal(run({ nodes: [node('me'), node('a', { ready: false })], leases: new Map([['a', lease(0)]]), self, nowMs: 10_000 }).self.state, 'serving',
    'the only node that may announce: fencing would help no one')
  t.equal(run({ nodes: [node('me'), node('a')], leases: new Map([['a', lease(0)]]), self: { ...self, leaseRenewedAtMs: 8000 }, nowMs: 10_000 }).self.state, 'serving',
    'within a Lease duration of our last renewal: still serving')
})

t.test('this node takes itself out when its own heartbeats cannot go out, and counts only once joined and Ready', async t => {
  const self = me({ leaseRenewedAtMs: 9900, heartbeatSentAtMs: 1000 })
  const m = run({ self, nowMs: 1600 })
  t.equal(m.self.state, 'fenced', 'no heartbeat sent for 3 intervals: peers pass us over, so we stop too')
  t.equal(run({ self, nowMs: 1100 }).recheckAtMs, 1600, 're-evaluate when our own heartbeats would be missed')
  t.equal(run({ self: me({ leaseRenewedAtMs: 900 }), nowMs: 1000 }).self.state, 'standby', 'not joined yet')
  t.equal(run({ nodes: [node('me', { ready: false })], self: me({ leaseRenewedAtMs: 900, heartbeatSentAtMs: 950 }), nowMs: 1000 }).self.state, 'standby')
  t.equal(run({ nodes: [], self: me({ leaseRenewedAtMs: 900, heartbeatSentAtMs: 950 }), nowMs: 1000 }).self.state, 'standby', 'no Node of ours')
})

t.test('a heartbeat keeps the reaches-API streak while unbroken and starts it again after a break', async t => {
  const beat = (reachesApi: boolean) => ({ kind: 'alive' as const, intervalMs: 200, reachesApi })
  const first = observeHeartbeat(undefined, beat(true), 1000)
  t.equal(first.reachesApiSinceMs, 1000)
  t.equal(first.deadlineMs, 600)
  const next = observeHeartbeat(first, beat(true), 1200)
  t.equal(next.reachesApiSinceMs, 1000, 'unbroken')
  t.equal(observeHeartbeat(next, beat(false), 1400).reachesApiSinceMs, null, 'it lost the API server')
  t.equal(observeHeartbeat(next, beat(true), 2000).reachesApiSinceMs, 2000, 'after 800 ms of silence: a new streak')
  t.equal(observeHeartbeat(observeHeartbeat(next, { ...beat(true), kind: 'leaving' }, 1300), beat(true), 1400).reachesApiSinceMs, 1400,
    'after a leaving: a new streak (a new process)')
})
