import t from 'tap'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { announcingNode, electService, shouldAnnounce } from '../../speaker/core/election.js'
import { toServiceView, type ServiceView, type EndpointSliceView } from '../../internal/core/views.js'
import { ip as canonical, ips } from '../lib/canonical-ip.js'

function svc(over: Partial<Omit<ServiceView, 'ingressIPs'>> & { ingressIPs?: readonly string[] } = {}): ServiceView {
  return {
    key: 'default/web', namespace: 'default', name: 'web', uid: 'u1', resourceVersion: '1', creationTimestamp: '', type: 'LoadBalancer',
    isLoadBalancer: true, loadBalancerClass: null, loadBalancerIP: null, annotations: {}, labels: {},
    selector: { app: 'web' }, externalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
    clusterIPs: ['198.18.0.10'], ports: [{ name: '', protocol: 'TCP', port: 80 }], badIngressIPs: [],
    ...over,
    ingressIPs: ips(...(over.ingressIPs ?? ['192.0.2.240'])),
  }
}

function slice(endpoints: Array<{ node: string; ready: boolean }>): EndpointSliceView {
  return {
    key: 'default/web-abc', namespace: 'default', name: 'web-abc', serviceName: 'web',
    endpoints: endpoints.map((e, i) => ({ addresses: [`198.19.1.${i + 2}`], ready: e.ready, nodeName: e.node })),
  }
}

const nodes = ['l2lb-node1', 'l2lb-node2', 'l2lb-node3']

t.test('the winner is the node with the smallest sha256(node#ip)', async t => {
  for (let i = 240; i <= 250; i++) {
    const ip = canonical(`192.0.2.${i}`)
    const expected = [...nodes].sort((a, b) => {
      const ha = createHash('sha256').update(`${a}#${ip}`).digest('hex')
      const hb = createHash('sha256').update(`${b}#${ip}`).digest('hex')
      return ha < hb ? -1 : 1
    })[0]
    t.equal(announcingNode(ip, nodes), expected, ip)
    t.equal(announcingNode(ip, [...nodes].reverse()), expected, `${ip}: candidate order does not matter`)
  }
  t.equal(announcingNode(canonical('192.0.2.240'), []), null, 'no candidates, no winner')
})

t.test('losing a node moves only the IPs it held', async t => {
  const ips = Array.from({ length: 200 }, (_, i) => canonical(`2001:db8:0:1::${(i + 1).toString(16)}`))
  const before = new Map(ips.map(ip => [ip, announcingNode(ip, nodes)]))
  const survivors = nodes.filter(n => n !== 'l2lb-node2')
  let moved = 0
  for (const ip of ips) {
    const after = announcingNode(ip, survivors)
    if (before.get(ip) === 'l2lb-node2') { moved++; t.not(after, 'l2lb-node2') }
    else t.equal(after, before.get(ip), `${ip} stays where it was`)
  }
  t.ok(moved > 0, 'the dead node held some IPs')
  const counts = new Map<string, number>()
  for (const w of before.values()) if (w) counts.set(w, (counts.get(w) ?? 0) + 1)
  for (const n of nodes) t.ok((counts.get(n) ?? 0) > 30, `${n} announces a fair share (${counts.get(n)})`)
})

t.test('every speaker, seeing the same cluster in any order, elects the same single winner', async t => {
  fc.assert(fc.property(
    fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/), { minLength: 1, maxLength: 6 }),
    fc.integer({ min: 0, max: 255 }),
    fc.boolean(),
    (names, last, local) => {
      const ip = canonical(`192.0.2.${last}`)
      const slices = [slice(names.map(n => ({ node: n, ready: true })))]
      const service = svc({ ingressIPs: [ip], externalTrafficPolicy: local ? 'Local' : 'Cluster' })
      // Each node elects from its own view: the same facts, listed in its own (here: rotated) order.
      const claims = names.filter((me, i) => {
        const rotated = [...names.slice(i), ...names.slice(0, i)]
        const view = electService(service, [{ ...slices[0]!, endpoints: [...(slices[0]?.endpoints ?? [])].reverse() }], new Set(rotated))
        return shouldAnnounce(me, ip, view)
      })
      return claims.length === 1
    },
  ))
  t.pass('exactly one claimant for every random cluster')
})

t.test('IPv6 addresses written differently elect the same node', async t => {
  const live = new Set(nodes)
  const ready = [slice([{ node: 'l2lb-node1', ready: true }])]
  // Through views.ts, the one place a status IP is canonicalised: the election hashes what it is handed.
  const view = (written: string): ServiceView => toServiceView({
    metadata: { namespace: 'default', name: 'web' },
    spec: { type: 'LoadBalancer', selector: { app: 'web' } },
    status: { loadBalancer: { ingress: [{ ip: written }] } },
  })
  const a = electService(view('2001:db8:0:1::f0'), ready, live)
  const b = electService(view('2001:0DB8:0000:0001:0000:0000:0000:00F0'), ready, live)
  t.same([...a.winners.keys()], ['2001:db8:0:1::f0'], 'keyed by the canonical address')
  t.same([...a.winners], [...b.winners], 'winners keyed and hashed by the canonical address')
  const junk = view('fe80::1%eth0')
  t.same([junk.ingressIPs, junk.badIngressIPs], [[], ['fe80::1%eth0']], 'a status entry that is no Service address is kept apart, as written')
  t.equal(electService(junk, ready, live).reason, 'noIngressIP', 'and never elected')
})

t.test('a Service is announced only with a ready endpoint', async t => {
  const live = new Set(nodes)
  t.equal(electService(svc(), [], live).reason, 'noReadyEndpoints')
  t.equal(electService(svc(), [slice([{ node: 'l2lb-node1', ready: false }])], live).reason, 'noReadyEndpoints')
  t.equal(electService(svc({ ingressIPs: [] }), [slice([{ node: 'l2lb-node1', ready: true }])], live).reason, 'noIngressIP')
  const a = electService(svc(), [slice([{ node: 'l2lb-node1', ready: true }])], live)
  t.equal(a.reason, null)
  const winner = announcingNode(canonical('192.0.2.240'), nodes)
  t.equal(a.winners.get(canonical('192.0.2.240')), winner, 'Cluster policy: any live node may win')
  t.equal(nodes.filter(n => shouldAnnounce(n, canonical('192.0.2.240'), a)).length, 1, 'shouldAnnounce is true for the winner only')
})

t.test('externalTrafficPolicy Local: only nodes with a ready local endpoint', async t => {
  const live = new Set(nodes)
  const local = svc({ externalTrafficPolicy: 'Local' })
  for (const host of nodes) {
    const a = electService(local, [slice([{ node: host, ready: true }, { node: 'l2lb-node9', ready: true }])], live)
    t.equal(a.winners.get(canonical('192.0.2.240')), host, `only ${host} has an endpoint (node9 is not live)`)
  }
  const none = electService(local, [slice([{ node: 'l2lb-node9', ready: true }])], live)
  t.equal(none.reason, 'noLiveCandidate')
})
