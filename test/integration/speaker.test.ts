// Three speakers' shells against the in-memory API server: they agree on exactly one announcing node per IP,
// move it when that node stops being Ready, withdraw when the Service goes, and record `nodeAssigned` only
// when the announcing node changes. The announcers here record the set they are given; the packet path
// under them is tested with real sockets in test/integration/arp-responder.test.ts and the lab e2e test.
import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { CoreV1Api, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node'
import { startApiServer } from '../apiserver/server.js'
import { Speaker, type Announcer } from '../../speaker/speaker.js'
import { announcingNode } from '../../speaker/core/election.js'
import { MetricsRegistry } from '../../controller/observe/metrics.js'
import { mergePatch } from '../../controller/kube/kube-client.js'

class RecordingAnnouncer implements Announcer {
  readonly interfaceName = 'eth0'
  current = new Set<string>()
  start(): void {}
  setAnnounced(ips: Iterable<string>): void { this.current = new Set(ips) }
  close(): void {}
}

async function waitFor(what: string, fn: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(r => setTimeout(r, 25))
  }
}

const NODES = ['l2lb-node1', 'l2lb-node2', 'l2lb-node3']
const IP = '192.0.2.240'
const POOLS = `address-pools:
- name: default
  protocol: layer2
  addresses: [192.0.2.240/29]
- name: restricted
  protocol: layer2
  addresses: [192.0.2.248/29]
l2-advertisements:
- ip-address-pools: [default]
- ip-address-pools: [restricted]
  node-selectors:
  - matchLabels: {edge: "true"}
`

t.test('speakers elect one announcer per IP and hand over', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-spk-'))
  const server = await startApiServer({ host: '127.0.0.1', port: 0 })
  const kubeconfig = join(dir, 'kubeconfig')
  await server.writeKubeconfig(kubeconfig)
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfig)
  const core = kc.makeApiClient(CoreV1Api)
  const discovery = kc.makeApiClient(DiscoveryV1Api)
  const ready = (status: 'True' | 'False') => ({ conditions: [{ type: 'Ready', status, reason: 'KubeletReady', message: '' }] })
  for (const name of NODES) {
    await core.createNode({ body: { metadata: { name } } })
    await core.patchNodeStatus({ name, body: { status: ready('True') } }, mergePatch())
  }
  const announcers = new Map<string, RecordingAnnouncer>()
  const speakers = NODES.map(node => {
    const a = new RecordingAnnouncer()
    announcers.set(node, a)
    return new Speaker({ nodeName: node, kubeConfig: kc, log: pino({ level: 'silent' }), metrics: new MetricsRegistry(), announcers: [a], loadBalancerClass: null, configNamespace: 'l2lb-system', configName: 'config' })
  })
  t.teardown(async () => {
    for (const s of speakers) await s.close()
    await server.close()
    rmSync(dir, { recursive: true, force: true })
  })
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOLS } } })
  await Promise.all(speakers.map(s => s.start()))

  const announcing = (): string[] => NODES.filter(n => announcers.get(n)?.current.has(IP))
  const assignedEvents = async (): Promise<string[]> => {
    const l = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=web' })
    return l.items.filter(e => e.reason === 'nodeAssigned').map(e => e.message ?? '')
  }

  await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] } } })
  await core.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: IP }] } } } }, mergePatch())
  await new Promise(r => setTimeout(r, 200))
  t.same(announcing(), [], 'no ready endpoint: nobody announces')

  await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: {
    metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
    endpoints: [{ addresses: ['198.19.1.2'], conditions: { ready: true }, nodeName: 'l2lb-node1' }], ports: [{ port: 80 }],
  } })
  const first = announcingNode(IP, NODES)
  await waitFor('one announcer', () => announcing().length === 1)
  t.same(announcing(), [first], 'exactly the elected node announces')
  await waitFor('event', async () => (await assignedEvents()).length === 1)
  t.same(await assignedEvents(), [`announcing from node ${first}`])

  // Unrelated churn does not re-announce or re-record.
  await core.patchNamespacedService({ name: 'web', namespace: 'default', body: { metadata: { labels: { touched: 'yes' } } } }, mergePatch())
  await new Promise(r => setTimeout(r, 200))
  t.equal((await assignedEvents()).length, 1, 'no nodeAssigned spam on unrelated updates')

  // The announcing node goes NotReady: the IP moves to the next in the hash order, exactly one again.
  await core.patchNodeStatus({ name: first ?? '', body: { status: ready('False') } }, mergePatch())
  const second = announcingNode(IP, NODES.filter(n => n !== first))
  await waitFor('handover', () => announcing().length === 1 && announcing()[0] === second)
  await waitFor('second event', async () => (await assignedEvents()).length === 2)
  t.ok((await assignedEvents()).includes(`announcing from node ${second}`), 'the new node records nodeAssigned')

  await core.deleteNamespacedService({ name: 'web', namespace: 'default' })
  await waitFor('withdrawn', () => announcing().length === 0)
  t.pass('deleting the Service withdraws the IP everywhere')

  // Advertisement rules: an IP in no pool is never announced; a pool limited by node selector is announced
  // only from a matching node, even when the hash would pick another.
  const svcWith = async (name: string, ip: string): Promise<void> => {
    await core.createNamespacedService({ namespace: 'default', body: { metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] } } })
    await core.patchNamespacedServiceStatus({ name, namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip }] } } } }, mergePatch())
    await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: {
      metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
      endpoints: [{ addresses: ['198.19.1.2'], conditions: { ready: true }, nodeName: 'l2lb-node1' }], ports: [{ port: 80 }],
    } })
  }
  const who = (ip: string): string[] => NODES.filter(n => announcers.get(n)?.current.has(ip))
  await svcWith('stray', '192.0.2.77')
  await new Promise(r => setTimeout(r, 300))
  t.same(who('192.0.2.77'), [], 'an IP outside every pool is not announced')
  const liveNow = NODES.filter(x => x !== first)
  const edge = liveNow.find(n => n !== announcingNode('192.0.2.250', liveNow)) ?? ''
  await core.patchNode({ name: edge, body: { metadata: { labels: { edge: 'true' } } } }, mergePatch())
  await svcWith('edge', '192.0.2.250')
  await waitFor('edge announce', () => who('192.0.2.250').length === 1)
  t.same(who('192.0.2.250'), [edge], 'only the node the advertisement selects announces')
})
