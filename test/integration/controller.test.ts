// The controller program's shell against an API server: informers, work queue, status writes, annotations,
// Events, invalid config, restart. Runs against the stand-in (test/apiserver) and, with KUBEBUILDER_ASSETS, a
// real kube-apiserver; the controller uses its own ServiceAccount, authorized by config/default's RBAC.
import t from 'tap'
import { pino } from 'pino'
import { CoreV1Api, type V1Service } from '@kubernetes/client-node'
import { eachApiServer, waitFor } from '../lib/cluster.js'
import { Controller } from '../../controller/controller.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { mergePatch } from '../../internal/kube/kube-client.js'

const POOL = `address-pools:
- name: default
  protocol: layer2
  addresses:
  - 192.0.2.240-192.0.2.243
`

function lbService(name: string, extra: Partial<NonNullable<V1Service['spec']>> = {}): V1Service {
  return {
    metadata: { name, namespace: 'default' },
    spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80, protocol: 'TCP' }], ...extra },
  }
}

eachApiServer(t, 'controller against the API server', async (t, cluster) => {
  const kc = cluster.kubeConfigAs('controller')
  const api = cluster.kubeConfig.makeApiClient(CoreV1Api)
  const log = pino({ level: 'silent' })
  let metrics = new MetricsRegistry()
  const newController = (): Controller => new Controller({
    kubeConfig: kc, log, metrics, configNamespace: 'l2lb-system', configName: 'config', loadBalancerClass: null, instance: 'test',
  })
  let controller = newController()
  t.teardown(async () => { await controller.close() })

  const ingress = async (name: string): Promise<string[]> => {
    const s = await api.readNamespacedService({ name, namespace: 'default' })
    return (s.status?.loadBalancer?.ingress ?? []).map(i => i.ip ?? '')
  }
  const reasons = async (name: string): Promise<string[]> => {
    const list = await api.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` })
    return list.items.map(e => `${e.reason}: ${e.message}`)
  }

  // A Service that exists before any config: nothing is allocated until the pools arrive.
  await api.createNamespacedService({ namespace: 'default', body: lbService('early') })
  await controller.start()
  await controller.idle()
  t.same(await ingress('early'), [], 'no pools yet, no IP')
  t.equal(metrics.gauge('l2lb_k8s_client_config_stale_bool', '').get(), 1, 'missing config counts as stale')

  await api.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOL } } })
  const earlyIP = await waitFor('IP for early', async () => (await ingress('early'))[0])
  t.equal(earlyIP, '192.0.2.240', 'lowest free address of the pool')
  // Status and annotation are two writes (status subresource, main resource); the annotation may land second.
  const pool = await waitFor('pool annotation', async () =>
    (await api.readNamespacedService({ name: 'early', namespace: 'default' })).metadata?.annotations?.['l2lb.dev/ip-allocated-from-pool'])
  t.equal(pool, 'default', 'pool annotation written')
  t.match((await waitFor('event', async () => (await reasons('early')).find(r => r.startsWith('IPAllocated')))), /192\.0\.2\.240/)
  t.equal(metrics.gauge('l2lb_k8s_client_config_stale_bool', '').get(), 0)
  t.equal(metrics.gauge('l2lb_allocator_addresses_in_use_total', '').get({ pool: 'default' }), 1n)
  t.equal(metrics.gauge('l2lb_allocator_addresses_total', '').get({ pool: 'default' }), 4n)
  t.equal(metrics.gauge('l2lb_allocator_ipv4_addresses_total', '').get({ pool: 'default' }), 4n, 'per family, as MetalLB')
  t.equal(metrics.gauge('l2lb_allocator_ipv4_addresses_in_use_total', '').get({ pool: 'default' }), 1n)
  t.equal(metrics.gauge('l2lb_allocator_ipv6_addresses_total', '').get({ pool: 'default' }), 0n, 'zero for a family the pool lacks')
  t.equal(metrics.gauge('l2lb_allocator_ipv6_addresses_in_use_total', '').get({ pool: 'default' }), 0n)

  await api.createNamespacedService({ namespace: 'default', body: lbService('asked', { loadBalancerIP: '192.0.2.242' }) })
  t.same(await waitFor('asked IP', async () => (await ingress('asked'))[0]), '192.0.2.242', 'spec.loadBalancerIP honoured')

  await api.createNamespacedService({ namespace: 'default', body: lbService('outside', { loadBalancerIP: '192.0.2.9' }) })
  const failed = await waitFor('AllocationFailed', async () => (await reasons('outside')).find(r => r.startsWith('AllocationFailed')))
  t.match(failed, /192\.0\.2\.9/, 'the failure names the address')
  t.same(await ingress('outside'), [])

  // A bad config is refused whole; what is assigned stays, and the last good pools keep serving.
  await api.patchNamespacedConfigMap({ name: 'config', namespace: 'l2lb-system', body: { data: { config: POOL.replace('192.0.2.240-192.0.2.243', '192.0.2.250-192.0.2.240') } } }, mergePatch())
  await waitFor('stale', async () => (metrics.gauge('l2lb_k8s_client_config_stale_bool', '').get() === 1 ? true : null))
  const cmEvents = await waitFor('InvalidConfig event', async () => {
    const l = await api.listNamespacedEvent({ namespace: 'l2lb-system' })
    return l.items.find(e => e.reason === 'InvalidConfig')
  })
  t.match(cmEvents.message, /address-pools\[default\]\.addresses\[0\]/, 'the error names pool and field')
  await api.createNamespacedService({ namespace: 'default', body: lbService('during-stale') })
  t.equal(await waitFor('IP during stale', async () => (await ingress('during-stale'))[0]), '192.0.2.241', 'last good pools still in force')
  t.same(await ingress('early'), ['192.0.2.240'], 'nothing assigned is lost')

  // Restart: a new controller claims every assignment back before allocating anything new.
  await controller.close()
  await api.patchNamespacedConfigMap({ name: 'config', namespace: 'l2lb-system', body: { data: { config: POOL } } }, mergePatch())
  await api.createNamespacedService({ namespace: 'default', body: lbService('while-down') })
  metrics = new MetricsRegistry()
  controller = newController()
  await controller.start()
  await controller.idle()
  const whileDown = await waitFor('IP for while-down', async () => (await ingress('while-down'))[0])
  t.equal(whileDown, '192.0.2.243', 'the only free address; nothing taken from others')
  t.same(await ingress('early'), ['192.0.2.240'], 'unchanged across restart')
  t.same(await ingress('asked'), ['192.0.2.242'])
  t.same(await ingress('during-stale'), ['192.0.2.241'])

  // Leaving LoadBalancer clears our status; deleting releases the IP for the next Service.
  await api.patchNamespacedService({ name: 'early', namespace: 'default', body: { spec: { type: 'ClusterIP' } } }, mergePatch())
  await waitFor('status cleared', async () => ((await ingress('early')).length === 0 ? true : null))
  await api.deleteNamespacedService({ name: 'asked', namespace: 'default' })
  await api.createNamespacedService({ namespace: 'default', body: lbService('late-a') })
  await api.createNamespacedService({ namespace: 'default', body: lbService('late-b') })
  const a = await waitFor('late-a', async () => (await ingress('late-a'))[0])
  const b = await waitFor('late-b', async () => (await ingress('late-b'))[0])
  t.same([a, b].sort(), ['192.0.2.240', '192.0.2.242'], 'freed addresses are handed out again, once each')
  t.same(cluster.forbidden(), [], 'no request of the controller was forbidden by the shipped RBAC')
})
