// The stand-in driven by @kubernetes/client-node, the library the controller and speaker use: typed
// CRUD, optimistic concurrency, patches, an informer seeing ADDED/MODIFIED/DELETED, watch 410s.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import {
  ApiException, CoordinationV1Api, CoreV1Api, DiscoveryV1Api, EventsV1Api, KubeConfig, makeInformer, PatchStrategy,
  setHeaderOptions, V1MicroTime, type V1Service, Watch
} from '@kubernetes/client-node'
import { startApiServer } from './server.js'
import { raw } from './test-client.js'

function lbService (name: string, labels: Record<string, string> = {}): V1Service {
  return { metadata: { name, labels }, spec: { type: 'LoadBalancer', selector: { app: name }, ports: [{ name: 'http', port: 80 }] } }
}

async function apiError (p: Promise<unknown>): Promise<{ code: number, body: Record<string, unknown> }> {
  try {
    await p
  } catch (e) {
    if (e instanceof ApiException) {
      const body: unknown = typeof e.body === 'string' ? JSON.parse(e.body) : e.body
      return { code: e.code, body: typeof body === 'object' && body !== null ? Object.fromEntries(Object.entries(body)) : {} }
    }
    throw e
  }
  throw new Error('expected the request to fail')
}

function waitFor (what: string, cond: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  return new Promise((resolve, reject) => {
    const tick = (): void => {
      if (cond()) { resolve(); return }
      if (Date.now() > deadline) { reject(new Error(`timed out waiting for ${what}`)); return }
      setTimeout(tick, 20)
    }
    tick()
  })
}

t.test('client-node against the stand-in', async t => {
  const server = await startApiServer({ historyLimit: 200, bookmarkIntervalMs: 100 })
  const dir = await mkdtemp(join(tmpdir(), 'l2lb-apiserver-test-'))
  t.teardown(async () => { await server.close(); await rm(dir, { recursive: true, force: true }) })
  const kubeconfig = join(dir, 'kubeconfig')
  await server.writeKubeconfig(kubeconfig)
  const kc = new KubeConfig()
  kc.loadFromFile(kubeconfig)
  const core = kc.makeApiClient(CoreV1Api)
  const mergePatch = setHeaderOptions('Content-Type', PatchStrategy.MergePatch)
  const strategic = setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch)

  t.test('namespaces of a fresh cluster', async t => {
    const list = await core.listNamespace()
    t.same(list.items.map(n => n.metadata?.name).sort(), ['default', 'kube-node-lease', 'kube-public', 'kube-system', 'l2lb-system'])
    t.ok(list.items.every(n => n.status?.phase === 'Active'))
  })

  t.test('create, 409 AlreadyExists, 404 for a missing namespace', async t => {
    const svc = await core.createNamespacedService({ namespace: 'default', body: lbService('web') })
    t.match(svc.spec?.clusterIP, /^198\.18\.\d+\.\d+$/)
    t.same(svc.spec?.clusterIPs, [svc.spec?.clusterIP])
    t.same(svc.spec?.ipFamilies, ['IPv4'])
    t.equal(svc.spec?.ipFamilyPolicy, 'SingleStack')
    const port = svc.spec?.ports?.[0]
    t.equal(port?.protocol, 'TCP')
    t.equal(port?.targetPort, 80, 'targetPort defaults to port')
    t.ok((port?.nodePort ?? 0) >= 30000 && (port?.nodePort ?? 0) <= 32767)
    t.equal(svc.spec?.allocateLoadBalancerNodePorts, true)
    t.equal(svc.spec?.externalTrafficPolicy, 'Cluster')
    t.equal(svc.spec?.internalTrafficPolicy, 'Cluster')
    t.equal(svc.spec?.sessionAffinity, 'None')
    t.same(svc.status, { loadBalancer: {} })
    t.match(svc.metadata?.uid, /^[0-9a-f-]{36}$/)
    t.ok(svc.metadata?.creationTimestamp instanceof Date)
    const dup = await apiError(core.createNamespacedService({ namespace: 'default', body: lbService('web') }))
    t.equal(dup.code, 409)
    t.equal(dup.body.reason, 'AlreadyExists')
    const missing = await apiError(core.createNamespacedService({ namespace: 'nope', body: lbService('web') }))
    t.equal(missing.code, 404)
    t.match(missing.body, { reason: 'NotFound', message: 'namespaces "nope" not found', details: { name: 'nope', kind: 'namespaces' } })
    const generated = await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { generateName: 'gen-' }, data: { a: 'b' } } })
    t.match(generated.metadata?.name, /^gen-[a-z0-9]{5}$/, 'generateName gets a random suffix')
  })

  t.test('dual-stack request and validation', async t => {
    const dual = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'dual' }, spec: { type: 'LoadBalancer', ipFamilyPolicy: 'RequireDualStack', ports: [{ port: 53, protocol: 'UDP', name: 'dns' }] } } })
    t.same(dual.spec?.ipFamilies, ['IPv4', 'IPv6'])
    t.match(dual.spec?.clusterIPs?.[0], /^198\.18\./)
    t.match(dual.spec?.clusterIPs?.[1], /^2001:db8:0:200::/)
    const v6 = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'v6' }, spec: { ipFamilies: ['IPv6'], ports: [{ port: 80 }] } } })
    t.same(v6.spec?.ipFamilies, ['IPv6'])
    t.equal(v6.spec?.type, 'ClusterIP')
    t.equal(v6.spec?.ports?.[0]?.nodePort, undefined, 'no node port for ClusterIP')
    const bad = await apiError(core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'bad' }, spec: { type: 'LoadBalancer', externalIPs: ['not-an-ip'], ports: [{ port: 80 }] } } }))
    t.equal(bad.code, 422)
    t.match(bad.body, { reason: 'Invalid', details: { causes: [{ field: 'spec.externalIPs[0]', reason: 'FieldValueInvalid' }] } })
    // As on a real server, a loadBalancerIP that is not an IP is accepted (with a warning): the load
    // balancer implementation must refuse it itself.
    const odd = await core.createNamespacedService({ namespace: 'default', body: { metadata: { name: 'odd' }, spec: { type: 'LoadBalancer', loadBalancerIP: 'not-an-ip', ports: [{ port: 80 }] } } })
    t.equal(odd.spec?.loadBalancerIP, 'not-an-ip')
    await core.deleteNamespacedService({ name: 'odd', namespace: 'default' })
    const noName = await apiError(core.createNamespacedService({ namespace: 'default', body: { spec: { ports: [{ port: 80 }] } } }))
    t.equal(noName.code, 422)
    t.match(noName.body, { details: { causes: [{ field: 'metadata.name', reason: 'FieldValueRequired' }] } })
  })

  t.test('update: 409 on a stale resourceVersion, no-op keeps it', async t => {
    const cur = await core.readNamespacedService({ name: 'web', namespace: 'default' })
    const first = await core.replaceNamespacedService({ name: 'web', namespace: 'default', body: { ...cur, metadata: { ...cur.metadata, labels: { tier: 'a' } } } })
    t.ok(Number(first.metadata?.resourceVersion) > Number(cur.metadata?.resourceVersion))
    t.equal(first.spec?.clusterIP, cur.spec?.clusterIP, 'allocated values are kept')
    const stale = await apiError(core.replaceNamespacedService({ name: 'web', namespace: 'default', body: { ...cur, metadata: { ...cur.metadata, labels: { tier: 'b' } } } }))
    t.equal(stale.code, 409)
    t.match(stale.body, { reason: 'Conflict', details: { name: 'web', kind: 'services' } })
    const same = await core.replaceNamespacedService({ name: 'web', namespace: 'default', body: first })
    t.equal(same.metadata?.resourceVersion, first.metadata?.resourceVersion, 'writing the same object is no write')
  })

  t.test('status subresource and patch types', async t => {
    const patched = await core.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.240' }] } } } }, mergePatch)
    t.same(patched.status?.loadBalancer?.ingress, [{ ip: '192.0.2.240', ipMode: 'VIP' }])
    const bad = await apiError(core.patchNamespacedServiceStatus({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: 'x.y' }] } } } }, mergePatch))
    t.equal(bad.code, 422)
    t.match(bad.body, { details: { causes: [{ field: 'status.loadBalancer.ingress[0].ip' }] } })
    const viaMain = await core.patchNamespacedService({ name: 'web', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.99' }] } } } }, mergePatch)
    t.same(viaMain.status?.loadBalancer?.ingress, [{ ip: '192.0.2.240', ipMode: 'VIP' }], 'status is ignored on the main resource')
    // JSON patch (client-node's default patch type), with a test op that fails and one that passes.
    const failed = await apiError(core.patchNamespacedService({ name: 'web', namespace: 'default', body: [{ op: 'test', path: '/spec/type', value: 'ClusterIP' }, { op: 'add', path: '/metadata/labels/x', value: 'y' }] }))
    t.equal(failed.code, 422)
    const jp = await core.patchNamespacedService({ name: 'web', namespace: 'default', body: [{ op: 'test', path: '/spec/type', value: 'LoadBalancer' }, { op: 'add', path: '/metadata/labels/x', value: 'y' }] })
    t.same(jp.metadata?.labels, { tier: 'a', x: 'y' })
    // Strategic merge: ports merge by port number; the existing port keeps its node port.
    const before = jp.spec?.ports?.[0]?.nodePort
    const smp = await core.patchNamespacedService({ name: 'web', namespace: 'default', body: { spec: { ports: [{ name: 'https', port: 443 }, { port: 80, name: 'http', targetPort: 8080 }] } } }, strategic)
    t.same(smp.spec?.ports?.map(p => [p.name, p.port, p.targetPort]), [['http', 80, 8080], ['https', 443, 443]])
    t.equal(smp.spec?.ports?.[0]?.nodePort, before)
    const del = await core.patchNamespacedService({ name: 'web', namespace: 'default', body: { spec: { ports: [{ $patch: 'delete', port: 443 }] } } }, strategic)
    t.same(del.spec?.ports?.map(p => p.port), [80], '$patch: delete removes the element with that key')
  })

  t.test('label and field selectors', async t => {
    for (const [name, labels] of [['a', { app: 'x', tier: 'fe' }], ['b', { app: 'y', tier: 'be' }], ['c', { app: 'x' }]] as const) {
      await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name, labels } } })
    }
    const names = async (labelSelector?: string, fieldSelector?: string): Promise<string[]> =>
      (await core.listNamespacedConfigMap({ namespace: 'l2lb-system', labelSelector, fieldSelector })).items.map(c => c.metadata?.name ?? '').sort()
    t.same(await names('app=x'), ['a', 'c'])
    t.same(await names('app==x,tier'), ['a'])
    t.same(await names('app!=x'), ['b'])
    t.same(await names('tier in (fe,be)'), ['a', 'b'])
    t.same(await names('tier notin (fe)'), ['b', 'c'])
    t.same(await names('!tier'), ['c'])
    t.same(await names(undefined, 'metadata.name=b'), ['b'])
    t.same(await names(undefined, 'metadata.name!=b'), ['a', 'c'])
    const svcTypes = (await core.listServiceForAllNamespaces({ fieldSelector: 'spec.type=LoadBalancer' })).items.map(s => s.metadata?.name).sort()
    t.same(svcTypes, ['dual', 'web'])
    const bad = await apiError(core.listNamespacedConfigMap({ namespace: 'l2lb-system', fieldSelector: 'data.x=1' }))
    t.equal(bad.code, 400)
  })

  t.test('an informer sees ADDED, MODIFIED, DELETED', async t => {
    const path = '/api/v1/namespaces/default/services'
    const informer = makeInformer(kc, path, () => core.listNamespacedService({ namespace: 'default' }))
    const seen: string[] = []
    informer.on('add', s => { if (s.metadata?.name === 'watched') seen.push('add') })
    informer.on('update', s => { if (s.metadata?.name === 'watched') seen.push(`update:${s.status?.loadBalancer?.ingress?.[0]?.ip ?? ''}`) })
    informer.on('delete', s => { if (s.metadata?.name === 'watched') seen.push('delete') })
    await informer.start()
    t.teardown(() => informer.stop())
    t.ok(informer.list('default').some(s => s.metadata?.name === 'web'), 'the initial list is in the cache')
    await core.createNamespacedService({ namespace: 'default', body: lbService('watched') })
    await waitFor('add', () => seen.includes('add'))
    await core.patchNamespacedServiceStatus({ name: 'watched', namespace: 'default', body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.241' }] } } } }, mergePatch)
    await waitFor('update', () => seen.includes('update:192.0.2.241'))
    await core.deleteNamespacedService({ name: 'watched', namespace: 'default' })
    await waitFor('delete', () => seen.includes('delete'))
    t.same(seen, ['add', 'update:192.0.2.241', 'delete'])
    t.notOk(informer.get('watched', 'default'), 'gone from the cache')
  })

  t.test('watch: selector transitions, bookmarks, 410 on a too-old resourceVersion', async t => {
    const watch = new Watch(kc)
    const events: Array<[string, string]> = []
    const rv = (await core.listNamespacedConfigMap({ namespace: 'l2lb-system' })).metadata?.resourceVersion ?? ''
    const ac = await watch.watch('/api/v1/namespaces/l2lb-system/configmaps', { resourceVersion: rv, labelSelector: 'app=x', allowWatchBookmarks: true },
      (phase, obj: { metadata?: { name?: string } }) => { events.push([phase, obj.metadata?.name ?? '']) }, () => undefined)
    t.teardown(() => ac.abort())
    await core.patchNamespacedConfigMap({ name: 'b', namespace: 'l2lb-system', body: { metadata: { labels: { app: 'x' } } } }, mergePatch)
    await core.patchNamespacedConfigMap({ name: 'a', namespace: 'l2lb-system', body: { metadata: { labels: { app: 'z' } } } }, mergePatch)
    await core.patchNamespacedConfigMap({ name: 'c', namespace: 'l2lb-system', body: { data: { k: 'v' } } }, mergePatch)
    await waitFor('three events and a bookmark', () => events.filter(e => e[0] !== 'BOOKMARK').length >= 3 && events.some(e => e[0] === 'BOOKMARK'))
    t.same(events.filter(e => e[0] !== 'BOOKMARK'), [['ADDED', 'b'], ['DELETED', 'a'], ['MODIFIED', 'c']], 'moving into/out of the selection reads as ADDED/DELETED')

    const oldRv = rv
    server.compact()
    const errors: Array<{ code?: number, reason?: string }> = []
    let done = false
    const ac2 = await watch.watch('/api/v1/namespaces/l2lb-system/configmaps', { resourceVersion: oldRv },
      (phase, obj: { code?: number, reason?: string }) => { if (phase === 'ERROR') errors.push(obj) }, () => { done = true })
    t.teardown(() => ac2.abort())
    await waitFor('the 410 and the end of the stream', () => errors.length > 0 && done)
    t.match(errors, [{ code: 410, reason: 'Expired' }])
    const listErr = await apiError(core.listNamespacedConfigMap({ namespace: 'l2lb-system', resourceVersion: oldRv, resourceVersionMatch: 'Exact' }))
    t.equal(listErr.code, 410)
    t.equal(listErr.body.reason, 'Expired')
  })

  t.test('an informer survives its watch ending after a compaction (410, relist)', async t => {
    // A server of its own: bookmarks every minute (the default), so the informer's resourceVersion is
    // that of its last event, and a request log to see the 410 and the relist.
    const log: Array<{ method: string, path: string, query: string }> = []
    const own = await startApiServer({ onRequest: r => log.push(r) })
    t.teardown(() => own.close())
    const ownConfig = join(dir, 'kubeconfig-own')
    await own.writeKubeconfig(ownConfig)
    const okc = new KubeConfig()
    okc.loadFromFile(ownConfig)
    const ocore = okc.makeApiClient(CoreV1Api)
    const informer = makeInformer(okc, '/api/v1/namespaces/kube-public/configmaps', () => ocore.listNamespacedConfigMap({ namespace: 'kube-public' }))
    const added: string[] = []
    informer.on('add', c => { added.push(c.metadata?.name ?? '') })
    informer.on('error', () => undefined)
    await informer.start()
    t.teardown(() => informer.stop())
    await ocore.createNamespacedConfigMap({ namespace: 'kube-public', body: { metadata: { name: 'before' } } })
    await waitFor('before', () => added.includes('before'))
    // Writes elsewhere move the revision on; the compaction makes the informer's resourceVersion too old.
    for (let i = 0; i < 3; i++) await ocore.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { generateName: 'filler-' } } })
    const listsBefore = log.filter(r => r.method === 'GET' && r.path === '/api/v1/namespaces/kube-public/configmaps' && !r.query.includes('watch')).length
    own.compact()
    own.dropWatches()
    await ocore.createNamespacedConfigMap({ namespace: 'kube-public', body: { metadata: { name: 'after' } } })
    await waitFor('the informer to relist and see the new object', () => informer.list('kube-public').some(c => c.metadata?.name === 'after'), 10_000)
    const lists = log.filter(r => r.method === 'GET' && r.path === '/api/v1/namespaces/kube-public/configmaps' && !r.query.includes('watch')).length
    t.ok(lists > listsBefore, 'the informer listed again after the 410')
  })

  t.test('list at an exact resourceVersion inside the window shows that state', async t => {
    await core.createNamespacedConfigMap({ namespace: 'default', body: { metadata: { name: 'ephemeral' } } })
    const at = (await core.listNamespacedConfigMap({ namespace: 'default' })).metadata?.resourceVersion ?? ''
    await core.deleteNamespacedConfigMap({ name: 'ephemeral', namespace: 'default' })
    const then = await core.listNamespacedConfigMap({ namespace: 'default', resourceVersion: at, resourceVersionMatch: 'Exact' })
    t.ok(then.items.some(c => c.metadata?.name === 'ephemeral'))
    t.equal(then.metadata?.resourceVersion, at)
    const now = await core.listNamespacedConfigMap({ namespace: 'default' })
    t.notOk(now.items.some(c => c.metadata?.name === 'ephemeral'))
  })

  t.test('paging with limit and continue', async t => {
    const first = await core.listNamespacedConfigMap({ namespace: 'l2lb-system', limit: 2 })
    t.equal(first.items.length, 2)
    t.ok(first.metadata?._continue, 'a continue token')
    const rest = await core.listNamespacedConfigMap({ namespace: 'l2lb-system', limit: 2, _continue: first.metadata?._continue })
    t.same([...first.items, ...rest.items].map(c => c.metadata?.name), ['a', 'b', 'c'])
  })

  t.test('nodes, endpointslices, leases, events', async t => {
    const node = await core.createNode({ body: { metadata: { name: 'node1' }, status: { conditions: [{ type: 'Ready', status: 'True' }], addresses: [{ type: 'InternalIP', address: '192.0.2.11' }] } } })
    t.equal(node.status?.conditions?.[0]?.type, 'Ready', 'a Node keeps the status it is created with')
    const notReady = await core.patchNodeStatus({ name: 'node1', body: { status: { conditions: [{ type: 'Ready', status: 'False' }] } } }, strategic)
    t.same(notReady.status?.conditions?.map(c => [c.type, c.status]), [['Ready', 'False']], 'conditions merge by type')
    t.equal(notReady.status?.addresses?.[0]?.address, '192.0.2.11')

    const discovery = kc.makeApiClient(DiscoveryV1Api)
    const slice = await discovery.createNamespacedEndpointSlice({ namespace: 'default', body: { metadata: { name: 'web-1', labels: { 'kubernetes.io/service-name': 'web' } }, addressType: 'IPv4', endpoints: [{ addresses: ['198.19.1.2'], conditions: { ready: true } }], ports: [{ port: 80 }] } })
    t.equal(slice.metadata?.generation, 1)
    const slice2 = await discovery.replaceNamespacedEndpointSlice({ name: 'web-1', namespace: 'default', body: { ...slice, endpoints: [{ addresses: ['198.19.1.3'], conditions: { ready: false } }] } })
    t.equal(slice2.metadata?.generation, 2, 'generation follows content changes')
    const listed = await discovery.listNamespacedEndpointSlice({ namespace: 'default', labelSelector: 'kubernetes.io/service-name=web' })
    t.same(listed.items.map(s => s.metadata?.name), ['web-1'])

    const coord = kc.makeApiClient(CoordinationV1Api)
    const lease = await coord.createNamespacedLease({ namespace: 'l2lb-system', body: { metadata: { name: 'node1' }, spec: { holderIdentity: 'node1', leaseDurationSeconds: 10 } } })
    const renewed = await coord.replaceNamespacedLease({ name: 'node1', namespace: 'l2lb-system', body: { ...lease, spec: { ...lease.spec, leaseDurationSeconds: 15 } } })
    t.equal(renewed.spec?.leaseDurationSeconds, 15)
    const stale = await apiError(coord.replaceNamespacedLease({ name: 'node1', namespace: 'l2lb-system', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'node2' } } }))
    t.equal(stale.code, 409, 'a lease taken with a stale resourceVersion is refused')

    const ev = await core.createNamespacedEvent({ namespace: 'default', body: { metadata: { name: 'web.1' }, involvedObject: { kind: 'Service', namespace: 'default', name: 'web', apiVersion: 'v1' }, reason: 'IPAllocated', message: 'Assigned IP ["192.0.2.240"]', type: 'Normal', source: { component: 'l2lb-controller' }, count: 1 } })
    t.equal(ev.reason, 'IPAllocated')
    const found = await core.listNamespacedEvent({ namespace: 'default', fieldSelector: 'involvedObject.kind=Service,involvedObject.name=web,reason=IPAllocated' })
    t.same(found.items.map(e => e.metadata?.name), ['web.1'])
    const events = kc.makeApiClient(EventsV1Api)
    const v1 = await events.readNamespacedEvent({ name: 'web.1', namespace: 'default' })
    t.equal(v1.note, 'Assigned IP ["192.0.2.240"]', 'events.k8s.io/v1 is a view of the same Event')
    t.equal(v1.regarding?.name, 'web')
    const created = await events.createNamespacedEvent({ namespace: 'default', body: { metadata: { name: 'web.2' }, eventTime: new V1MicroTime(), reportingController: 'l2lb.dev/speaker', reportingInstance: 'node1', action: 'Announce', reason: 'nodeAssigned', note: 'announcing from node "node1"', type: 'Normal', regarding: { kind: 'Service', namespace: 'default', name: 'web' } } })
    t.equal(created.reason, 'nodeAssigned')
    const asCore = await core.readNamespacedEvent({ name: 'web.2', namespace: 'default' })
    t.equal(asCore.message, 'announcing from node "node1"')
    t.equal(asCore.involvedObject.name, 'web')
    // client-node's types insist on eventTime, so the incomplete event goes over raw HTTPS.
    const missing = await raw(server, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', { body: { metadata: { name: 'web.3' }, reason: 'x', regarding: { kind: 'Service', name: 'web' } } })
    t.equal(missing.status, 422, 'events.k8s.io/v1 requires eventTime, reportingController, ...')
    t.match(missing.json, { reason: 'Invalid', details: { causes: [{ field: 'eventTime', reason: 'FieldValueRequired' }] } })
  })

  t.test('delete returns the Service; other kinds a Status', async t => {
    const svc = await core.deleteNamespacedService({ name: 'dual', namespace: 'default' })
    t.equal(svc.metadata?.name, 'dual')
    const st = await core.deleteNamespacedConfigMap({ name: 'c', namespace: 'l2lb-system' })
    t.match(st, { kind: 'Status', status: 'Success', details: { name: 'c', kind: 'configmaps' } })
    const again = await apiError(core.deleteNamespacedConfigMap({ name: 'c', namespace: 'l2lb-system' }))
    t.equal(again.code, 404)
  })
})
