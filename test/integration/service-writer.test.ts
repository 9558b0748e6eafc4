// The writer's uid guard, on both API servers: a status patch carrying the uid of a Service that was deleted
// and re-created under the same name is refused (kube-apiserver 1.32: 422 naming metadata.uid), counts as a
// conflict, and the new Service is given nothing of its predecessor's.
import t from 'tap'
import { pino } from 'pino'
import { CoreV1Api } from '@kubernetes/client-node'
import { toServiceView } from '../../internal/core/views.js'
import { EventRecorder } from '../../internal/kube/event-recorder.js'
import { KubeServiceWriter } from '../../controller/kube/service-writer.js'
import { eachApiServer } from '../lib/cluster.js'
import { ips } from '../lib/canonical-ip.js'

eachApiServer(t, 'a write for a re-created Service is a conflict and changes nothing', async (t, cluster) => {
  const admin = cluster.kubeConfig.makeApiClient(CoreV1Api)
  const api = cluster.kubeConfigAs('controller').makeApiClient(CoreV1Api)
  const log = pino({ level: 'silent' })
  const writer = new KubeServiceWriter(api, new EventRecorder({ api, component: 'l2lb-controller', instance: 'test', log }), log)
  const body = { metadata: { name: 'web' }, spec: { type: 'LoadBalancer', selector: { app: 'web' }, ports: [{ port: 80 }] } }
  const old = toServiceView(await admin.createNamespacedService({ namespace: 'default', body }))
  t.equal(await writer.updateIngress(old, ips('192.0.2.240')), 'ok', 'the Service the view is of takes the write')
  await admin.deleteNamespacedService({ name: 'web', namespace: 'default' })
  await admin.createNamespacedService({ namespace: 'default', body })
  t.equal(await writer.updateIngress(old, ips('192.0.2.241')), 'conflict', 'the same name, another uid: a conflict')
  t.equal(await writer.setAllocatedPool(old, 'default'), 'conflict', 'for the annotation too')
  const now = await admin.readNamespacedService({ name: 'web', namespace: 'default' })
  t.same(now.status?.loadBalancer?.ingress ?? [], [], 'the new Service got no address')
  t.equal(now.metadata?.annotations?.['l2lb.dev/ip-allocated-from-pool'], undefined)
})
