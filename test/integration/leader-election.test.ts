// Two controller replicas behind one Lease: exactly one allocates; a graceful stop hands over at once; a
// leader that vanished without releasing is replaced only after the Lease has run out; the new leader keeps
// every IP where it was (it claims assignments back before allocating). Runs against the stand-in and, with
// KUBEBUILDER_ASSETS, a real kube-apiserver; the replicas use the controller's ServiceAccount (config/default's
// RBAC), the test writes as admin.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { CoordinationV1Api, CoreV1Api, V1MicroTime, type V1Service } from '@kubernetes/client-node'
import { Controller } from '../../controller/controller.js'
import { LeaderElector } from '../../controller/kube/leader-elector.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { eachApiServer, waitFor } from '../lib/cluster.js'

const POOL = 'address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.240/29]\n'
const svc = (name: string): V1Service => ({ metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80 }] } })

eachApiServer(t, 'one active controller at a time', async (t, cluster) => {
  const kc = cluster.kubeConfigAs('controller')
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  const coordination = cluster.kubeConfig.makeApiClient(CoordinationV1Api)
  const asController = kc.makeApiClient(CoordinationV1Api)
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOL } } })
  const log = pino({ level: 'silent' })
  const replicas = ['ctl-a', 'ctl-b'].map(identity => {
    const controller = new Controller({ kubeConfig: kc, log, metrics: new MetricsRegistry(), configNamespace: 'l2lb-system', configName: 'config', loadBalancerClass: null, instance: identity })
    const started: string[] = []
    const elector = new LeaderElector({
      api: asController, namespace: 'l2lb-system', name: 'l2lb-controller', identity, log, now: () => performance.now(),
      leaseDurationMs: 2000, renewDeadlineMs: 1400, retryPeriodMs: 100,
      onStartedLeading: () => { started.push('lead'); void controller.start() },
      onStoppedLeading: () => { started.push('lost'); void controller.close() },
    })
    return { identity, controller, elector, started }
  })
  t.teardown(async () => {
    for (const r of replicas) { await r.elector.close(); await r.controller.close() }
  })
  for (const r of replicas) r.elector.start()
  await waitFor('a leader', () => replicas.some(r => r.elector.leading))
  await new Promise(r => setTimeout(r, 400))
  t.equal(replicas.filter(r => r.elector.leading).length, 1, 'exactly one replica leads')
  const leader = replicas.find(r => r.elector.leading)
  const standby = replicas.find(r => !r.elector.leading)
  if (!leader || !standby) return

  await core.createNamespacedService({ namespace: 'default', body: svc('one') })
  const ip = async (name: string): Promise<string | undefined> =>
    (await core.readNamespacedService({ name, namespace: 'default' })).status?.loadBalancer?.ingress?.[0]?.ip
  t.equal(await waitFor('IP for one', () => ip('one')), '192.0.2.240')
  t.same(standby.started, [], 'the standby never started its controller')

  // Graceful stop: the leader releases the Lease and the standby takes over without waiting for it to expire
  // (2 s after the standby last saw it renewed; a released Lease is taken on the standby's next try, 0.1 s).
  const stoppedAt = performance.now()
  await leader.elector.close()
  await waitFor('standby leads', () => standby.elector.leading, 3000)
  const handover = performance.now() - stoppedAt
  t.ok(handover < 1500, `the standby took over before the released Lease could have expired (${Math.round(handover)} ms)`)
  await leader.controller.close()
  await core.createNamespacedService({ namespace: 'default', body: svc('two') })
  t.equal(await waitFor('IP for two', () => ip('two')), '192.0.2.241', 'the new leader allocates around what is assigned')
  t.equal(await ip('one'), '192.0.2.240', 'and moved nothing')

  // A leader that vanished without releasing (a crash): its Lease record stays fresh for a lease duration.
  await standby.elector.close()
  await standby.controller.close()
  const lease = await coordination.readNamespacedLease({ name: 'l2lb-controller', namespace: 'l2lb-system' })
  await coordination.replaceNamespacedLease({ name: 'l2lb-controller', namespace: 'l2lb-system', body: {
    metadata: { name: 'l2lb-controller', namespace: 'l2lb-system', resourceVersion: lease.metadata?.resourceVersion },
    spec: { holderIdentity: 'crashed', leaseDurationSeconds: 1, renewTime: new V1MicroTime(), leaseTransitions: 5 },
  } })
  const crashedAt = Date.now()
  const controller = new Controller({ kubeConfig: kc, log, metrics: new MetricsRegistry(), configNamespace: 'l2lb-system', configName: 'config', loadBalancerClass: null, instance: 'ctl-c' })
  const c = new LeaderElector({
    api: asController, namespace: 'l2lb-system', name: 'l2lb-controller', identity: 'ctl-c', log, now: () => performance.now(),
    leaseDurationMs: 1000, renewDeadlineMs: 700, retryPeriodMs: 100,
    onStartedLeading: () => { void controller.start() }, onStoppedLeading: () => { void controller.close() },
  })
  t.teardown(async () => { await c.close(); await controller.close() })
  c.start()
  await waitFor('new replica leads', () => c.leading, 5000)
  t.ok(Date.now() - crashedAt >= 900, `not before the crashed leader's Lease ran out (${Date.now() - crashedAt} ms)`)
  const after = await coordination.readNamespacedLease({ name: 'l2lb-controller', namespace: 'l2lb-system' })
  t.equal(after.spec?.leaseTransitions, 6, 'the takeover is counted in leaseTransitions')
  await c.close()
  await controller.close()
  t.same(cluster.forbidden(), [], 'no request of the replicas was forbidden (Lease create, renew, take-over, release)')
})
