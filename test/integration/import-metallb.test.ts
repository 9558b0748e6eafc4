// `kubectl l2lb import-metallb` end to end, through bin/kubectl-l2lb: MetalLB's configuration read from the API
// server, l2lb's pool ConfigMap printed and applied. Both cases run on both servers: the legacy ConfigMap with
// MetalLB's CRDs absent, and MetalLB's CRDs (test/metallb-crds/, applied first as on a cluster) with objects of
// each kind.
import t from 'tap'
import path from 'node:path'
import { readFileSync } from 'node:fs'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { load } from 'js-yaml'
import { CoreV1Api, CustomObjectsApi, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node'
import { eachApiServer, waitFor, type TestCluster } from '../lib/cluster.js'
import { parsePoolConfig } from '../../internal/core/pool-config.js'
import { mergePatch } from '../../internal/kube/kube-client.js'
import { Allocator } from '../../controller/core/allocator.js'
import { requestFromService } from '../../controller/core/allocation-request.js'
import { svc } from '../unit/allocator-fixtures.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const cli = path.join(repoRoot, 'bin', 'kubectl-l2lb')
const CRDS = ['metallb.io_ipaddresspools.yaml', 'metallb.io_l2advertisements.yaml', 'metallb.io_bgpadvertisements.yaml']

interface Run { code: number; stdout: string; stderr: string }

async function run(cluster: TestCluster, args: string[]): Promise<Run> {
  return promisify(execFile)(cli, args, { env: { ...process.env, KUBECONFIG: cluster.kubeconfigPath } })
    .then(r => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }))
}

async function configOf(cluster: TestCluster): Promise<string> {
  const cm = await cluster.kubeConfig.makeApiClient(CoreV1Api).readNamespacedConfigMap({ namespace: 'l2lb-system', name: 'config' })
  return cm.data?.config ?? ''
}

function ipFor(a: Allocator, s: ReturnType<typeof svc>): string {
  const q = requestFromService(s)
  if (!q.ok) throw new Error(q.failure.message)
  const r = a.assign(q.request)
  return r.ok ? r.assignment.texts.join(',') : `failed: ${r.failure.kind}`
}

eachApiServer(t, 'import-metallb reads the legacy ConfigMap, prints and applies', async (t, cluster) => {
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  await core.createNamespace({ body: { metadata: { name: 'metallb-system' } } })
  await core.createNamespacedConfigMap({ namespace: 'metallb-system', body: { metadata: { name: 'config' }, data: { config: `
peers: [{peer-address: 192.0.2.1, peer-asn: 64501, my-asn: 64500}]
address-pools:
- {name: l2, protocol: layer2, addresses: [192.0.2.240-192.0.2.250]}
- {name: routed, protocol: bgp, addresses: [198.51.100.0/24]}
` } } })
  // MetalLB's CRDs are not installed: the import must take the 404 of their group as "not installed".
  const absent = await cluster.kubeConfig.makeApiClient(CustomObjectsApi)
    .listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: 'metallb-system', plural: 'ipaddresspools' })
    .then(() => 0, (err: { code?: number }) => err.code ?? -1)
  t.equal(absent, 404, 'no metallb.io resources without their CRDs')
  const printed = await run(cluster, ['import-metallb'])
  t.equal(printed.code, 0, printed.stderr)
  const manifest = load(printed.stdout) as { kind: string; metadata: { namespace: string; name: string }; data: { config: string } }
  t.same([manifest.kind, manifest.metadata], ['ConfigMap', { namespace: 'l2lb-system', name: 'config' }])
  const parsed = parsePoolConfig(manifest.data.config)
  t.same(parsed.ok ? parsed.config.pools.map(p => p.name) : parsed.errors, ['l2'])
  t.match(printed.stderr, /note: ConfigMap config: peers not carried over: a BGP setting/)
  t.match(printed.stderr, /note: ConfigMap config, address-pools\[routed\]: not carried over: protocol bgp/)

  const applied = await run(cluster, ['import-metallb', '--apply'])
  t.equal(applied.code, 0, applied.stderr)
  t.match(applied.stdout, 'configmap/config created in namespace l2lb-system')
  t.equal(await configOf(cluster), manifest.data.config)
  t.match((await run(cluster, ['import-metallb', '--apply'])).stdout, 'configmap/config unchanged')
  await core.patchNamespacedConfigMap({ namespace: 'l2lb-system', name: 'config', body: { data: { config: 'address-pools: []' } } },
    mergePatch())
  const refused = await run(cluster, ['import-metallb', '--apply'])
  t.equal(refused.code, 2)
  t.match(refused.stderr, /exists with another config: rerun with --overwrite/)
  t.equal(await configOf(cluster), 'address-pools: []', 'a hand-made config is not overwritten by accident')
  t.match((await run(cluster, ['import-metallb', '--apply', '--overwrite'])).stdout, 'configmap/config updated')
  t.equal(await configOf(cluster), manifest.data.config)
})

eachApiServer(t, "import-metallb carries MetalLB's CRDs over", async (t, cluster) => {
  const objects = KubernetesObjectApi.makeApiClient(cluster.kubeConfig)
  for (const f of CRDS) await objects.create(load(readFileSync(path.join(repoRoot, 'test', 'metallb-crds', f), 'utf8')) as KubernetesObject)
  const custom = cluster.kubeConfig.makeApiClient(CustomObjectsApi)
  // Established: the API server serves the new kinds.
  await waitFor('MetalLB CRDs served', async () => {
    try { await custom.listNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: 'default', plural: 'l2advertisements' }); return true } catch { return null }
  }, 20_000)
  const core = cluster.kubeConfig.makeApiClient(CoreV1Api)
  await core.createNamespace({ body: { metadata: { name: 'metallb-system' } } })
  await core.createNamespace({ body: { metadata: { name: 'team-a' } } })
  await core.createNamespace({ body: { metadata: { name: 'team-b', labels: { team: 'b' } } } })
  const create = (plural: string, name: string, spec: object, labels?: Record<string, string>): Promise<unknown> =>
    custom.createNamespacedCustomObject({ group: 'metallb.io', version: 'v1beta1', namespace: 'metallb-system', plural,
      body: { apiVersion: 'metallb.io/v1beta1', kind: plural === 'ipaddresspools' ? 'IPAddressPool' : plural === 'l2advertisements' ? 'L2Advertisement' : 'BGPAdvertisement', metadata: { name, ...(labels ? { labels } : {}) }, spec } })
  await create('ipaddresspools', 'general', { addresses: ['192.0.2.0/30', '2001:db8::/126'] })
  await create('ipaddresspools', 'team', { addresses: ['198.51.100.0/30'], avoidBuggyIPs: true, serviceAllocation: { priority: 10, namespaces: ['team-a'], namespaceSelectors: [{ matchLabels: { team: 'b' } }] } }, { l2: 'yes' })
  await create('ipaddresspools', 'web', { addresses: ['203.0.113.0/30'], serviceAllocation: { serviceSelectors: [{ matchExpressions: [{ key: 'tier', operator: 'In', values: ['web'] }] }] } })
  await create('ipaddresspools', 'manual', { addresses: ['203.0.113.8/30'], autoAssign: false })
  await create('l2advertisements', 'pinned', { ipAddressPoolSelectors: [{ matchLabels: { l2: 'yes' } }], nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'node1' } }], interfaces: ['eth0'] })
  await create('l2advertisements', 'rest', { ipAddressPools: ['general', 'web', 'manual'] })
  await create('bgpadvertisements', 'routed', { ipAddressPools: ['general'] })

  const applied = await run(cluster, ['import-metallb', '--apply'])
  t.equal(applied.code, 0, applied.stderr)
  t.match(applied.stdout, "created in namespace l2lb-system (from MetalLB's CRDs)")
  t.match(applied.stderr, /note: BGPAdvertisement routed: not carried over: BGP/)
  t.match(applied.stderr, /namespaceSelectors resolved to the namespaces that match today \(team-b\)/)
  const parsed = parsePoolConfig(await configOf(cluster))
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
  const pools = new Map(parsed.config.pools.map(p => [p.name, p]))
  t.same(pools.get('team')?.namespaces, ['team-a', 'team-b'])
  t.equal(pools.get('manual')?.autoAssign, false)
  t.equal(pools.get('team')?.avoidBuggyIPs, true)
  t.same(parsed.config.l2Advertisements.map(a => [a.ipAddressPools, a.interfaces]), [[['team'], ['eth0']], [['general', 'manual', 'web'], []]])
  // The same IPs MetalLB gives (internal/allocator/allocator.go, Allocate: pinned pools first).
  const a = new Allocator()
  a.setConfig(parsed.config)
  a.restore([])
  t.equal(ipFor(a, svc('x', { namespace: 'team-a' })), '198.51.100.1', 'team-a: team, .0 avoided')
  t.equal(ipFor(a, svc('y', { namespace: 'team-b' })), '198.51.100.2', 'team-b: team through namespaceSelectors')
  t.equal(ipFor(a, svc('w', { labels: { tier: 'web' } })), '203.0.113.0', 'web by serviceSelectors')
  t.equal(ipFor(a, svc('d')), '192.0.2.0', 'general for the rest')
})
