// The controller rides out an API server outage, and a deposed leader writes nothing. Two replicas as
// controller/main.ts runs them (leader election with the writes fenced by `certain`), each reaching the API
// server through a proxy the test can cut: first the API server is away for both (the leader must neither
// exit nor be replaced, and goes on when it is back), then only the leader is cut off (the standby takes
// over; the old leader, back on the network, writes nothing before it sees the new holder and stops).
import t from 'tap'
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { CoordinationV1Api, CoreV1Api, KubeConfig, type V1Service } from '@kubernetes/client-node'
import { Controller } from '../../controller/controller.js'
import { LeaderElector } from '../../controller/kube/leader-elector.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { eachApiServer, waitFor, type TestCluster } from '../lib/cluster.js'
import { startFaultProxy, type FaultProxy } from '../lib/fault-proxy.js'

const POOL = 'address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.240/29]\n'
const svc = (name: string): V1Service => ({ metadata: { name }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ port: 80 }] } })
const TIMING = { leaseDurationMs: 2000, renewDeadlineMs: 1200, retryPeriodMs: 200 }

interface Replica {
  readonly name: string
  readonly proxy: FaultProxy
  readonly elector: LeaderElector
  readonly controller: Controller
  readonly log: string[]
}

/** A replica whose every request goes through its own proxy, with `kubeconfigPath`'s identity. */
async function replica(cluster: TestCluster, name: string, kubeconfigPath: string): Promise<Replica> {
  const proxy = await startFaultProxy(cluster.url)
  const path = join(cluster.dir, `kubeconfig-${name}`)
  writeFileSync(path, readFileSync(kubeconfigPath, 'utf8').replaceAll(cluster.url, proxy.url))
  const kc = new KubeConfig()
  kc.loadFromFile(path)
  const log: string[] = []
  const logger = pino({ level: 'silent' })
  let elector: LeaderElector | null = null
  const controller = new Controller({
    kubeConfig: kc, log: logger, metrics: new MetricsRegistry(), configNamespace: 'l2lb-system', configName: 'config',
    loadBalancerClass: null, instance: name, mayWrite: () => elector?.certain ?? false,
  })
  elector = new LeaderElector({
    api: kc.makeApiClient(CoordinationV1Api), namespace: 'l2lb-system', name: 'l2lb-controller', identity: name,
    log: logger, now: () => performance.now(), ...TIMING,
    onStartedLeading: () => { log.push('lead'); void controller.start() },
    onLostCertainty: () => log.push('unsure'),
    onRegainedCertainty: () => { log.push('sure'); controller.resync() },
    onStoppedLeading: () => { log.push('deposed'); void controller.close() },
  })
  return { name, proxy, elector, controller, log }
}

eachApiServer(t, 'the controller rides out an API outage; a deposed leader writes nothing', async (t, cluster) => {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOL } } })
  const ip = async (name: string): Promise<string | undefined> =>
    (await core.readNamespacedService({ name, namespace: 'default' })).status?.loadBalancer?.ingress?.[0]?.ip
  // a: l2lb's controller ServiceAccount; b: the admin, so that the server's record tells their writes apart.
  const a = await replica(cluster, 'ctl-a', cluster.kubeconfigPathAs('controller'))
  const b = await replica(cluster, 'ctl-b', cluster.kubeconfigPath)
  t.teardown(async () => {
    for (const r of [a, b]) { await r.elector.close(); await r.controller.close(); await r.proxy.close() }
  })
  a.elector.start()
  await waitFor('a leads', () => a.elector.certain, 10_000)
  b.elector.start()
  await core.createNamespacedService({ namespace: 'default', body: svc('one') })
  t.equal(await waitFor('IP for one', () => ip('one'), 15_000), '192.0.2.240')

  // 1. The API server is away for everyone, for longer than the Lease.
  await a.proxy.cut()
  await b.proxy.cut()
  await waitFor('a unsure', () => a.log.includes('unsure'), 5000)
  t.notOk(a.elector.certain, 'past the renew deadline the leader is not certain, so it writes nothing')
  await new Promise(resolve => setTimeout(resolve, TIMING.leaseDurationMs + 1000))
  t.ok(a.elector.leading, 'and it did not give up: no exit, no crash loop')
  t.notOk(b.elector.leading, 'the standby, as cut off, took nothing over')
  await a.proxy.restore()
  await b.proxy.restore()
  await waitFor('a sure again', () => a.elector.certain, 10_000)
  t.same(a.log, ['lead', 'unsure', 'sure'], 'it renewed the Lease it still held and went on')
  await core.createNamespacedService({ namespace: 'default', body: svc('two') })
  t.equal(await waitFor('IP for two', () => ip('two'), 15_000), '192.0.2.241', 'and allocates again')
  t.equal(await ip('one'), '192.0.2.240', 'nothing moved')
  t.notOk(b.elector.leading)

  // 2. Only the leader is cut off: the standby takes over once the Lease has run out.
  const cutAt = Date.now()
  await a.proxy.cut()
  await waitFor('b leads', () => b.elector.certain, 15_000)
  await core.createNamespacedService({ namespace: 'default', body: svc('three') })
  t.equal(await waitFor('IP for three', () => ip('three'), 15_000), '192.0.2.242', 'the new leader allocates')
  // What the old leader missed would make it write if it could: it still files 192.0.2.241 under `two`, so
  // `four` showing that address looks like a conflict to it.
  await core.deleteNamespacedService({ name: 'two', namespace: 'default' })
  await core.createNamespacedService({ namespace: 'default', body: svc('four') })
  const four = await waitFor('IP for four', () => ip('four'), 15_000)
  t.ok(a.elector.leading && !a.elector.certain, 'the old leader still thinks it may lead, but is not certain')
  await a.proxy.restore()
  await waitFor('a deposed', () => a.log.includes('deposed'), 10_000)
  const late = cluster.writesBy('controller').filter(w => w.atMs >= cutAt)
  t.same(late, [], 'the deposed leader wrote nothing after it was cut off: no status, annotation, Event or Lease write')
  t.same([await ip('one'), await ip('three'), await ip('four')], ['192.0.2.240', '192.0.2.242', four], 'no IP moved')
})

// The program itself (controller/main.ts), paused with SIGSTOP for longer than its Lease while the standby
// takes over and the cluster changes: on SIGCONT the watch events it had buffered arrive at once, before any
// timer of its own has run. It must not write on them, and it must exit when it sees the new holder.
eachApiServer(t, 'a leader paused past its Lease writes nothing when it wakes, then exits', async (t, cluster) => {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOL } } })
  const ip = async (name: string): Promise<string | undefined> =>
    (await core.readNamespacedService({ name, namespace: 'default' })).status?.loadBalancer?.ingress?.[0]?.ip
  const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../controller/main.ts', import.meta.url))], {
    env: {
      ...process.env, KUBECONFIG: cluster.kubeconfigPathAs('controller'), POD_NAME: 'paused', LOG_LEVEL: 'info',
      L2LB_METRICS_ADDR: '127.0.0.1:0', L2LB_LEADER_LEASE_SECONDS: '3', L2LB_LEADER_RENEW_DEADLINE_SECONDS: '2', L2LB_LEADER_RETRY_SECONDS: '1',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout.on('data', (d: Buffer) => { output += d.toString() })
  child.stderr.on('data', (d: Buffer) => { output += d.toString() })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const b = await replica(cluster, 'ctl-b', cluster.kubeconfigPath)
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) { child.kill('SIGCONT'); child.kill('SIGKILL') }
    await b.elector.close(); await b.controller.close(); await b.proxy.close()
  })
  await core.createNamespacedService({ namespace: 'default', body: svc('one') })
  await core.createNamespacedService({ namespace: 'default', body: svc('two') })
  t.equal(await waitFor('IP for one (the program leads)', () => ip('one'), 45_000).catch((err: unknown) => { t.comment(output); throw err }), '192.0.2.240')
  t.equal(await waitFor('IP for two', () => ip('two'), 15_000), '192.0.2.241')
  // The pause must come while the program has nothing in flight: a request it decided and handed to the HTTP
  // stack before the SIGSTOP reaches the server only after SIGCONT, and a Lease is not a fence (client-go's
  // tools/leaderelection/doc.go says so of itself). What this test holds the program to is the rest: it decides
  // nothing on what it finds when it wakes. So stop it when its Services are written (no write but Lease
  // renewals for a whole second) and right after a renewal, a whole retry period (1 s) before the next one.
  const isLease = (w: { path: string }): boolean => w.path.includes('/leases/')
  let quietSince = { count: -1, atMs: 0 }
  await waitFor('the program is idle', () => {
    const count = cluster.writesBy('controller').filter(w => !isLease(w)).length
    if (count !== quietSince.count) quietSince = { count, atMs: Date.now() }
    return Date.now() - quietSince.atMs >= 1000
  }, 15_000)
  const renewals = cluster.writesBy('controller').filter(isLease).length
  await waitFor('a renewal', () => cluster.writesBy('controller').filter(isLease).length > renewals, 5000)
  const pid = child.pid ?? 0
  process.kill(pid, 'SIGSTOP')
  b.elector.start()
  await waitFor('b leads', () => b.elector.certain, 15_000)
  await core.deleteNamespacedService({ name: 'two', namespace: 'default' })
  await core.createNamespacedService({ namespace: 'default', body: svc('four') })
  const four = await waitFor('IP for four', () => ip('four'), 15_000)
  // Requests the program sent just before it stopped are served while it is stopped; from here on, anything
  // the server sees from it was sent after it woke.
  const wokeAt = Date.now()
  process.kill(pid, 'SIGCONT')
  const code = await Promise.race([exited, new Promise<'still running'>(resolve => setTimeout(() => resolve('still running'), 15_000))])
  t.equal(code, 1, 'it saw the new holder and exited, to come back as a standby')
  t.match(output, /another replica holds the controller Lease/)
  t.same(cluster.writesBy('controller').filter(w => w.atMs >= wokeAt), [], 'not one write after it woke: no status, annotation, Event or Lease')
  t.same([await ip('one'), await ip('four')], ['192.0.2.240', four], 'no IP moved')
})
