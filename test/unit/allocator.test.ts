import t from 'tap'
import { Allocator } from '../../controller/core/allocator.js'
import { requestFromService, type AllocationRequest } from '../../controller/core/allocation-request.js'
import type { ServiceView } from '../../internal/core/views.js'
import { config, svc } from './allocator-fixtures.js'

const POOLS = `
address-pools:
- name: default
  protocol: layer2
  addresses: [192.0.2.240-192.0.2.243, "2001:db8:0:1::f0/126"]
- name: manual
  protocol: layer2
  auto-assign: false
  addresses: [198.51.100.0/30]
- name: v6only
  protocol: layer2
  auto-assign: false
  addresses: ["2001:db8:0:2::/126"]
`

function fresh(yaml = POOLS): Allocator {
  const a = new Allocator()
  a.setConfig(config(yaml))
  a.restore([])
  return a
}

function req(s: ServiceView): AllocationRequest {
  const r = requestFromService(s)
  if (!r.ok) throw new Error(r.failure.message)
  return r.request
}

function ips(a: Allocator, s: ServiceView): readonly string[] {
  const r = a.assign(req(s))
  return r.ok ? r.assignment.texts : [`failed: ${r.failure.kind}`]
}

function failure(a: Allocator, s: ServiceView): string {
  const r = a.assign(req(s))
  return r.ok ? `ok ${r.assignment.texts.join(',')}` : r.failure.kind
}

t.test('lowest free address first, deterministic, released IPs reused', async t => {
  const a = fresh()
  t.same(ips(a, svc('a')), ['192.0.2.240'])
  t.same(ips(a, svc('b')), ['192.0.2.241'])
  t.same(ips(a, svc('c')), ['192.0.2.242'])
  t.same(a.release('default/b')?.texts, ['192.0.2.241'])
  t.same(ips(a, svc('d')), ['192.0.2.241'], 'the freed address is the lowest again')
  t.same(ips(a, svc('a')), ['192.0.2.240'], 'reassigning an unchanged Service keeps its IP')
  const again = a.assign(req(svc('a')))
  t.ok(again.ok && !again.changed, 'a kept assignment is not a change')
})

t.test('auto-assign false pools only on explicit request; exhaustion is a reason', async t => {
  const a = fresh()
  for (const n of ['a', 'b', 'c', 'd']) t.equal(ips(a, svc(n)).length, 1)
  t.equal(failure(a, svc('e')), 'poolExhausted', 'the manual pool is not used automatically')
  t.same(ips(a, svc('e', { annotations: { 'l2lb.dev/address-pool': 'manual' } })), ['198.51.100.0'])
  t.same(ips(a, svc('f', { loadBalancerIP: '198.51.100.3' })), ['198.51.100.3'], 'requested IP in a manual pool')
  const usage = a.usage().find(u => u.pool === 'manual')
  t.equal(usage?.inUse, 2n)
  t.equal(usage?.capacity, 4n)
})

t.test('requested IPs', async t => {
  const a = fresh()
  t.same(ips(a, svc('a', { loadBalancerIP: '192.0.2.242' })), ['192.0.2.242'])
  t.same(ips(a, svc('b')), ['192.0.2.240'], 'auto allocation skips nothing else')
  t.equal(failure(a, svc('c', { loadBalancerIP: '192.0.2.242' })), 'ipTaken')
  const taken = a.assign(req(svc('c', { loadBalancerIP: '192.0.2.242' })))
  if (!taken.ok && taken.failure.kind === 'ipTaken') t.same(taken.failure.by, ['default/a'], 'names the holder')
  t.equal(failure(a, svc('d', { loadBalancerIP: '203.0.113.1' })), 'outsidePools')
  t.equal(failure(a, svc('e', { annotations: { 'metallb.universe.tf/loadBalancerIPs': '192.0.2.243' } })), 'ok 192.0.2.243', 'MetalLB prefix read')
  t.equal(failure(a, svc('f', { loadBalancerIP: '198.51.100.1', annotations: { 'l2lb.dev/address-pool': 'default' } })), 'invalidRequest', 'IP outside the named pool')
  t.same(ips(a, svc('a', { loadBalancerIP: '198.51.100.1' })), ['198.51.100.1'], 'changing the request moves the IP')
  t.same(ips(a, svc('g', { loadBalancerIP: '192.0.2.242' })), ['192.0.2.242'], 'and frees the old one')
  const both = requestFromService(svc('h', { loadBalancerIP: '192.0.2.240', annotations: { 'l2lb.dev/loadBalancerIPs': '192.0.2.241' } }))
  t.ok(!both.ok && both.failure.kind === 'invalidRequest', 'loadBalancerIP and the annotation together are refused')
  const junk = requestFromService(svc('h', { loadBalancerIP: 'not-an-ip' }))
  t.ok(!junk.ok && junk.failure.kind === 'invalidRequest')
})

t.test('pool annotation', async t => {
  const a = fresh()
  t.equal(failure(a, svc('a', { annotations: { 'l2lb.dev/address-pool': 'nope' } })), 'unknownPool')
  t.equal(failure(a, svc('b', { annotations: { 'metallb.io/address-pool': 'manual', 'l2lb.dev/address-pool': 'default' } })), 'ok 192.0.2.240', 'l2lb.dev wins over metallb.io')
  t.equal(failure(a, svc('c', { annotations: { 'l2lb.dev/address-pool': 'v6only' } })), 'familyMismatch', 'an IPv4 Service and an IPv6-only pool')
  t.equal(failure(a, svc('d', { ipFamilies: ['IPv6'], annotations: { 'l2lb.dev/address-pool': 'v6only' } })), 'ok 2001:db8:0:2::')
})

t.test('families and dual-stack', async t => {
  const a = fresh()
  t.same(ips(a, svc('v6', { ipFamilies: ['IPv6'] })), ['2001:db8:0:1::f0'])
  t.same(ips(a, svc('req', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' })), ['192.0.2.240', '2001:db8:0:1::f1'])
  t.same(ips(a, svc('v6first', { ipFamilies: ['IPv6', 'IPv4'], ipFamilyPolicy: 'RequireDualStack' })), ['2001:db8:0:1::f2', '192.0.2.241'], 'family order follows ipFamilies')
  t.same(ips(a, svc('pref', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' })), ['192.0.2.242', '2001:db8:0:1::f3'])
  // The IPv6 side of default is now full: Require fails, Prefer falls back to one family.
  t.equal(failure(a, svc('req2', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' })), 'poolExhausted')
  t.same(ips(a, svc('pref2', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' })), ['192.0.2.243'])
  const v4only = fresh('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/30]}]')
  t.equal(failure(v4only, svc('x', { ipFamilies: ['IPv6'] })), 'familyMismatch')
  t.equal(failure(v4only, svc('y', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' })), 'familyMismatch')
  const wrongFamily = requestFromService(svc('z', { ipFamilies: ['IPv4'], loadBalancerIP: '2001:db8::1' }))
  t.ok(!wrongFamily.ok && wrongFamily.failure.kind === 'familyMismatch', 'requested IPv6 on an IPv4 Service')
  const oneForRequire = requestFromService(svc('z', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack', annotations: { 'l2lb.dev/loadBalancerIPs': '192.0.2.1' } }))
  t.ok(!oneForRequire.ok && oneForRequire.failure.kind === 'familyMismatch')
  const dual = fresh()
  t.same(ips(dual, svc('d', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack', annotations: { 'l2lb.dev/loadBalancerIPs': '2001:db8:0:1::f3, 192.0.2.242' } })), ['192.0.2.242', '2001:db8:0:1::f3'])
})

t.test('PreferDualStack adds the second family later without moving the first', async t => {
  const a = fresh()
  for (const n of ['a', 'b', 'c', 'd']) ips(a, svc(n, { ipFamilies: ['IPv6'] }))
  const pref = svc('p', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' })
  t.same(ips(a, pref), ['192.0.2.240'])
  a.release('default/c')
  const r = a.assign(req(pref))
  t.ok(r.ok && r.changed)
  t.same(r.ok ? r.assignment.texts : [], ['192.0.2.240', '2001:db8:0:1::f2'])
})

t.test('namespaces, service-selectors and priority', async t => {
  const a = fresh(`
address-pools:
- name: general
  protocol: layer2
  addresses: [192.0.2.0/30]
- name: team-a
  protocol: layer2
  addresses: [198.51.100.0/30]
  namespaces: [team-a]
  priority: 1
- name: web
  protocol: layer2
  addresses: [203.0.113.0/30]
  service-selectors: [{matchLabels: {tier: web}}]
  priority: 2
`)
  t.same(ips(a, svc('x', { namespace: 'team-a' })), ['198.51.100.0'], 'the higher-priority pool serving the namespace')
  t.same(ips(a, svc('y', { namespace: 'team-b' })), ['192.0.2.0'], 'another namespace skips team-a')
  t.same(ips(a, svc('w', { namespace: 'team-b', labels: { tier: 'web' } })), ['203.0.113.0'], 'selector pool by priority')
  t.equal(failure(a, svc('z', { namespace: 'team-b', loadBalancerIP: '198.51.100.2' })), 'poolNotAllowed', 'requested IP of a reserved pool')
  t.equal(failure(a, svc('z', { namespace: 'team-b', annotations: { 'l2lb.dev/address-pool': 'team-a' } })), 'poolNotAllowed')
  const closed = fresh('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/30], namespaces: [only]}]')
  t.equal(failure(closed, svc('q')), 'poolNotAllowed', 'no auto-assign pool admits the namespace')
})

t.test('restricted pools before unrestricted ones, as MetalLB tries them', async t => {
  // MetalLB internal/allocator/allocator.go, Allocate: "First, check the pinned pools" (pinnedPoolsForService:
  // the auto-assign pools whose serviceAllocation names the Service's namespace or matches its labels, sorted
  // by sortPools), and only then the pools without a serviceAllocation. The case: general listed first.
  const a = fresh(`
address-pools:
- name: general
  protocol: layer2
  addresses: [192.0.2.0/30]
- name: team
  protocol: layer2
  addresses: [198.51.100.0/31]
  namespaces: [team-a]
`)
  t.same(ips(a, svc('x', { namespace: 'team-a' })), ['198.51.100.0'], 'a team-a Service gets its address from team')
  t.same(ips(a, svc('y', { namespace: 'team-b' })), ['192.0.2.0'], 'other namespaces from general')
  t.same(ips(a, svc('z', { namespace: 'team-a' })), ['198.51.100.1'])
  t.same(ips(a, svc('w', { namespace: 'team-a' })), ['192.0.2.1'], 'team full: general, as MetalLB falls back to all pools')
  // A priority does not lift an unrestricted pool over a restricted one: priorities order within a tier.
  const b = fresh(`
address-pools:
- name: general
  protocol: layer2
  addresses: [192.0.2.0/30]
  priority: 1
- name: web
  protocol: layer2
  addresses: [203.0.113.0/30]
  service-selectors: [{matchLabels: {tier: web}}]
  priority: 5
`)
  t.same(ips(b, svc('w', { labels: { tier: 'web' } })), ['203.0.113.0'], 'the selector pool, priority 5, before general, priority 1')
  t.same(ips(b, svc('v')), ['192.0.2.0'])
  // PreferDualStack: MetalLB's findBestPoolForService looks for a pool with both families within the pinned
  // tier only; the pinned IPv4-only pool wins over an unrestricted dual-stack one.
  const c = fresh(`
address-pools:
- name: dual
  protocol: layer2
  addresses: [192.0.2.0/30, "2001:db8::/126"]
- name: team
  protocol: layer2
  addresses: [198.51.100.0/30]
  namespaces: [team-a]
`)
  const pref = svc('p', { namespace: 'team-a', ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'PreferDualStack' })
  t.same(ips(c, pref), ['198.51.100.0'], 'the restricted pool, IPv4 only')
  t.same(ips(c, { ...pref, key: 'other/p', namespace: 'other' }), ['192.0.2.0', '2001:db8::'], 'elsewhere the dual-stack pool')
})

t.test('priority 0 is unset: tried after every pool with a priority', async t => {
  // MetalLB sortPools: "when no priority (0) set on the pool, then that is considered as lowest priority".
  const a = fresh(`
address-pools:
- name: zero
  protocol: layer2
  addresses: [192.0.2.0/30]
  namespaces: [team-a]
  priority: 0
- name: ten
  protocol: layer2
  addresses: [198.51.100.0/30]
  namespaces: [team-a]
  priority: 10
- name: unset
  protocol: layer2
  addresses: [203.0.113.0/30]
  namespaces: [team-a]
`)
  t.same(ips(a, svc('x', { namespace: 'team-a' })), ['198.51.100.0'], 'priority 10 first')
  t.equal(a.currentConfig()?.pools[0]?.priority, null, 'priority 0 reads as unset')
  for (const n of ['y1', 'y2', 'y3']) ips(a, svc(n, { namespace: 'team-a' }))
  t.same(ips(a, svc('z', { namespace: 'team-a' })), ['192.0.2.0'], 'then the unset ones in config order: zero before unset')
})

t.test('avoid-buggy-ips skips .0 and .255', async t => {
  const a = fresh('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.254-192.0.3.1], avoid-buggy-ips: true}]')
  t.equal(a.usage()[0]?.capacity, 2n, '.254 and .1 only')
  t.same(ips(a, svc('a')), ['192.0.2.254'])
  t.same(ips(a, svc('b')), ['192.0.3.1'])
  t.equal(failure(a, svc('c')), 'poolExhausted')
  t.equal(failure(a, svc('d', { loadBalancerIP: '192.0.3.0' })), 'outsidePools')
  // Data only (nothing is sent): a /8 around the benchmarking range 198.18.0.0/15.
  const big = fresh('address-pools: [{name: p, protocol: layer2, addresses: [198.0.0.0/8], avoid-buggy-ips: true}]')
  t.equal(big.usage()[0]?.capacity, 65536n * 254n, 'exact count without materialising the /8')
})

t.test('capacity is exact for huge IPv6 pools', async t => {
  const a = fresh('address-pools: [{name: p, protocol: layer2, addresses: ["2001:db8::/64", "2001:db8:1::/48"]}]')
  t.equal(a.usage()[0]?.capacity, (1n << 64n) + (1n << 80n))
  t.same(ips(a, svc('a', { ipFamilies: ['IPv6'] })), ['2001:db8::'])
  t.equal(a.usage()[0]?.inUse, 1n)
})

t.test('usage per address family, as MetalLB exports it', async t => {
  // MetalLB internal/allocator/stats.go: ipv4_addresses_total, ipv6_addresses_total, ipv4_addresses_in_use_total,
  // ipv6_addresses_in_use_total per pool, besides the totals; a family the pool lacks counts 0 (poolCount).
  const a = fresh(`
address-pools:
- {name: dual, protocol: layer2, addresses: [192.0.2.0/30, "2001:db8::/64"]}
- {name: v4, protocol: layer2, addresses: [198.51.100.0/31]}
`)
  ips(a, svc('s', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' }))
  ips(a, svc('t', { ipFamilies: ['IPv6'] }))
  const dual = a.usage().find(u => u.pool === 'dual')
  t.same(dual?.byFamily, { IPv4: { capacity: 4n, inUse: 1n }, IPv6: { capacity: 1n << 64n, inUse: 2n } })
  t.equal(dual?.capacity, 4n + (1n << 64n), 'the total is the sum')
  t.equal(dual?.inUse, 3n)
  t.same(a.usage().find(u => u.pool === 'v4')?.byFamily, { IPv4: { capacity: 2n, inUse: 0n }, IPv6: { capacity: 0n, inUse: 0n } })
})

t.test('a range near :: spanning several 2^52 chunks: every address can be requested, held and released', async t => {
  // 2^48 .. 2^53-1 ends below 2^53, yet is two chunks: offsets must come from the chunk, not the range start.
  // (It was ::/75, which now holds reserved blocks, :: and ::ffff:0:0/96, that no pool may.)
  const a = fresh('address-pools: [{name: p, protocol: layer2, addresses: ["::1:0:0:0-::1f:ffff:ffff:ffff"]}]')
  const high = { ipFamilies: ['IPv6' as const], loadBalancerIP: '::10:0:0:5' }
  t.same(ips(a, svc('high', high)), ['::10:0:0:5'], 'an address in the second chunk')
  t.same(a.holders({ family: 'IPv6', value: (1n << 52n) + 5n }), ['default/high'])
  t.equal(failure(a, svc('other', high)), 'ipTaken', 'and it is held, not free')
  t.same(ips(a, svc('low', { ipFamilies: ['IPv6'] })), ['::1:0:0:0'], 'the lowest free is still the first address')
  t.equal(a.usage()[0]?.inUse, 2n)
  a.release('default/high')
  t.same(ips(a, svc('other', high)), ['::10:0:0:5'], 'released, it can be had again')
})

t.test('releasing and re-assigning the same Service over and over keeps one address and exact usage', async t => {
  // The allocator's maps see the same key come and go; many rounds cross their rebuild threshold.
  const a = fresh()
  t.same(ips(a, svc('keep')), ['192.0.2.240'])
  const wrong: string[] = []
  for (let i = 0; i < 5000; i++) {
    const got = ips(a, svc('churn'))
    if (got[0] !== '192.0.2.241') wrong.push(`${i}: ${got.join(',')}`)
    a.release('default/churn')
  }
  t.same(wrong, [], 'the same lowest free address every time')
  t.equal(a.usage()[0]?.inUse, 1n)
  t.same(ips(a, svc('keep')), ['192.0.2.240'], 'the other Service never moved')
})
