// `l2lb status` against an API server (the stand-in and, with KUBEBUILDER_ASSETS, a real kube-apiserver): pools with exact usage, each Service's IP, pool and
// announcing node (from nodeAssigned Events), each node's speaker Lease, and the problems — a Service without
// an IP, one whose IP nobody announces, two Services showing one IP, a node whose speaker is gone. Also the
// CLI itself, as a process with a kubeconfig, in text and JSON. `kubectl l2lb status` is run by a person with
// their own kubeconfig (here the admin's): it lists Nodes, Leases and Events, which neither of l2lb's
// ServiceAccounts may, and it writes nothing.
import t from 'tap'
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { CoordinationV1Api, CoreV1Api, V1MicroTime } from '@kubernetes/client-node'
import { mergePatch } from '../../internal/kube/kube-client.js'
import { collectStatus } from '../../controller/kube/collect-status.js'
import { formatStatus } from '../../controller/core/status-report.js'
import { eachApiServer } from '../lib/cluster.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const POOLS = `address-pools:
- name: default
  protocol: layer2
  addresses: [192.0.2.240/29]
- name: reserved
  protocol: layer2
  auto-assign: false
  addresses: ["2001:db8:0:1::/64"]
`

eachApiServer(t, 'status shows pools, Services, announcers, speakers and problems', async (t, cluster) => {
  const kc = cluster.kubeConfig
  const core = kc.makeApiClient(CoreV1Api)
  const coordination = kc.makeApiClient(CoordinationV1Api)
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOLS } } })
  for (const name of ['l2lb-node1', 'l2lb-node2']) {
    await core.createNode({ body: { metadata: { name } } })
    await core.patchNodeStatus({ name, body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: '' }] } } }, mergePatch())
  }
  const lease = (node: string, renewTime: V1MicroTime) => coordination.createNamespacedLease({ namespace: 'l2lb-system', body: {
    metadata: { name: `l2lb-speaker-${node}`, labels: { 'app.kubernetes.io/name': 'l2lb', 'app.kubernetes.io/component': 'speaker' } },
    spec: { holderIdentity: node, leaseDurationSeconds: 3, renewTime },
  } })
  await lease('l2lb-node1', new V1MicroTime())
  await lease('l2lb-node2', new V1MicroTime(Date.now() - 60_000))
  const service = async (name: string, ip: string | null): Promise<void> => {
    await core.createNamespacedService({ namespace: 'default', body: {
      metadata: { name, annotations: ip === null ? {} : { 'l2lb.dev/ip-allocated-from-pool': 'default' } },
      spec: { type: 'LoadBalancer', ports: [{ port: 80 }] },
    } })
    if (ip !== null) await core.patchNamespacedServiceStatus({ name, namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip }] } } } }, mergePatch())
  }
  await service('web', '192.0.2.240')
  await service('quiet', '192.0.2.241')
  await service('pending', null)
  await new Promise(r => setTimeout(r, 1100)) // 'copy' is the newer of the two showing 192.0.2.240 (creationTimestamp has whole seconds)
  await service('copy', '192.0.2.240')
  await core.createNamespacedEvent({ namespace: 'default', body: {
    metadata: { name: 'web.nodeassigned' }, reason: 'nodeAssigned', message: 'announcing from node l2lb-node1', type: 'Normal',
    involvedObject: { kind: 'Service', namespace: 'default', name: 'web', apiVersion: 'v1' },
    lastTimestamp: new Date(),
  } })

  const report = await collectStatus(kc, { namespace: 'l2lb-system', configMap: 'config', loadBalancerClass: null })
  t.same(report.pools.map(p => [p.name, p.inUse, p.capacity, p.autoAssign]), [['default', 2n, 8n, true], ['reserved', 0n, 1n << 64n, false]],
    'usage as the controller would restore it: the duplicate claim does not count twice; a /64 counted exactly')
  t.same(report.services.map(s => [s.service, s.ips.join(','), s.pool, s.announcedBy]), [
    ['default/copy', '192.0.2.240', 'default', null],
    ['default/pending', '', null, null],
    ['default/quiet', '192.0.2.241', 'default', null],
    ['default/web', '192.0.2.240', 'default', 'l2lb-node1'],
  ])
  t.same(report.speakers.map(s => [s.node, s.alive]), [['l2lb-node1', true], ['l2lb-node2', false]], 'a Lease renewed a minute ago is no live speaker')
  const problems = report.problems.join('\n')
  t.match(problems, /default\/copy: IP 192\.0\.2\.240 could not be kept: 192\.0\.2\.240 is taken by Service default\/web/, 'the newer of two Services showing one IP is named')
  t.match(problems, /default\/pending: no EXTERNAL-IP yet/)
  t.match(problems, /default\/quiet: 192\.0\.2\.241 is not announced by any node/)
  const text = formatStatus(report)
  t.match(text, /^POOL +AUTO-ASSIGN +IN USE +ADDRESSES\ndefault +yes +2\/8 +192\.0\.2\.240-192\.0\.2\.247\n/, 'a pools table first')
  t.match(text, /default\/web +192\.0\.2\.240 +default +l2lb-node1/)
  t.match(text, /l2lb-node2 +yes +expired: renewed 6\d\.\d s ago/)

  // The CLI as a user runs it (with the admin's kubeconfig): exit 1 when there are problems, the same report as JSON.
  const run = promisify(execFile)
  const env = { ...process.env, KUBECONFIG: cluster.kubeconfigPath }
  const cli = path.join(repoRoot, 'bin', 'kubectl-l2lb')
  const text2 = await run(cli, ['status'], { env }).then(() => '', (err: { code?: number; stdout?: string }) => `${err.code}\n${err.stdout ?? ''}`)
  t.match(text2, /^1\n/, 'exit status 1: there are problems')
  t.match(text2, /default\/web +192\.0\.2\.240 +default +l2lb-node1/, 'kubectl-l2lb prints the table')
  const json = await run(cli, ['status', '--json'], { env }).then(r => r.stdout, (err: { stdout?: string }) => err.stdout ?? '')
  const parsed: unknown = JSON.parse(json)
  t.match(parsed, { pools: [{ name: 'default', inUse: '2', capacity: '8' }, { name: 'reserved', capacity: String(1n << 64n) }] }, '--json: bigints as strings')
})

// Refused before any API server is asked: once, not per server (each CLI start costs seconds of tsx).
t.test('an unknown argument is a usage error', async t => {
  const bad = await promisify(execFile)(path.join(repoRoot, 'bin', 'kubectl-l2lb'), ['status', '--bogus']).then(() => 0, (err: { code?: number }) => err.code)
  t.equal(bad, 2)
})
