// speaker/core/announcement-plan.ts: what this node announces and where, from views alone (no informers).
import t from 'tap'
import { planAnnouncements, type PlanInput } from '../../speaker/core/announcement-plan.js'
import { announcingNode } from '../../speaker/core/election.js'
import { indexPools } from '../../speaker/core/advertisement.js'
import { parsePoolConfig } from '../../internal/core/pool-config.js'
import { ANNOUNCED_IPS } from '../../internal/core/annotations.js'
import type { EndpointSliceView, NodeView, ServiceView } from '../../internal/core/views.js'
import { ip, ip as canonical, ips } from '../lib/canonical-ip.js'

function svc(name: string, texts: string[], over: Partial<ServiceView> = {}): ServiceView {
  return {
    key: `default/${name}`, namespace: 'default', name, uid: `u-${name}`, resourceVersion: '1', creationTimestamp: '', type: 'LoadBalancer',
    isLoadBalancer: true, loadBalancerClass: null, loadBalancerIP: null, annotations: { [ANNOUNCED_IPS]: texts.join(',') }, labels: {},
    selector: { app: name }, externalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
    clusterIPs: ['198.18.0.10'], ports: [{ name: '', protocol: 'TCP', port: 80 }], ingressIPs: ips(...texts), badIngressIPs: [], ...over,
  }
}
const node = (name: string, labels: Record<string, string> = {}): NodeView => ({ name, ready: true, labels, excludedFromLoadBalancers: false })
const NODES = ['n1', 'n2', 'n3']

function pools(text: string) {
  const p = parsePoolConfig(text)
  if (!p.ok) throw new Error(JSON.stringify(p.errors))
  return indexPools(p.config)
}
const POOLS = pools('address-pools:\n- name: a\n  protocol: layer2\n  addresses: [192.0.2.240/28]\n')

/** A ready endpoint on n1 for each Service (a Service without one is never announced: core/election.ts). */
function slicesFor(services: Iterable<ServiceView>): EndpointSliceView[] {
  return [...services].map(s => ({
    key: `${s.key}-1`, namespace: s.namespace, name: `${s.name}-1`, serviceName: s.name,
    endpoints: [{ addresses: ['198.19.1.2'], ready: true, nodeName: 'n1' }],
  }))
}

function plan(me: string, over: Partial<PlanInput> = {}) {
  return planAnnouncements({
    me, services: [], slices: slicesFor(over.services ?? []), nodes: NODES.map(n => node(n)), live: new Set(NODES), pools: POOLS,
    loadBalancerClass: null, interfaces: ['eth0'], ...over,
  })
}

t.test('each IP goes to exactly one live node, the one the election names', async t => {
  const services = [svc('a', ['192.0.2.240']), svc('b', ['192.0.2.241']), svc('c', ['192.0.2.242'])]
  const owners = new Map<string, string[]>()
  for (const me of NODES) {
    for (const ips of plan(me, { services }).mine.values()) for (const ip of ips) owners.set(ip, [...(owners.get(ip) ?? []), me])
  }
  for (const s of services) {
    const ip = s.ingressIPs[0] ?? canonical('0.0.0.0')
    t.same(owners.get(ip), [announcingNode(ip, NODES)], `${ip}: one owner, the election's`)
  }
  const heir = announcingNode(ip('192.0.2.240'), ['n2', 'n3']) ?? ''
  const without = plan(heir, { services, live: new Set(['n2', 'n3']) })
  t.ok(without.mine.get('default/a')?.has(ip('192.0.2.240')), 'n1 out of the live set: its IPs go to the next in the order')
})

t.test('nothing is announced without a pool config, outside every pool, for a Service of another class, or without a ready endpoint', async t => {
  const services = [svc('a', ['192.0.2.240']), svc('out', ['198.51.100.7']), svc('other', ['192.0.2.243'], { loadBalancerClass: 'example.com/other' })]
  const all = NODES.flatMap(me => [...plan(me, { services }).mine.keys()])
  t.same(all.sort(), ['default/a'], 'only the Service in a pool and of our class')
  t.same(NODES.flatMap(me => [...plan(me, { services, pools: null }).mine.keys()]), [], 'no config yet: nothing')
  t.same(NODES.flatMap(me => [...plan(me, { services, slices: [] }).mine.keys()]), [], 'no ready endpoint: nothing')
})

t.test('an advertisement limits the nodes and the interfaces', async t => {
  const limited = pools([
    'address-pools:', '- name: a', '  protocol: layer2', '  addresses: [192.0.2.240/28]',
    'l2-advertisements:', '- ip-address-pools: [a]', '  node-selectors: [{matchLabels: {edge: "true"}}]', '  interfaces: [eth1]', '',
  ].join('\n'))
  const nodes = [node('n1'), node('n2', { edge: 'true' }), node('n3')]
  const services = [svc('a', ['192.0.2.240'])]
  const p = plan('n2', { services, nodes, pools: limited, interfaces: ['eth0', 'eth1'] })
  t.same([...(p.mine.get('default/a') ?? [])], ['192.0.2.240'], 'the only node the selector lets announce wins it')
  t.same([...(p.perInterface.get('eth1') ?? [])], ['192.0.2.240'], 'on the advertised interface')
  t.same([...(p.perInterface.get('eth0') ?? [])], [], 'and not on the other')
  t.same([...plan('n1', { services, nodes, pools: limited, interfaces: ['eth0', 'eth1'] }).mine.keys()], [], 'n1 may not announce it')
})

t.test('an IP no node announced before is fresh (probed first); a known one is not', async t => {
  const text = '192.0.2.244'
  const owner = announcingNode(ip(text), NODES) ?? ''
  t.same([...plan(owner, { services: [svc('new', [text], { annotations: {} })] }).fresh], [text])
  t.same([...plan(owner, { services: [svc('known', [text])] }).fresh], [], 'in announced-ips: a takeover, no probe')
})
