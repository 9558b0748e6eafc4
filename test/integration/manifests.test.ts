// What a cluster operator applies, checked by a real kube-apiserver: `kubectl apply --dry-run=server -k
// config/default` and every sample, with the machine's kubectl (the server validates and defaults everything
// and stores nothing). Also `kubectl kustomize config/default` renders what the README describes.
import t from 'tap'
import { execFile } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { loadAll } from 'js-yaml'
import { realApiServerSkip, startRealCluster } from '../lib/cluster.js'

const run = promisify(execFile)
const repo = fileURLToPath(new URL('../..', import.meta.url))
const kubectlMissing = await run('kubectl', ['version', '--client']).then(() => undefined, () => 'no kubectl on this machine (Debian: kubernetes-client)')

t.test('kubectl kustomize config/default renders the install the README describes', { skip: kubectlMissing }, async t => {
  const { stdout } = await run('kubectl', ['kustomize', 'config/default'], { cwd: repo, maxBuffer: 1 << 22 })
  const docs = loadAll(stdout) as { kind?: string, metadata?: { name?: string, namespace?: string } }[]
  const kinds = docs.map(d => `${d.kind}/${d.metadata?.name}`)
  for (const want of ['Namespace/l2lb-system', 'ServiceAccount/controller', 'ServiceAccount/speaker', 'Deployment/controller', 'DaemonSet/speaker']) {
    t.ok(kinds.includes(want), `renders ${want}`)
  }
  for (const d of docs) {
    if (!['Namespace', 'ClusterRole', 'ClusterRoleBinding'].includes(d.kind ?? '')) t.equal(d.metadata?.namespace, 'l2lb-system', `${d.kind}/${d.metadata?.name} in l2lb-system`)
  }
})

t.test('the real kube-apiserver accepts config/default and every sample (--dry-run=server)', { skip: kubectlMissing ?? realApiServerSkip() }, async t => {
  const cluster = await startRealCluster()
  t.teardown(() => cluster.close())
  const kubectl = async (args: string[]): Promise<string> => {
    const { stdout, stderr } = await run('kubectl', ['--kubeconfig', cluster.kubeconfigPath, ...args], { cwd: repo, maxBuffer: 1 << 22 })
    return stdout + stderr
  }
  const out = await kubectl(['apply', '--dry-run=server', '-k', 'config/default'])
  t.match(out, /deployment\.apps\/controller (created|configured|unchanged) \(server dry run\)/)
  t.match(out, /daemonset\.apps\/speaker (created|configured|unchanged) \(server dry run\)/)
  // The test's cluster made the namespace and RBAC without kubectl, so kubectl notes their missing
  // last-applied annotation; any other warning is the server's word on the manifests.
  const warnings = out.split('\n').filter(l => /warning/i.test(l) && !l.includes('last-applied-configuration'))
  t.same(warnings, [], 'no warnings from the server')
  // The samples go into namespaces that exist once config/default is applied for real.
  await kubectl(['apply', '-k', 'config/default'])
  for (const f of readdirSync(`${repo}/config/samples`).filter(n => n.endsWith('.yaml')).sort()) {
    const res = await kubectl(['apply', '--dry-run=server', '-f', `config/samples/${f}`])
    t.match(res, /\(server dry run\)/, `config/samples/${f} accepted`)
    t.notMatch(res, /Warning/i, `config/samples/${f}: no warnings`)
  }
})
