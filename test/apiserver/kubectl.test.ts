// The machine's own kubectl (1.32) against the stand-in, with a kubeconfig written by the server and
// HOME in a temporary directory so the machine's kube config and discovery cache are never touched.
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { type RequestRecord, startApiServer } from './server.js'
import { raw } from './test-client.js'

const run = promisify(execFile)
const KUBECTL = '/usr/bin/kubectl'

const SERVICE = `apiVersion: v1
kind: Service
metadata:
  name: ingress
  namespace: default
spec:
  type: LoadBalancer
  selector: {app: ingress}
  ports:
  - name: http
    port: 80
    protocol: TCP
    targetPort: 80
`
const SERVICE_CHANGED = `apiVersion: v1
kind: Service
metadata:
  name: ingress
  namespace: default
  labels: {tier: edge}
spec:
  type: LoadBalancer
  selector: {app: ingress}
  ports:
  - name: https
    port: 443
    protocol: TCP
    targetPort: 8443
  - name: http
    port: 80
    protocol: TCP
    targetPort: 8080
`
const CONFIGMAP = `apiVersion: v1
kind: ConfigMap
metadata: {namespace: l2lb-system, name: config}
data:
  config: |
    address-pools:
    - name: default
      protocol: layer2
      addresses: [192.0.2.240-192.0.2.249]
`
const CONFIGMAP_CHANGED = CONFIGMAP.replace('192.0.2.249', '192.0.2.250') + `    - name: second
      protocol: layer2
      addresses: [192.0.2.200-192.0.2.210]
`

function columns (line: string | undefined): string[] {
  return (line ?? '').trim().split(/\s{2,}/)
}

if (!existsSync(KUBECTL)) {
  t.comment(`skipping: no kubectl at ${KUBECTL} on this machine`)
  t.plan(0, `kubectl is not installed at ${KUBECTL}`)
} else {
  t.test('kubectl against the stand-in', async t => {
    const requests: RequestRecord[] = []
    const server = await startApiServer({ onRequest: r => requests.push(r) })
    const dir = await mkdtemp(join(tmpdir(), 'l2lb-kubectl-test-'))
    t.teardown(async () => { await server.close(); await rm(dir, { recursive: true, force: true }) })
    const kubeconfig = join(dir, 'kubeconfig')
    await server.writeKubeconfig(kubeconfig)
    const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, KUBECONFIG: kubeconfig }
    const kubectl = async (...args: string[]): Promise<string> => {
      const { stdout } = await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { env, timeout: 30_000 })
      return stdout
    }
    const kubectlFails = async (...args: string[]): Promise<string> => {
      try {
        await run(KUBECTL, ['--kubeconfig', kubeconfig, ...args], { env, timeout: 30_000 })
      } catch (e) {
        if (e instanceof Error && 'stderr' in e) return String(e.stderr)
        throw e
      }
      throw new Error(`kubectl ${args.join(' ')} unexpectedly succeeded`)
    }
    const file = async (name: string, text: string): Promise<string> => {
      const p = join(dir, name)
      await writeFile(p, text)
      return p
    }

    t.test('apply creates a Service and a ConfigMap', async t => {
      const out = await kubectl('apply', '-f', await file('svc.yaml', SERVICE), '-f', await file('cm.yaml', CONFIGMAP))
      t.match(out, /service\/ingress created/)
      t.match(out, /configmap\/config created/)
      t.ok(requests.some(r => r.path === '/api' && r.accept.includes('as=APIGroupDiscoveryList')), 'kubectl asked for aggregated discovery')
      const post = requests.find(r => r.method === 'POST' && r.path === '/api/v1/namespaces/default/services')
      t.match(post?.query, /fieldManager=kubectl-client-side-apply/)
      t.match(post?.query, /fieldValidation=Strict/)
      t.equal(post?.status, 201)
    })

    t.test('get svc shows the server-side table', async t => {
      const out = await kubectl('get', 'svc')
      const lines = out.trimEnd().split('\n')
      t.same(columns(lines[0]), ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE'])
      const row = columns(lines.find(l => l.startsWith('ingress ')))
      t.equal(row[1], 'LoadBalancer')
      t.match(row[2], /^198\.18\.\d+\.\d+$/)
      t.equal(row[3], '<pending>')
      t.match(row[4], /^80:3\d{4}\/TCP$/)
      t.match(row[5], /^\d+s$/)
      const kube = columns(lines.find(l => l.startsWith('kubernetes ')))
      t.same(kube.slice(0, 5), ['kubernetes', 'ClusterIP', '198.18.0.1', '<none>', '443/TCP'])
      const wide = await kubectl('get', 'svc', '-o', 'wide')
      t.same(columns(wide.split('\n')[0]), ['NAME', 'TYPE', 'CLUSTER-IP', 'EXTERNAL-IP', 'PORT(S)', 'AGE', 'SELECTOR'])
      t.match(wide, /app=ingress/)
      t.ok(requests.some(r => r.method === 'GET' && r.path === '/api/v1/namespaces/default/services' && r.accept.includes('as=Table')), 'kubectl asked for a Table')
    })

    t.test('after a status patch the EXTERNAL-IP shows', async t => {
      const r = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/ingress/status', { body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.240' }] } } }, contentType: 'application/merge-patch+json' })
      t.equal(r.status, 200)
      const row = columns((await kubectl('get', 'svc', 'ingress', '--no-headers')).trim())
      t.equal(row[3], '192.0.2.240')
      const viaKubectl = await kubectl('patch', 'svc', 'ingress', '--subresource=status', '--type=merge', '-p', '{"status":{"loadBalancer":{"ingress":[{"ip":"192.0.2.241"}]}}}')
      t.match(viaKubectl, /service\/ingress patched/)
      t.equal(columns((await kubectl('get', 'svc', 'ingress', '--no-headers')).trim())[3], '192.0.2.241')
    })

    t.test('apply of a changed file: the strategic-merge update path', async t => {
      const before = JSON.parse(await kubectl('get', 'svc', 'ingress', '-o', 'json'))
      const out = await kubectl('apply', '-f', await file('svc2.yaml', SERVICE_CHANGED))
      t.match(out, /service\/ingress configured/)
      const patch = requests.filter(r => r.method === 'PATCH' && r.path === '/api/v1/namespaces/default/services/ingress').at(-1)
      t.equal(patch?.contentType, 'application/strategic-merge-patch+json')
      t.match(patch?.query, /fieldValidation=Strict/)
      const after = JSON.parse(await kubectl('get', 'svc', 'ingress', '-o', 'json'))
      t.same(after.spec.ports.map((p: { name: string, port: number, targetPort: number }) => [p.name, p.port, p.targetPort]), [['https', 443, 8443], ['http', 80, 8080]], 'ports in the order of the file ($setElementOrder)')
      t.equal(after.spec.ports[1].nodePort, before.spec.ports[0].nodePort, 'the kept port keeps its node port')
      t.equal(after.spec.clusterIP, before.spec.clusterIP)
      t.same(after.metadata.labels, { tier: 'edge' })
      t.same(after.status.loadBalancer.ingress, [{ ip: '192.0.2.241', ipMode: 'VIP' }], 'apply leaves status alone')
      t.match(await kubectl('apply', '-f', join(dir, 'svc2.yaml')), /service\/ingress unchanged/)
      // Back to the first file: the https port and the label disappear (kubectl computes the deletions).
      await kubectl('apply', '-f', join(dir, 'svc.yaml'))
      const back = JSON.parse(await kubectl('get', 'svc', 'ingress', '-o', 'json'))
      t.same(back.spec.ports.map((p: { port: number, targetPort: number }) => [p.port, p.targetPort]), [[80, 80]])
      t.equal(back.metadata.labels, undefined)

      t.match(await kubectl('apply', '-f', await file('cm2.yaml', CONFIGMAP_CHANGED)), /configmap\/config configured/)
      const cm = JSON.parse(await kubectl('get', 'configmap', 'config', '-n', 'l2lb-system', '-o', 'json'))
      t.match(cm.data.config, /name: second/)
      const unknown = await kubectlFails('apply', '-f', await file('bad.yaml', SERVICE.replace('  type: LoadBalancer', '  type: LoadBalancer\n  bogusField: 1')))
      t.match(unknown, /unknown field "spec.bogusField"/, 'fieldValidation=Strict rejects unknown fields')
    })

    t.test('describe svc', async t => {
      await raw(server, 'POST', '/api/v1/namespaces/default/events', { body: { metadata: { name: 'ingress.1' }, involvedObject: { kind: 'Service', namespace: 'default', name: 'ingress', apiVersion: 'v1', uid: JSON.parse(await kubectl('get', 'svc', 'ingress', '-o', 'json')).metadata.uid }, reason: 'IPAllocated', message: 'Assigned IP ["192.0.2.241"]', type: 'Normal', source: { component: 'l2lb-controller' }, count: 1, firstTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), lastTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') } })
      const out = await kubectl('describe', 'svc', 'ingress')
      t.match(out, /Name:\s+ingress/)
      t.match(out, /Type:\s+LoadBalancer/)
      t.match(out, /LoadBalancer Ingress:\s+192\.0\.2\.241 \(VIP\)/)
      t.match(out, /NodePort:\s+http\s+3\d{4}\/TCP/)
      t.match(out, /Normal\s+IPAllocated\s+\S+\s+l2lb-controller\s+Assigned IP \["192\.0\.2\.241"\]/)
    })

    t.test('get nodes', async t => {
      await raw(server, 'POST', '/api/v1/nodes', { body: { metadata: { name: 'l2lb-node1' }, status: { addresses: [{ type: 'InternalIP', address: '192.0.2.11' }], conditions: [{ type: 'Ready', status: 'True' }] } } })
      await raw(server, 'POST', '/api/v1/nodes', { body: { metadata: { name: 'l2lb-node2', labels: { 'node-role.kubernetes.io/control-plane': '' } }, status: { conditions: [{ type: 'Ready', status: 'False' }] } } })
      const lines = (await kubectl('get', 'nodes')).trimEnd().split('\n')
      t.same(columns(lines[0]), ['NAME', 'STATUS', 'ROLES', 'AGE', 'VERSION'])
      t.same(columns(lines[1]).slice(0, 3), ['l2lb-node1', 'Ready', '<none>'])
      t.same(columns(lines[2]).slice(0, 3), ['l2lb-node2', 'NotReady', 'control-plane'])
      t.match(await kubectl('get', 'nodes', '-o', 'wide'), /192\.0\.2\.11/)
      const described = await kubectl('describe', 'node', 'l2lb-node1')
      t.match(described, /Taints:\s+node\.kubernetes\.io\/not-ready:NoSchedule/, 'the taint the real admission adds')
      t.match(described, /Non-terminated Pods:\s+\(0 in total\)/, 'describe lists the node\'s pods (none)')
    })

    t.test('delete', async t => {
      t.match(await kubectl('delete', '-f', join(dir, 'svc.yaml')), /service "ingress" deleted/)
      t.match(await kubectlFails('get', 'svc', 'ingress'), /services "ingress" not found/)
      t.match(await kubectl('delete', 'configmap', 'config', '-n', 'l2lb-system'), /configmap "config" deleted/)
      t.match(await kubectl('get', 'configmaps', '-n', 'l2lb-system'), /^$/)
    })

    t.test('create generators send protobuf, decoded for namespaces, configmaps, services', async t => {
      t.match(await kubectl('create', 'namespace', 'gen'), /namespace\/gen created/)
      t.match(await kubectl('create', 'configmap', 'gen', '-n', 'gen', '--from-literal=a=b'), /configmap\/gen created/)
      t.same(JSON.parse(await kubectl('get', 'configmap', 'gen', '-n', 'gen', '-o', 'json')).data, { a: 'b' })
      t.ok(requests.some(r => r.method === 'POST' && r.path === '/api/v1/namespaces/gen/configmaps' && r.contentType === 'application/vnd.kubernetes.protobuf'), 'kubectl sent protobuf')
      t.match(await kubectl('create', 'service', 'loadbalancer', 'gen', '-n', 'gen', '--tcp=80:8080'), /service\/gen created/)
      const svc = JSON.parse(await kubectl('get', 'svc', 'gen', '-n', 'gen', '-o', 'json'))
      t.equal(svc.spec.type, 'LoadBalancer')
      t.same(svc.spec.ports.map((p: { name: string, port: number, targetPort: number, protocol: string }) => [p.name, p.port, p.targetPort, p.protocol]), [['80-8080', 80, 8080, 'TCP']])
      t.same(svc.spec.selector, { app: 'gen' })
      t.match(await kubectl('delete', 'namespace', 'gen'), /namespace "gen" deleted/)
    })

    t.test('other kinds print', async t => {
      t.match(await kubectl('get', 'ns'), /l2lb-system\s+Active/)
      t.match(await kubectl('get', 'events'), /IPAllocated/)
      await raw(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases', { body: { metadata: { name: 'l2lb-node1' }, spec: { holderIdentity: 'l2lb-node1', leaseDurationSeconds: 10 } } })
      t.match(await kubectl('get', 'leases', '-n', 'l2lb-system'), /l2lb-node1\s+l2lb-node1/)
      await raw(server, 'POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', { body: { metadata: { name: 'web-1' }, addressType: 'IPv4', endpoints: [{ addresses: ['198.19.1.2'] }], ports: [{ port: 80 }] } })
      t.match(await kubectl('get', 'endpointslices'), /web-1\s+IPv4\s+80\s+198\.19\.1\.2/)
    })
  })
}
