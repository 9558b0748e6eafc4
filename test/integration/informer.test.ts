// The informer must not report "synced" before a list has really succeeded: the controller claims existing
// assignments back from the synced cache, and an empty cache taken for a synced one would hand out taken IPs.
// Runs against the stand-in and, with KUBEBUILDER_ASSETS, a real kube-apiserver; the informer lists and
// watches as the controller's ServiceAccount (config/default's RBAC), the test writes as admin.
import t from 'tap'
import { pino } from 'pino'
import { CoreV1Api } from '@kubernetes/client-node'
import { eachApiServer, waitFor } from '../lib/cluster.js'
import { Informer } from '../../internal/kube/informer.js'
import { toServiceView } from '../../internal/core/views.js'

eachApiServer(t, 'start() resolves only after a successful list, and the cache then holds every object', async (t, cluster) => {
  const kc = cluster.kubeConfigAs('controller')
  const admin = cluster.kubeConfig.makeApiClient(CoreV1Api)
  const asController = kc.makeApiClient(CoreV1Api)
  for (const name of ['a', 'b', 'c']) {
    await admin.createNamespacedService({ namespace: 'default', body: { metadata: { name }, spec: { ports: [{ port: 80 }] } } })
  }
  let calls = 0
  const health: boolean[] = []
  const informer = new Informer({
    kubeConfig: kc, log: pino({ level: 'silent' }), path: '/api/v1/services', toView: toServiceView,
    list: () => { calls++; return calls <= 2 ? Promise.reject(new Error('connection refused (simulated)')) : asController.listServiceForAllNamespaces() },
    onChange: () => {}, onHealth: h => health.push(h),
  })
  t.teardown(() => informer.close())
  await informer.start()
  t.equal(calls, 3, 'two failed lists were retried')
  t.same(informer.keys().filter(k => k.startsWith('default/') && k !== 'default/kubernetes').sort(), ['default/a', 'default/b', 'default/c'], 'synced cache holds every Service')
  t.same(health, [false, false, true], 'unhealthy until the list succeeded')

  // Still watching after the retries: a new object arrives.
  await admin.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'd' }, spec: { ports: [{ port: 80 }] } } })
  t.ok(await waitFor('default/d in the cache', () => informer.get('default/d')), 'the watch delivers new objects')
  t.same(cluster.forbidden(), [], 'the controller\'s account may list and watch Services')
})
