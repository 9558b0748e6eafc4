import t from 'tap'
import { createHash } from 'node:crypto'
import { announcingNode, electService, liveNodes, shouldAnnounce } from '../../speaker/core/election.js'
import type { ServiceView, EndpointSliceView, NodeView } from '../../controller/core/views.js'

function svc(over: Partial<ServiceView> = {}): ServiceView {
  return {
    key: 'default/web', namespace: 'default', name: 'web', uid: 'u1', resourceVersion: '1', creationTimestamp: '', type: 'LoadBalancer',
    isLoadBalancer: true, loadBalancerClass: null, loadBalancerIP: null, annotations: {}, labels: {},
    selector: { app: 'web' }, externalTrafficPolicy: 'Cluster', ipFamilies: ['IPv4'], ipFamilyPolicy: 'SingleStack',
    clusterIPs: ['198.18.0.10'], ports: [{ name: '', protocol: 'TCP', port: 80 }], ingressIPs: ['192.0.2.240'],
    ...over,
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
    const ip = `192.0.2.${i}`
    const expected = [...nodes].sort((a, b) => {
      const ha = createHash('sha256').update(`${a}#${ip}`).digest('hex')
      const hb = createHash('sha256').update(`${b}#${ip}`).digest('hex')
      return ha < hb ? -1 : 1
    })[0]
    t.equal(announcingNode(ip, nodes), expected, ip)
    t.equal(announcingNode(ip, [...nodes].reverse()), expected, `${ip}: candidate order does not matter`)
  }
  t.equal(announcingNode('192.0.2.240', []), null, 'no candidates, no winner')
})

t.test('losing a node moves only the IPs it held', async t => {
  const ips = Array.from({ length: 200 }, (_, i) => `2001:db8:0:1::${(i + 1).toString(16)}`)
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

t.test('live nodes: Ready and not excluded', async t => {
  const views: NodeView[] = [
    { name: 'a', ready: true, labels: {}, excludedFromLoadBalancers: false },
    { name: 'b', ready: false, labels: {}, excludedFromLoadBalancers: false },
    { name: 'c', ready: true, labels: {}, excludedFromLoadBalancers: true },
  ]
  t.same([...liveNodes(views)], ['a'])
})

t.test('a Service is announced only with a ready endpoint', async t => {
  const live = new Set(nodes)
  t.equal(electService(svc(), [], live).reason, 'noReadyEndpoints')
  t.equal(electService(svc(), [slice([{ node: 'l2lb-node1', ready: false }])], live).reason, 'noReadyEndpoints')
  t.equal(electService(svc({ ingressIPs: [] }), [slice([{ node: 'l2lb-node1', ready: true }])], live).reason, 'noIngressIP')
  const a = electService(svc(), [slice([{ node: 'l2lb-node1', ready: true }])], live)
  t.equal(a.reason, null)
  const winner = announcingNode('192.0.2.240', nodes)
  t.equal(a.winners.get('192.0.2.240'), winner, 'Cluster policy: any live node may win')
  t.equal(nodes.filter(n => shouldAnnounce(n, '192.0.2.240', a)).length, 1, 'exactly one node announces')
})

t.test('externalTrafficPolicy Local: only nodes with a ready local endpoint', async t => {
  const live = new Set(nodes)
  const local = svc({ externalTrafficPolicy: 'Local' })
  for (const host of nodes) {
    const a = electService(local, [slice([{ node: host, ready: true }, { node: 'l2lb-node9', ready: true }])], live)
    t.equal(a.winners.get('192.0.2.240'), host, `only ${host} has an endpoint (node9 is not live)`)
  }
  const none = electService(local, [slice([{ node: 'l2lb-node9', ready: true }])], live)
  t.equal(none.reason, 'noLiveCandidate')
})
