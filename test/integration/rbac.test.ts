// Least privilege, enforced: the API server authorizes every request of the controller and the speaker with
// the RBAC rules shipped in config/default/rbac.yaml (ServiceAccount tokens, ClusterRoles bound cluster-wide,
// Roles bound in l2lb-system). The whole allocate-and-announce flow must work with nothing forbidden, and a
// speaker must not be able to write a Service's status. On the stand-in (which evaluates the same file,
// test/lib/rbac-grants.ts) and, with KUBEBUILDER_ASSETS, on a real kube-apiserver that enforces the applied
// objects itself (its audit log lists what it refused).
import t from 'tap'
import { readFileSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { CoordinationV1Api, CoreV1Api, DiscoveryV1Api } from '@kubernetes/client-node'
import { LeaderElector } from '../../controller/kube/leader-elector.js'
import { Controller } from '../../controller/controller.js'
import { Speaker } from '../../speaker/speaker.js'
import { eachApiServer, RecordingAnnouncer, waitFor } from '../lib/cluster.js'
import { grantsFrom, RBAC_MANIFEST } from '../lib/rbac-grants.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { mergePatch, classifyApiError } from '../../internal/kube/kube-client.js'

t.test('the shipped RBAC binds both ServiceAccounts', async t => {
  const users = new Set(grantsFrom(readFileSync(RBAC_MANIFEST, 'utf8')).map(g => g.user))
  t.same([...users].sort(), ['system:serviceaccount:l2lb-system:controller', 'system:serviceaccount:l2lb-system:speaker'])
})

eachApiServer(t, 'controller and speaker work with exactly the shipped RBAC', async (t, cluster) => {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  const discovery = cluster.kubeConfig.makeApiClient(DiscoveryV1Api)
  await core.createNode({ body: { metadata: { name: 'l2lb-node1' } } })
  await core.patchNodeStatus({ name: 'l2lb-node1', body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: '' }] } } }, mergePatch())
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: 'address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.240/30]\n' } } })

  const log = pino({ level: 'silent' })
  const controllerKc = cluster.kubeConfigAs('controller')
  const controller = new Controller({
    kubeConfig: controllerKc, log, metrics: new MetricsRegistry(), configNamespace: 'l2lb-system', configName: 'config', loadBalancerClass: null, instance: 'rbac',
  })
  // As controller/main.ts runs it: behind leader election, with the controller's own account.
  const elector = new LeaderElector({
    api: controllerKc.makeApiClient(CoordinationV1Api), namespace: 'l2lb-system', name: 'l2lb-controller', identity: 'rbac',
    log, now: () => performance.now(), retryPeriodMs: 200,
    onStartedLeading: () => { void controller.start() }, onStoppedLeading: () => { void controller.close() },
  })
  const announcer = new RecordingAnnouncer()
  const speakerKc = cluster.kubeConfigAs('speaker')
  const speaker = new Speaker({
    nodeName: 'l2lb-node1', kubeConfig: speakerKc, log, metrics: new MetricsRegistry(), announcers: [announcer],
    loadBalancerClass: null, configNamespace: 'l2lb-system', configName: 'config',
  })
  t.teardown(async () => { await speaker.close(); await controller.close(); await elector.close() })
  elector.start()
  await waitFor('controller leads', () => elector.leading)
  await speaker.start()

  await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] } } })
  await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: {
    metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4',
    endpoints: [{ addresses: ['198.19.1.2'], conditions: { ready: true }, nodeName: 'l2lb-node1' }], ports: [{ port: 80 }],
  } })
  await waitFor('announced', () => announcer.current.has('192.0.2.240'))
  await waitFor('both Events', async () => {
    const reasons = (await core.listNamespacedEvent({ namespace: 'default' })).items.map(e => e.reason)
    return reasons.includes('IPAllocated') && reasons.includes('nodeAssigned')
  })
  t.pass('IP allocated, status written, announced, Events recorded under the shipped RBAC')
  await speaker.close()
  await controller.close()
  await elector.close()
  t.same(cluster.forbidden(), [], 'no request of either program was forbidden (including Lease renewal, release and deletion on stop)')

  // Enforcement is real: the speaker's account may not write a Service's status.
  const speakerCore = speakerKc.makeApiClient(CoreV1Api)
  const err = await speakerCore.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.241' }] } } } }, mergePatch())
    .then(() => null, (e: unknown) => classifyApiError(e))
  t.equal(err?.status, 403, 'speaker cannot patch services/status')
  // The real server's audit log is written asynchronously: wait for the refusal to show up there.
  const refused = await waitFor('the refusal recorded', () => { const f = cluster.forbidden(); return f.length > 0 ? f : null })
  t.equal(refused.length, 1, 'exactly that request was refused')
  t.match(refused[0], /^patch \/api\/v1\/namespaces\/default\/services\/web\/status\b/, 'and it is recorded as such')
})
