// The MetalLB import as a pure function: MetalLB objects in, l2lb's pool config and notes out. The config must
// be accepted by parsePoolConfig and give the same Services the same IPs MetalLB gives them.
import t from 'tap'
import { importMetalLB, poolConfigMapManifest, type MetalLBInput, type MetalLBObject } from '../../controller/core/metallb-import.js'
import { parsePoolConfig } from '../../internal/core/pool-config.js'
import { Allocator } from '../../controller/core/allocator.js'
import { requestFromService } from '../../controller/core/allocation-request.js'
import type { ServiceView } from '../../internal/core/views.js'
import { svc } from './allocator-fixtures.js'
import { load } from 'js-yaml'

const pool = (name: string, spec: Record<string, unknown>, labels?: Record<string, string>): MetalLBObject =>
  ({ metadata: { name, namespace: 'metallb-system', ...(labels ? { labels } : {}) }, spec })
const adv = (name: string, spec: Record<string, unknown>): MetalLBObject => ({ metadata: { name, namespace: 'metallb-system' }, spec })
const input = (over: Partial<MetalLBInput>): MetalLBInput =>
  ({ ipAddressPools: [], l2Advertisements: [], bgpObjects: [], namespaces: [], legacyConfig: null, ...over })

/** A cluster's MetalLB CRDs using every setting the import carries over. */
const SAMPLE: MetalLBInput = input({
  ipAddressPools: [
    pool('general', { addresses: ['192.0.2.0/30', '2001:db8::/126'] }),
    pool('team', { addresses: ['198.51.100.0/30'], avoidBuggyIPs: true, serviceAllocation: { priority: 10, namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { team: 'b' } }] } }, { l2: 'yes' }),
    pool('team-low', { addresses: ['198.51.100.8/30'], serviceAllocation: { priority: 20, namespaces: ['team-a'] } }),
    pool('web', { addresses: ['203.0.113.0/30'], serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }] } }),
    pool('manual', { addresses: ['203.0.113.8/30'], autoAssign: false }),
  ],
  l2Advertisements: [
    adv('pinned', { ipAddressPoolSelectors: [{ matchLabels: { l2: 'yes' } }], nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'node1' } }], interfaces: ['eth0'] }),
    adv('rest', { ipAddressPools: ['general', 'team-low', 'web', 'manual'] }),
  ],
  bgpObjects: [{ kind: 'BGPPeer', name: 'router' }, { kind: 'BGPAdvertisement', name: 'all' }],
  namespaces: [{ name: 'team-a', labels: {} }, { name: 'team-b', labels: { team: 'b' } }, { name: 'default', labels: {} }],
})

t.test('every carried-over setting lands in the pool config, which l2lb accepts', async t => {
  const r = importMetalLB(SAMPLE)
  t.same(r.errors, [], 'parsePoolConfig accepts it')
  t.equal(r.source, 'crds')
  const parsed = parsePoolConfig(r.configText)
  if (!parsed.ok) throw new Error('unreachable')
  const byName = new Map(parsed.config.pools.map(p => [p.name, p]))
  t.same(byName.get('team')?.namespaces, ['team-a', 'team-b'], 'namespaces plus those namespaceSelectors match today')
  t.equal(byName.get('team')?.priority, 10)
  t.equal(byName.get('team')?.avoidBuggyIPs, true)
  t.same(byName.get('web')?.serviceSelectors, [{ matchLabels: {}, matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }])
  t.equal(byName.get('manual')?.autoAssign, false)
  t.same(parsed.config.l2Advertisements, [
    { ipAddressPools: ['team'], nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'node1' }, matchExpressions: [] }], interfaces: ['eth0'] },
    { ipAddressPools: ['general', 'manual', 'team-low', 'web'], nodeSelectors: [], interfaces: [] },
  ], 'ipAddressPoolSelectors resolved to pool names; node selectors and interfaces as they are')
  t.match(r.notes.join('\n'), /BGPPeer router: not carried over: BGP/)
  t.match(r.notes.join('\n'), /BGPAdvertisement all: not carried over/)
  t.match(r.notes.join('\n'), /namespaceSelectors resolved to the namespaces that match today \(team-b\)/)
  const manifest = load(poolConfigMapManifest(r.configText, 'l2lb-system', 'config')) as { metadata: unknown; data: { config: string } }
  t.same(manifest.metadata, { namespace: 'l2lb-system', name: 'config' })
  t.equal(manifest.data.config, r.configText)
})

t.test('the imported config gives the same Services the same IPs MetalLB gives them', async t => {
  const r = importMetalLB(SAMPLE)
  const parsed = parsePoolConfig(r.configText)
  if (!parsed.ok) throw new Error('unreachable')
  const a = new Allocator()
  a.setConfig(parsed.config)
  a.restore([])
  const ip = (s: ServiceView): string => {
    const q = requestFromService(s)
    if (!q.ok) throw new Error(q.failure.message)
    const x = a.assign(q.request)
    return x.ok ? x.assignment.texts.join(',') : `failed: ${x.failure.kind}`
  }
  // What MetalLB (internal/allocator/allocator.go, Allocate) gives, worked out from its rules: the pinned pools
  // (namespace or service selectors match) sorted by priority (sortPools), lowest free address first
  // (getIPFromCIDR walks each CIDR from its start), then the pools without a serviceAllocation.
  t.equal(ip(svc('a1', { namespace: 'team-a' })), '198.51.100.1', 'team (priority 10) before team-low (20); avoidBuggyIPs skips .0')
  t.equal(ip(svc('a2', { namespace: 'team-a' })), '198.51.100.2')
  t.equal(ip(svc('b1', { namespace: 'team-b' })), '198.51.100.3', 'team-b reaches team through namespaceSelectors')
  t.equal(ip(svc('a3', { namespace: 'team-a' })), '198.51.100.8', 'team full (.0 avoided): team-low, still before general')
  t.equal(ip(svc('b2', { namespace: 'team-b' })), '192.0.2.0', 'team-b: team full, team-low not for it: general')
  t.equal(ip(svc('w1', { labels: { tier: 'web' } })), '203.0.113.0', 'the serviceSelectors pool before general')
  t.equal(ip(svc('d1')), '192.0.2.1', 'an unrestricted Service: general; never manual (autoAssign false)')
  t.equal(ip(svc('v6', { ipFamilies: ['IPv6'] })), '2001:db8::')
  t.equal(ip(svc('m1', { annotations: { 'metallb.universe.tf/address-pool': 'manual' } })), '203.0.113.8', 'manual by name')
  t.equal(ip(svc('x1', { namespace: 'default', loadBalancerIP: '198.51.100.9' })), 'failed: poolNotAllowed', 'team-low refuses other namespaces, as isPoolCompatibleWithService does')
})

t.test("Services keep MetalLB's addresses: restore claims their status back", async t => {
  const parsed = parsePoolConfig(importMetalLB(SAMPLE).configText)
  if (!parsed.ok) throw new Error('unreachable')
  const a = new Allocator()
  a.setConfig(parsed.config)
  // Addresses MetalLB gave that are not the ones l2lb would pick first: they stay.
  const held = [
    svc('a1', { namespace: 'team-a', ingressIPs: ['198.51.100.2'] }),
    svc('d1', { ingressIPs: ['192.0.2.3'] }),
    svc('m1', { annotations: { 'metallb.universe.tf/address-pool': 'manual' }, ingressIPs: ['203.0.113.10'] }),
  ]
  const reqs = held.map(s => { const q = requestFromService(s); if (!q.ok) throw new Error(q.failure.message); return q.request })
  t.same(a.restore(reqs), [], 'every claim valid')
  for (const s of held) t.same(a.assignment(s.key)?.texts, s.ingressIPs, `${s.key} keeps ${s.ingressIPs.join(',')}`)
})

t.test('restrictions MetalLB applies without saying so are written out', async t => {
  const r = importMetalLB(input({
    ipAddressPools: [
      pool('prio-only', { addresses: ['192.0.2.0/30'], serviceAllocation: { priority: 5 } }),
      pool('zero', { addresses: ['192.0.2.8/30'], serviceAllocation: { priority: 0, namespaces: ['a'] } }),
      pool('neg', { addresses: ['192.0.2.16/30'], serviceAllocation: { priority: -3, namespaces: ['a'] } }),
      pool('nobody', { addresses: ['192.0.2.24/30'], serviceAllocation: { namespaceSelectors: [{ matchLabels: { x: 'y' } }] } }),
      pool('host-bits', { addresses: ['192.0.2.37/29'] }),
    ],
  }))
  t.same(r.errors, [])
  const parsed = parsePoolConfig(r.configText)
  if (!parsed.ok) throw new Error('unreachable')
  const p = new Map(parsed.config.pools.map(x => [x.name, x]))
  // Allocate only tries pinnedPoolsForService and pools whose ServiceAllocations is nil.
  t.equal(p.get('prio-only')?.autoAssign, false, 'a serviceAllocation with only a priority: never auto-assigned by MetalLB')
  t.equal(p.get('nobody')?.autoAssign, false, 'namespaceSelectors matching no namespace: the same')
  t.equal(p.get('zero')?.priority, null, 'priority 0 is unset')
  t.equal(p.get('neg')?.priority, null)
  t.same(p.get('host-bits')?.ranges.map(x => x.source), ['192.0.2.32/29'], 'host bits dropped as net.ParseCIDR drops them')
  const notes = r.notes.join('\n')
  t.match(notes, /prio-only: written with auto-assign: false/)
  t.match(notes, /neg: serviceAllocation.priority -3 not carried over/)
  t.match(notes, /no L2Advertisement: MetalLB announces none of these pools/)
  t.notOk(r.configText.includes('l2-advertisements'), 'no list: l2lb cannot say "announce nothing"')
})

t.test('L2Advertisements naming nothing imported are dropped with a note', async t => {
  const r = importMetalLB(input({
    ipAddressPools: [pool('a', { addresses: ['192.0.2.0/30'] }), pool('b', { addresses: ['192.0.2.8/30'] })],
    l2Advertisements: [adv('ghost', { ipAddressPools: ['gone'] }), adv('only-a', { ipAddressPools: ['a'] })],
  }))
  t.same(r.errors, [])
  t.match(r.notes.join('\n'), /L2Advertisement ghost: not carried over: it names or selects no imported pool/)
  t.match(r.notes.join('\n'), /IPAddressPool b: no L2Advertisement covers it/)
})

t.test('the legacy ConfigMap: layer-2 pools carried over, BGP reported', async t => {
  const legacy = `
peers:
- peer-address: 192.0.2.1
  peer-asn: 64501
  my-asn: 64500
bgp-communities:
  no-export: 65535:65281
address-pools:
- name: l2
  protocol: layer2
  addresses: [192.0.2.240-192.0.2.250]
  auto-assign: false
  avoid-buggy-ips: true
- name: routed
  protocol: bgp
  addresses: [198.51.100.0/24]
  bgp-advertisements: [{aggregation-length: 32}]
`
  const r = importMetalLB(input({ legacyConfig: legacy }))
  t.equal(r.source, 'configmap')
  t.same(r.errors, [])
  const parsed = parsePoolConfig(r.configText)
  t.same(parsed.ok ? parsed.config.pools.map(p => [p.name, p.autoAssign, p.avoidBuggyIPs, p.ranges.map(x => x.source)]) : [], [['l2', false, true, ['192.0.2.240-192.0.2.250']]])
  const notes = r.notes.join('\n')
  t.match(notes, /peers not carried over: a BGP setting/)
  t.match(notes, /bgp-communities not carried over/)
  t.match(notes, /address-pools\[routed\]: not carried over: protocol bgp/)
  // CRDs win over the ConfigMap, as in MetalLB v0.13 and later.
  const both = importMetalLB(input({ legacyConfig: legacy, ipAddressPools: [pool('a', { addresses: ['192.0.2.0/30'] })] }))
  t.equal(both.source, 'crds')
  t.match(both.notes.join('\n'), /ConfigMap config \(MetalLB up to v0.12\): ignored/)
})

t.test('nothing to import: an empty config, said so', async t => {
  const r = importMetalLB(input({}))
  t.equal(r.source, 'none')
  t.same(r.errors, [])
  t.match(r.notes[0] ?? '', /no MetalLB configuration found/)
})

t.test('an address l2lb refuses is reported by the parser, not hidden', async t => {
  const r = importMetalLB(input({ ipAddressPools: [pool('lo', { addresses: ['127.0.0.0/30'] })] }))
  t.equal(r.errors.length, 1)
  t.match(r.errors[0]?.message ?? '', /127\.0\.0\.0\/8/)
})
