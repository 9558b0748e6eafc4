// Three speakers' shells against an API server (the stand-in and, with KUBEBUILDER_ASSETS, a real
// kube-apiserver), each as l2lb's speaker ServiceAccount under config/default's RBAC: they agree on exactly
// one announcing node per IP, move it when that node stops being Ready, withdraw when the Service goes, and
// record `nodeAssigned` only when the announcing node changes. The announcers here record the set they are
// given; the packet path under them is tested with real sockets in test/integration/arp-responder.test.ts
// and the lab e2e test. The test itself writes (Nodes, Services and their status, EndpointSlices, Leases
// standing for other nodes) as admin.
import t, { type Test } from 'tap'
import { pino } from 'pino'
import { CoordinationV1Api, CoreV1Api, DiscoveryV1Api, V1MicroTime } from '@kubernetes/client-node'
import { Speaker } from '../../speaker/speaker.js'
import { eachApiServer, RecordingAnnouncer, waitFor, type TestCluster } from '../lib/cluster.js'
import { announcingNode } from '../../speaker/core/election.js'
import { ip as canonical } from '../lib/canonical-ip.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { mergePatch } from '../../internal/kube/kube-client.js'
import type { OwnStatus, PeerHeartbeatSource } from '../../speaker/peer-heartbeat.js'
import type { ReceivedHeartbeat } from '../../speaker/core/peer-heartbeat.js'
import { systemClock } from '../../speaker/system-clock.js'

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

eachApiServer(t, 'speakers elect one announcer per IP and hand over', async (t, cluster) => {
  const kc = cluster.kubeConfigAs('speaker')
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
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
  })
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOLS } } })
  await Promise.all(speakers.map(s => s.start()))

  const who = (ip: string): string[] => announcedBy(announcers, ip)
  const announcing = (): string[] => who(IP)
  // A negative ("nobody announces X") means something only once the speakers have processed the change:
  // expose a control Service after it and wait until that one is announced, then look.
  let controls = 0
  const settled = async (): Promise<void> => {
    const ip = `192.0.2.${241 + controls}`
    await expose(cluster, `control-${controls++}`, ip)
    await waitFor(`control ${ip} announced`, () => who(ip).length === 1)
  }
  const assignedEvents = async (): Promise<string[]> => {
    const l = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.name=web' })
    return l.items.filter(e => e.reason === 'nodeAssigned').map(e => e.message ?? '')
  }

  await loadBalancerService(cluster, 'web', IP)
  await settled()
  t.same(announcing(), [], 'no ready endpoint: nobody announces')

  await readyEndpointSlice(cluster, 'web')
  const first = announcingNode(canonical(IP), NODES)
  await waitFor('one announcer', () => announcing().length === 1)
  t.same(announcing(), [first], 'exactly the elected node announces')
  await waitFor('event', async () => (await assignedEvents()).length === 1)
  t.same(await assignedEvents(), [`announcing from node ${first}`])

  // Unrelated churn does not re-announce or re-record.
  await core.patchNamespacedService({ name: 'web', namespace: 'default', body: { metadata: { labels: { touched: 'yes' } } } }, mergePatch())
  await settled()
  // A spurious Event would be written in the same recompute as the control's own nodeAssigned: wait for that.
  const controlName = `control-${controls - 1}`
  await waitFor('control nodeAssigned', async () => (await core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${controlName}` })).items.some(e => e.reason === 'nodeAssigned'))
  t.equal((await assignedEvents()).length, 1, 'no nodeAssigned spam on unrelated updates')

  // The announcing node goes NotReady: the IP moves to the next in the hash order, exactly one again.
  await core.patchNodeStatus({ name: first ?? '', body: { status: ready('False') } }, mergePatch())
  const second = announcingNode(canonical(IP), NODES.filter(n => n !== first))
  await waitFor('handover', () => announcing().length === 1 && announcing()[0] === second)
  await waitFor('second event', async () => (await assignedEvents()).length === 2)
  t.ok((await assignedEvents()).includes(`announcing from node ${second}`), 'the new node records nodeAssigned')

  await core.deleteNamespacedService({ name: 'web', namespace: 'default' })
  await waitFor('withdrawn', () => announcing().length === 0)
  t.pass('deleting the Service withdraws the IP everywhere')

  // Advertisement rules: an IP in no pool is never announced; a pool limited by node selector is announced
  // only from a matching node, even when the hash would pick another.
  await expose(cluster, 'stray', '192.0.2.77')
  await settled()
  t.same(who('192.0.2.77'), [], 'an IP outside every pool is not announced')
  const liveNow = NODES.filter(x => x !== first)
  const edge = liveNow.find(n => n !== announcingNode(canonical('192.0.2.250'), liveNow)) ?? ''
  await core.patchNode({ name: edge, body: { metadata: { labels: { edge: 'true' } } } }, mergePatch())
  await expose(cluster, 'edge', '192.0.2.250')
  await waitFor('edge announce', () => who('192.0.2.250').length === 1)
  t.same(who('192.0.2.250'), [edge], 'only the node the advertisement selects announces')
  t.same(cluster.forbidden(), [], 'no request of the speakers was forbidden')
})

eachApiServer(t, 'per-node Leases: a node without a live speaker is passed over; a stopping speaker hands over', async (t, cluster) => {
  const { coordination, announcers, speakers, who } = await speakerCluster(t, cluster, 1)
  const all = [...NODES, 'l2lb-node4']
  const leases = await coordination.listNamespacedLease({ namespace: 'l2lb-system' })
  t.same(leases.items.map(l => l.spec?.holderIdentity).sort(), NODES, 'one Lease per running speaker, none per Service')

  // l2lb-node4 is Ready but runs no speaker: it is never elected, even for an IP whose hash it would win.
  const ips = ['192.0.2.241', '192.0.2.242', '192.0.2.243', '192.0.2.244', '192.0.2.245', '192.0.2.246', '192.0.2.247']
  const node4IP = ips.find(ip => announcingNode(canonical(ip), all) === 'l2lb-node4') ?? ''
  t.not(node4IP, '', 'some IP hashes to node4')
  await expose(cluster, 'orphan', node4IP)
  await waitFor('node4 IP announced by a live speaker', () => who(node4IP).length === 1)
  t.same(who(node4IP), [announcingNode(canonical(node4IP), NODES)], 'the winner among nodes with a live speaker')

  // A speaker SIGKILLed right after a renewal: its Lease stays fresh for one duration, then runs out. Its IPs
  // move then, and not before (the frozen Lease below is node4's last renewal).
  const lateIP = ips.find(ip => ip !== node4IP && announcingNode(canonical(ip), all) === 'l2lb-node4') ?? ''
  t.not(lateIP, '', 'a second IP hashes to node4')
  await coordination.createNamespacedLease({ namespace: 'l2lb-system', body: {
    metadata: { name: 'l2lb-speaker-l2lb-node4', labels: { 'app.kubernetes.io/name': 'l2lb', 'app.kubernetes.io/component': 'speaker' } },
    spec: { holderIdentity: 'l2lb-node4', leaseDurationSeconds: 1, renewTime: new V1MicroTime() },
  } })
  const frozenAt = Date.now()
  await expose(cluster, 'killed', lateIP)
  await waitFor('a live speaker takes over once the Lease runs out', () => who(lateIP).length === 1, 8000)
  t.same(who(lateIP), [announcingNode(canonical(lateIP), NODES)])
  t.ok(Date.now() - frozenAt >= 900, `not before the 1 s Lease ran out (${Date.now() - frozenAt} ms)`)

  const victimIP = '192.0.2.240'
  await expose(cluster, 'web', victimIP)
  const victim = announcingNode(canonical(victimIP), NODES) ?? ''
  await waitFor('victim announces', () => who(victimIP).length === 1)
  t.same(who(victimIP), [victim])
  // A graceful stop (SIGTERM) withdraws and deletes the Lease: the next node takes over without waiting for
  // the Lease to run out.
  const heir = announcingNode(canonical(victimIP), NODES.filter(n => n !== victim)) ?? ''
  const victimSpeaker = speakers.get(victim)
  speakers.delete(victim)
  await victimSpeaker?.close()
  t.same(announcers.get(victim)?.current, new Set(), 'the stopping speaker withdrew everything')
  await waitFor('heir takes over', () => who(victimIP).length === 1)
  t.same(who(victimIP), [heir], `${heir} announces ${victimIP} after ${victim} stopped`)
  const gone = await coordination.listNamespacedLease({ namespace: 'l2lb-system' })
  t.notOk(gone.items.some(l => l.spec?.holderIdentity === victim), 'the stopped speaker gave its Lease up')
  t.same(cluster.forbidden(), [], 'no request of the speakers was forbidden (Lease create, renew, delete)')
})

/**
 * The LAN for peer heartbeats, in memory: every started source hears every other one's heartbeats, sent
 * every `intervalMs`. `silence(node)` stops a node's heartbeats without a `leaving` (as SIGKILL does).
 */
class HeartbeatLan {
  readonly #listeners = new Map<string, (h: ReceivedHeartbeat) => void>()
  readonly #timers = new Map<string, NodeJS.Timeout>()
  constructor(readonly intervalMs: number) {}

  source(node: string): PeerHeartbeatSource {
    let sequence = 0
    let lastSent: number | null = null
    let status: (() => OwnStatus) | null = null
    const send = (s: OwnStatus | { kind: 'leaving'; reachesApi: boolean }): void => {
      // lastSentMs() is on the speaker's clock: the Speakers here run on their default, systemClock.
      lastSent = systemClock.now()
      for (const [other, hear] of this.#listeners) {
        if (other !== node) hear({ node, kind: s.kind, reachesApi: s.reachesApi, intervalMs: this.intervalMs, sequence, src: Buffer.alloc(6) })
      }
      sequence++
    }
    return {
      intervalMs: this.intervalMs,
      lastSentMs: () => lastSent,
      listen: onHeartbeat => { this.#listeners.set(node, onHeartbeat) },
      join: s => {
        status = s
        send(s())
        this.#timers.set(node, setInterval(() => { if (status) send(status()) }, this.intervalMs))
      },
      sendNow: () => { if (status && this.#timers.has(node)) send(status()) },
      close: () => {
        this.silence(node)
        if (status) send({ kind: 'leaving', reachesApi: status().reachesApi })
        this.#listeners.delete(node)
      },
    }
  }

  /** A node that says alive (reaching the API server) every interval without running a speaker. */
  pretend(node: string): void {
    const s = this.source(node)
    s.listen(() => {})
    s.join(() => ({ kind: 'alive', reachesApi: true }))
  }

  silence(node: string): void {
    clearInterval(this.#timers.get(node))
    this.#timers.delete(node)
  }
}

/** The nodes among NODES whose announcer currently holds `ip`. */
function announcedBy(announcers: ReadonlyMap<string, RecordingAnnouncer>, ip: string): string[] {
  return NODES.filter(n => announcers.get(n)?.current.has(ip))
}

/** A LoadBalancer Service `name` in default whose status holds `ip`, written as admin; no endpoints yet. */
async function loadBalancerService(cluster: TestCluster, name: string, ip: string): Promise<void> {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  await core.createNamespacedService({ namespace: 'default', body: { metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] } } })
  await core.patchNamespacedServiceStatus({ name, namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip }] } } } }, mergePatch())
}

/** An EndpointSlice for Service `name` with one ready endpoint on l2lb-node1, written as admin. */
async function readyEndpointSlice(cluster: TestCluster, name: string): Promise<void> {
  await cluster.kubeConfig.makeApiClient(DiscoveryV1Api).createNamespacedEndpointSlice({ namespace: 'default', body: {
    metadata: { name: `${name}-1`, labels: { 'kubernetes.io/service-name': name } }, addressType: 'IPv4',
    endpoints: [{ addresses: ['198.19.1.2'], conditions: { ready: true }, nodeName: 'l2lb-node1' }], ports: [{ port: 80 }],
  } })
}

/** A Service with a status IP and a ready endpoint: what a speaker announces. */
async function expose(cluster: TestCluster, name: string, ip: string): Promise<void> {
  await loadBalancerService(cluster, name, ip)
  await readyEndpointSlice(cluster, name)
}

/**
 * Three speakers (l2lb-node1..3, each with a recording announcer) on four Ready Nodes: l2lb-node4 runs no
 * speaker here, a test gives it a Lease or heartbeats by hand. `who` says which speakers announce an IP.
 */
async function speakerCluster(t: Test, cluster: TestCluster, leaseSeconds: number, lan?: HeartbeatLan) {
  const kc = cluster.kubeConfigAs('speaker')
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  const coordination = cluster.kubeConfig.makeApiClient(CoordinationV1Api)
  for (const name of [...NODES, 'l2lb-node4']) {
    await core.createNode({ body: { metadata: { name } } })
    await core.patchNodeStatus({ name, body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: '' }] } } }, mergePatch())
  }
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOLS } } })
  const announcers = new Map<string, RecordingAnnouncer>()
  const speakers = new Map(NODES.map(node => {
    const a = new RecordingAnnouncer()
    announcers.set(node, a)
    return [node, new Speaker({
      nodeName: node, kubeConfig: kc, log: pino({ level: 'silent' }), metrics: new MetricsRegistry(), announcers: [a],
      loadBalancerClass: null, configNamespace: 'l2lb-system', configName: 'config', leaseDurationSeconds: leaseSeconds,
      ...(lan === undefined ? {} : { peerHeartbeats: lan.source(node) }),
    })]
  }))
  t.teardown(async () => {
    for (const s of speakers.values()) await s.close()
  })
  await Promise.all([...speakers.values()].map(s => s.start()))
  const who = (ip: string): string[] => announcedBy(announcers, ip)
  return { coordination, announcers, speakers, who }
}

eachApiServer(t, 'peer heartbeats: a node whose heartbeats stop is passed over long before its Lease runs out', async (t, cluster) => {
  const lan = new HeartbeatLan(50)
  const { coordination, who } = await speakerCluster(t, cluster, 30, lan)
  // l2lb-node4 stands for a speaker about to be SIGKILLed: a Lease renewed now (30 s), heartbeats on the LAN,
  // no announcer of its own here. It wins the hash for ip among all four nodes.
  const all = [...NODES, 'l2lb-node4']
  const ip = ['192.0.2.241', '192.0.2.242', '192.0.2.243', '192.0.2.244', '192.0.2.245', '192.0.2.246'].find(a => announcingNode(canonical(a), all) === 'l2lb-node4') ?? ''
  t.not(ip, '', 'some IP hashes to node4')
  await coordination.createNamespacedLease({ namespace: 'l2lb-system', body: {
    metadata: { name: 'l2lb-speaker-l2lb-node4', labels: { 'app.kubernetes.io/name': 'l2lb', 'app.kubernetes.io/component': 'speaker' } },
    spec: { holderIdentity: 'l2lb-node4', leaseDurationSeconds: 30, renewTime: new V1MicroTime() },
  } })
  lan.pretend('l2lb-node4')
  await expose(cluster, 'web', ip)
  await new Promise(r => setTimeout(r, 500))
  t.same(who(ip), [], 'while node4 is heard and its Lease is fresh, it is the owner: no other node announces')
  const heir = announcingNode(canonical(ip), NODES) ?? ''
  lan.silence('l2lb-node4') // SIGKILL: no more heartbeats, no more renewals
  await waitFor('a live node takes over', () => who(ip).length === 1, 5000)
  t.same(who(ip), [heir], `${heir} took ${ip} over within 5 s of node4 falling silent, though node4's Lease had 30 s left`)
  t.same(cluster.forbidden(), [], 'no request of the speakers was forbidden')
})

eachApiServer(t, 'a node whose heartbeats stop going out while it renews its Lease: it stops announcing and a peer takes over', async (t, cluster) => {
  const lan = new HeartbeatLan(50)
  const { who } = await speakerCluster(t, cluster, 2, lan) // renewed every 0.5 s
  const ip = '192.0.2.240'
  await expose(cluster, 'web', ip)
  const owner = announcingNode(canonical(ip), NODES) ?? ''
  await waitFor('the owner announces', () => who(ip).length === 1 && who(ip)[0] === owner)
  // Its sends stop (a broken NIC queue, a lost socket): peers that hear each other pass it over, whatever its
  // Lease says, and it knows its own sends failed, so it does not keep answering beside the heir.
  lan.silence(owner)
  const heir = announcingNode(canonical(ip), NODES.filter(n => n !== owner)) ?? ''
  await waitFor('the heir announces alone', () => who(ip).length === 1 && who(ip)[0] === heir, 5000)
  await new Promise(r => setTimeout(r, 1500))
  t.same(who(ip), [heir], `${heir} announces alone, through the owner's Lease renewals: never two announcers for long`)
  t.same(cluster.forbidden(), [], 'no request of the speakers was forbidden')
})
