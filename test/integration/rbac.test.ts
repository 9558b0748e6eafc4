// Least privilege, enforced: the API server authorizes every request of the controller and the speaker with
// the RBAC rules shipped in config/default/rbac.yaml (ServiceAccount tokens, ClusterRoles bound cluster-wide,
// Roles bound in l2lb-system). The whole allocate-and-announce flow must work with nothing forbidden, and a
// speaker must not be able to write a Service's status.
import t from 'tap'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { loadAll } from 'js-yaml'
import { pino } from 'pino'
import { CoordinationV1Api, CoreV1Api, DiscoveryV1Api, KubeConfig } from '@kubernetes/client-node'
import { performance } from 'node:perf_hooks'
import { LeaderElector } from '../../controller/kube/leader-elector.js'
import { startApiServer, type RequestRecord, type ResourceAttributes, type User } from '../apiserver/server.js'
import { Controller } from '../../controller/controller.js'
import { Speaker } from '../../speaker/speaker.js'
import { RecordingAnnouncer, waitFor } from '../lib/cluster.js'
import { MetricsRegistry } from '../../controller/observe/metrics.js'
import { mergePatch, classifyApiError } from '../../controller/kube/kube-client.js'

interface Rule { apiGroups: string[]; resources: string[]; verbs: string[] }
interface Grant { user: string; namespace: string | null; rules: Rule[] }

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []
}

/** Reads Roles/ClusterRoles and their bindings to ServiceAccounts of l2lb-system. */
function grantsFrom(yamlText: string): Grant[] {
  const docs = loadAll(yamlText).filter(isRecord)
  const roles = new Map<string, Rule[]>()
  for (const d of docs) {
    if (d.kind !== 'Role' && d.kind !== 'ClusterRole') continue
    const meta = isRecord(d.metadata) ? d.metadata : {}
    const rules = (Array.isArray(d.rules) ? d.rules : []).filter(isRecord)
      .map(r => ({ apiGroups: strings(r.apiGroups), resources: strings(r.resources), verbs: strings(r.verbs) }))
    roles.set(`${d.kind}/${String(meta.name)}`, rules)
  }
  const grants: Grant[] = []
  for (const d of docs) {
    if (d.kind !== 'RoleBinding' && d.kind !== 'ClusterRoleBinding') continue
    const ref = isRecord(d.roleRef) ? d.roleRef : {}
    const rules = roles.get(`${String(ref.kind)}/${String(ref.name)}`) ?? []
    for (const s of (Array.isArray(d.subjects) ? d.subjects : []).filter(isRecord)) {
      grants.push({
        user: `system:serviceaccount:${String(s.namespace)}:${String(s.name)}`,
        namespace: d.kind === 'RoleBinding' ? 'l2lb-system' : null,
        rules,
      })
    }
  }
  return grants
}

function allowedBy(grants: readonly Grant[], user: User, verb: string, r: ResourceAttributes): boolean {
  if (r.resource === '') return true // discovery, /version: every authenticated user may read them
  const resource = r.subresource ? `${r.resource}/${r.subresource}` : r.resource
  return grants.some(g => g.user === user.name && (g.namespace === null || g.namespace === r.namespace) &&
    g.rules.some(rule => rule.apiGroups.includes(r.group) && rule.resources.includes(resource) && rule.verbs.includes(verb)))
}

t.test('controller and speaker work with exactly the shipped RBAC', async t => {
  const grants = grantsFrom(readFileSync(new URL('../../config/default/rbac.yaml', import.meta.url), 'utf8'))
  t.ok(grants.length >= 4, 'bindings for both ServiceAccounts')
  const controllerUser: User = { name: 'system:serviceaccount:l2lb-system:controller', groups: ['system:serviceaccounts'] }
  const speakerUser: User = { name: 'system:serviceaccount:l2lb-system:speaker', groups: ['system:serviceaccounts'] }
  const admin = 'admin-token-rbac-test'
  const forbidden: string[] = []
  const server = await startApiServer({
    host: '127.0.0.1', port: 0, token: admin,
    users: { 'controller-token': controllerUser, 'speaker-token': speakerUser },
    authorize: (user, verb, r) => user.groups.includes('system:masters') || user.name !== controllerUser.name && user.name !== speakerUser.name || allowedBy(grants, user, verb, r),
    onRequest: (rec: RequestRecord) => { if (rec.status === 403) forbidden.push(`${rec.method} ${rec.path}?${rec.query}`) },
  })
  const dir = mkdtempSync(join(tmpdir(), 'l2lb-rbac-'))
  t.teardown(async () => { await server.close(); rmSync(dir, { recursive: true, force: true }) })
  await server.writeKubeconfig(join(dir, 'admin'))
  const configFor = (token: string): KubeConfig => {
    const text = readFileSync(join(dir, 'admin'), 'utf8').replace(admin, token)
    writeFileSync(join(dir, token), text)
    const kc = new KubeConfig()
    kc.loadFromFile(join(dir, token))
    return kc
  }
  const adminKc = configFor(admin)
  const core = adminKc.makeApiClient(CoreV1Api)
  const discovery = adminKc.makeApiClient(DiscoveryV1Api)
  await core.createNode({ body: { metadata: { name: 'l2lb-node1' } } })
  await core.patchNodeStatus({ name: 'l2lb-node1', body: { status: { conditions: [{ type: 'Ready', status: 'True', reason: 'KubeletReady', message: '' }] } } }, mergePatch())
  await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: 'address-pools:\n- name: default\n  protocol: layer2\n  addresses: [192.0.2.240/30]\n' } } })

  const log = pino({ level: 'silent' })
  const controllerKc = configFor('controller-token')
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
  const speakerKc = configFor('speaker-token')
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
  t.same(forbidden, [], 'no request of either program was forbidden (including Lease renewal, release and deletion on stop)')

  // Enforcement is real: the speaker's account may not write a Service's status.
  const speakerCore = speakerKc.makeApiClient(CoreV1Api)
  const err = await speakerCore.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.241' }] } } } }, mergePatch())
    .then(() => null, (e: unknown) => classifyApiError(e))
  t.equal(err?.status, 403, 'speaker cannot patch services/status')
})
