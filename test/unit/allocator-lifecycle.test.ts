// Config edits and restarts: assignments that stay valid never move.
import t from 'tap'
import { Allocator } from '../../controller/core/allocator.js'
import { requestFromService, type AllocationRequest } from '../../controller/core/allocation-request.js'
import type { ServiceView } from '../../internal/core/views.js'
import { config, svc } from './allocator-fixtures.js'

const req = (s: ServiceView): AllocationRequest => {
  const r = requestFromService(s)
  if (!r.ok) throw new Error(r.failure.message)
  return r.request
}
const texts = (a: Allocator, key: string): readonly string[] => a.assignment(key)?.texts ?? []

t.test('a pool edit keeps every IP that stays valid, releases the rest', async t => {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/29]}]'))
  a.restore([])
  for (const n of ['a', 'b', 'c', 'd']) a.assign(req(svc(n)))
  t.same(texts(a, 'default/c'), ['192.0.2.2'])
  // Shrink the pool so .2 and .3 leave it, and rename it.
  const cleared = a.setConfig(config('address-pools: [{name: q, protocol: layer2, addresses: [192.0.2.0-192.0.2.1, 192.0.2.4/30]}]'))
  t.same(cleared.map(c => c.key), ['default/c', 'default/d'])
  t.match(cleared[0]?.message ?? '', /outside every pool/)
  t.same(texts(a, 'default/a'), ['192.0.2.0'], 'still valid: unchanged')
  t.equal(a.assignment('default/b')?.pool, 'q', 'the pool was renamed; the IP did not move')
  t.equal(a.assignment('default/c'), null)
  t.match(cleared[0]?.message ?? '', /no longer usable/)
  const again = a.assign(req(svc('c', { ingressIPs: ['192.0.2.2'] })))
  t.same(again.ok ? again.assignment.texts : [], ['192.0.2.4'], 're-assigned inside the new pool')
  t.equal(a.usage()[0]?.inUse, 3n)
})

t.test('a pool that stops admitting the namespace clears its Services', async t => {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/29]}]'))
  a.restore([])
  a.assign(req(svc('x', { namespace: 'team-a' })))
  a.assign(req(svc('y', { namespace: 'team-b' })))
  const cleared = a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/29], namespaces: [team-a]}]'))
  t.same(cleared.map(c => c.key), ['team-b/y'])
  t.match(cleared[0]?.message ?? '', /not allowed in namespace team-b/)
})

t.test('restore claims status back, older Service first; the loser is reported', async t => {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/29]}]'))
  const old = svc('old', { ingressIPs: ['192.0.2.5'], creationTimestamp: '2026-01-01T00:00:00.000Z' })
  const young = svc('young', { ingressIPs: ['192.0.2.5'], creationTimestamp: '2026-06-01T00:00:00.000Z' })
  const elsewhere = svc('gone', { ingressIPs: ['203.0.113.9'] })
  const losers = a.restore([old, young, elsewhere].map(req))
  t.same(losers.map(l => l.key), ['default/young', 'default/gone'])
  t.match(losers[0]?.message ?? '', /taken by Service default\/old/)
  t.same(texts(a, 'default/old'), ['192.0.2.5'])
  const fresh = a.assign(req(svc('new')))
  t.same(fresh.ok ? fresh.assignment.texts : [], ['192.0.2.0'], 'new allocations avoid restored IPs')
  const y = a.assign(req(young))
  t.same(y.ok ? y.assignment.texts : [], ['192.0.2.1'])
  t.ok(a.isRestored())
})

t.test('restore keeps shared IPs shared', async t => {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/29]}]'))
  const ann = { 'l2lb.dev/allow-shared-ip': 'k' }
  const s1 = svc('s1', { annotations: ann, ingressIPs: ['192.0.2.3'] })
  const s2 = svc('s2', { annotations: ann, ingressIPs: ['192.0.2.3'], ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] })
  t.same(a.restore([s1, s2].map(req)), [])
  t.equal(a.usage()[0]?.inUse, 1n)
})

t.test('with no config nothing is allocated or restored', async t => {
  const a = new Allocator()
  t.same(a.restore([req(svc('a', { ingressIPs: ['192.0.2.1'] }))]), [])
  t.notOk(a.isRestored())
  const r = a.assign(req(svc('a')))
  t.ok(!r.ok && r.failure.kind === 'noConfig')
})

t.test('free-gap count stays bounded by assignments, not pool size', async t => {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: ["2001:db8::/64"]}]'))
  a.restore([])
  for (let i = 0; i < 200; i++) a.assign(req(svc(`s${i}`, { ipFamilies: ['IPv6'] })))
  for (let i = 0; i < 200; i += 2) a.release(`default/s${i}`)
  t.equal(a.usage()[0]?.inUse, 100n)
  t.equal(a.usage()[0]?.capacity, 1n << 64n)
  for (let i = 0; i < 200; i += 2) a.assign(req(svc(`t${i}`, { ipFamilies: ['IPv6'] })))
  t.same(texts(a, 'default/t0'), ['2001:db8::'], 'holes are refilled lowest first')
  t.equal(a.usage()[0]?.inUse, 200n)
})

t.test('a dual-stack pair that loses one family keeps the other, and nobody takes it meanwhile', async t => {
  const dual = (name: string, policy: 'PreferDualStack' | 'RequireDualStack'): ServiceView =>
    svc(name, { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: policy })
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/30, "2001:db8:5::/126", "2001:db8:6::/126"]}]'))
  a.restore([])
  a.assign(req(dual('prefer', 'PreferDualStack')))
  a.assign(req(dual('require', 'RequireDualStack')))
  t.same(texts(a, 'default/prefer'), ['192.0.2.0', '2001:db8:5::'])
  t.same(texts(a, 'default/require'), ['192.0.2.1', '2001:db8:5::1'])
  // The edit takes 2001:db8:5::/126 away; the IPv4 addresses stay valid.
  const cleared = a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/30, "2001:db8:6::/126"]}]'))
  t.same(cleared.map(c => [c.key, c.ips, c.kept]), [
    ['default/prefer', ['2001:db8:5::'], ['192.0.2.0']],
    ['default/require', ['2001:db8:5::1'], ['192.0.2.1']],
  ], 'only the lost address is cleared')
  t.match(cleared[0]?.message ?? '', /2001:db8:5:: is no longer usable: .*; 192\.0\.2\.0 stays/)
  // Before either is reprocessed, a new Service arrives: it cannot get a kept IPv4.
  const other = a.assign(req(svc('newcomer')))
  t.same(other.ok ? other.assignment.texts : [], ['192.0.2.2'], 'the kept addresses stay taken')
  const p = a.assign(req(dual('prefer', 'PreferDualStack')))
  t.same(p.ok ? p.assignment.texts : [], ['192.0.2.0', '2001:db8:6::'], 'PreferDualStack: IPv4 kept, IPv6 from the same pool')
  const r = a.assign(req(dual('require', 'RequireDualStack')))
  t.same(r.ok ? r.assignment.texts : [], ['192.0.2.1', '2001:db8:6::1'], 'RequireDualStack: IPv4 kept, IPv6 anew from the same pool')
})

t.test('RequireDualStack whose pool keeps one family only is moved whole, by its rule', async t => {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/30, "2001:db8:5::/126"]}, {name: q, protocol: layer2, addresses: [198.51.100.0/30, "2001:db8:7::/126"]}]'))
  a.restore([])
  a.assign(req(svc('r', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' })))
  t.same(texts(a, 'default/r'), ['192.0.2.0', '2001:db8:5::'])
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/30]}, {name: q, protocol: layer2, addresses: [198.51.100.0/30, "2001:db8:7::/126"]}]'))
  t.same(texts(a, 'default/r'), ['192.0.2.0'], 'held until reprocessed')
  const r = a.assign(req(svc('r', { ipFamilies: ['IPv4', 'IPv6'], ipFamilyPolicy: 'RequireDualStack' })))
  t.same(r.ok ? r.assignment.texts : [], ['198.51.100.0', '2001:db8:7::'], 'both families from one pool: p has no IPv6 left')
})
