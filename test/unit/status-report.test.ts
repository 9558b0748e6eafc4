// The pure status report: what it says when there is no config or a bad one, and when no speaker is alive.
import t from 'tap'
import { buildStatus, formatStatus } from '../../controller/core/status-report.js'
import { svc } from './allocator-fixtures.js'
import type { NodeView } from '../../internal/core/views.js'

const node = (name: string): NodeView => ({ name, ready: true, labels: {}, excludedFromLoadBalancers: false })
const base = { services: [svc('web', { ingressIPs: ['192.0.2.240'] })], nodes: [node('n1')], leases: [], announcements: new Map(), loadBalancerClass: null, nowMs: 0 }

t.test('no ConfigMap, a bad config, no live speaker: each is named', async t => {
  const missing = buildStatus({ ...base, configText: null })
  t.same(missing.pools, [])
  t.match(missing.problems.join('\n'), /pool ConfigMap \(or its key "config"\) is missing/)
  t.match(missing.problems.join('\n'), /no node has a live speaker/)
  const bad = buildStatus({ ...base, configText: 'address-pools: [{name: a, protocol: bgp, addresses: [192.0.2.0/28]}]' })
  t.match(bad.problems.join('\n'), /pool config: address-pools\[a\]\.protocol: .*layer-2 only/)
  t.match(formatStatus(bad), /\nPROBLEMS\n- /, 'problems come last, one per line')
  t.same(bad.speakers, [{ node: 'n1', ready: true, lease: 'no Lease: no speaker runs here', alive: false }])
})

t.test('Services of another loadBalancerClass are not shown', async t => {
  const r = buildStatus({ ...base, configText: 'address-pools: []', services: [svc('other', { loadBalancerClass: 'other/lb', ingressIPs: ['192.0.2.9'] })] })
  t.same(r.services, [])
})

t.test('an IP a speaker\'s probe found held by another host is a problem, naming the MAC, while the Service has the IP', async t => {
  const annotations = { 'l2lb.dev/address-in-use': '192.0.2.240=02:00:00:00:00:99,192.0.2.250=02:00:00:00:00:98' }
  const r = buildStatus({ ...base, configText: 'address-pools: []', services: [svc('web', { ingressIPs: ['192.0.2.240'], annotations })] })
  const held = r.problems.filter(p => p.includes('held by another host'))
  t.equal(held.length, 1, 'an entry for an IP the Service no longer has is stale: not shown')
  t.match(held[0], /default\/web: 192\.0\.2\.240 is held by another host on the LAN \(MAC 02:00:00:00:00:99\)/)
  t.match(formatStatus(r), /PROBLEMS\n(- .*\n)*- default\/web: 192\.0\.2\.240 is held by another host/)
})
