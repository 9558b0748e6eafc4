// Preconditions, immutable metadata and the words of their refusals, against captures of kube-apiserver 1.32.6
// (golden uid-*.txt, delete-precondition-*.txt, loadbalancerip-zoned.txt). Found by the differential test
// (differential.test.ts): the controller's status merge patch carries the Service's uid; with another uid the
// real server refuses it (422 Invalid, metadata.uid immutable) where the stand-in had quietly kept the stored uid.
import t from 'tap'
import { goldenDir, readGolden, readGoldenRequest } from './golden.js'
import { startApiServer, type ApiServer } from './server.js'
import { raw } from './test-client.js'

const dir = goldenDir()
const BAD_UID = '00000000-0000-0000-0000-000000000000'

type Obj = Record<string, unknown>
function obj (v: unknown): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`expected an object, got ${JSON.stringify(v)}`)
  return v as Obj
}

/** The golden Status with the real server's uids and resourceVersions replaced by the stand-in's. */
function goldenStatus (file: string, uid: string, rv = ''): unknown {
  const text = readGolden(dir, file).body
    .replace(/(UID in (?:object meta: |record \())[0-9a-f-]{36}/g, `$1${uid}`)
    .replace(/(ResourceVersion in record \()\d+/, `$1${rv}`)
  return JSON.parse(text)
}

async function createService (server: ApiServer, name: string): Promise<{ uid: string, rv: string }> {
  const r = await raw(server, 'POST', '/api/v1/namespaces/default/services', {
    body: { apiVersion: 'v1', kind: 'Service', metadata: { name }, spec: { type: 'LoadBalancer', loadBalancerClass: 'golden.example/none', ports: [{ port: 80 }] } },
  })
  const meta = obj(obj(r.json).metadata)
  return { uid: String(meta.uid), rv: String(meta.resourceVersion) }
}

t.test('uid: immutable in a patch, a precondition in a PUT', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())
  const { uid } = await createService(server, 'golden-uid')

  for (const file of ['uid-patch-immutable-422.txt', 'uid-put-precondition-409.txt', 'uid-put-missing-409.txt']) {
    const req = readGoldenRequest(dir, file)
    const golden = readGolden(dir, file)
    const r = await raw(server, req.method, req.path, { body: req.body, contentType: req.contentType })
    t.equal(r.status, golden.status, `${file}: status code`)
    t.same(r.json, goldenStatus(file, file === 'uid-put-missing-409.txt' ? '' : uid), `${file}: the real server's Status`)
  }
  const after = obj(obj((await raw(server, 'GET', '/api/v1/namespaces/default/services/golden-uid')).json).metadata)
  t.equal(after.uid, uid, 'the uid is unchanged')
  t.same(obj(obj((await raw(server, 'GET', '/api/v1/namespaces/default/services/golden-uid')).json).status).loadBalancer, {}, 'nothing of the refused status patch was written')

  const right = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/golden-uid/status', {
    body: { metadata: { uid }, status: { loadBalancer: { ingress: [{ ip: '192.0.2.240' }] } } }, contentType: 'application/merge-patch+json',
  })
  t.equal(right.status, 200, 'the controller\'s patch with the Service\'s own uid is applied')
  for (const uidValue of ['', null]) {
    const r = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/golden-uid', { body: { metadata: { uid: uidValue } }, contentType: 'application/merge-patch+json' })
    t.equal(r.status, 200, `a patch setting uid to ${JSON.stringify(uidValue)} keeps the stored one (rest.BeforeUpdate)`)
  }
  for (const [type, body] of [['application/strategic-merge-patch+json', { metadata: { uid: BAD_UID } }], ['application/json-patch+json', [{ op: 'replace', path: '/metadata/uid', value: BAD_UID }]]] as const) {
    const r = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/golden-uid', { body, contentType: type })
    t.equal(r.status, 422, `${type}: 422 as well`)
  }
  const put = obj((await raw(server, 'GET', '/api/v1/namespaces/default/services/golden-uid')).json)
  const ok = await raw(server, 'PUT', '/api/v1/namespaces/default/services/golden-uid', { body: put })
  t.equal(ok.status, 200, 'a PUT of the object as read (its own uid) is applied')

  // A Lease PUT that would create (create-on-update) fails the precondition instead.
  const lease = await raw(server, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/default/leases/nol', {
    body: { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'nol', uid: BAD_UID }, spec: {} },
  })
  t.equal(lease.status, 409)
  t.equal(obj(lease.json).message, `Operation cannot be fulfilled on leases.coordination.k8s.io "nol": StorageError: invalid object, Code: 4, Key: /registry/leases/default/nol, ResourceVersion: 0, AdditionalErrorMsg: Precondition failed: UID in precondition: ${BAD_UID}, UID in object meta: `)
})

t.test('a changed uid is named once for core/v1 Events and EndpointSlices, twice for the other kinds', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())
  const slice = await raw(server, 'POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
    body: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'golden-uid' }, addressType: 'IPv4', endpoints: [] },
  })
  t.equal(slice.status, 201)
  const file = 'uid-patch-immutable-endpointslice-422.txt'
  const req = readGoldenRequest(dir, file)
  const r = await raw(server, req.method, req.path, { body: req.body, contentType: req.contentType })
  t.equal(r.status, 422)
  t.same(r.json, goldenStatus(file, ''), `${file}: the real server's Status`)

  // Observed on kube-apiserver 1.32.6 (the number of metadata.uid causes of a merge patch changing the uid).
  const cases: Array<[string, string, unknown, number]> = [
    ['/api/v1/namespaces/default/configmaps', 'cm', { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'cm' } }, 2],
    ['/apis/coordination.k8s.io/v1/namespaces/default/leases', 'l', { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l' }, spec: {} }, 2],
    ['/api/v1/nodes', 'n', { apiVersion: 'v1', kind: 'Node', metadata: { name: 'n' } }, 2],
    ['/api/v1/namespaces/default/events', 'e', { apiVersion: 'v1', kind: 'Event', metadata: { name: 'e' }, involvedObject: { kind: 'Pod', name: 'x', namespace: 'default' }, reason: 'r', message: 'm', type: 'Normal' }, 1],
  ]
  for (const [collection, name, body, count] of cases) {
    t.equal((await raw(server, 'POST', collection, { body })).status, 201, `${collection}: created`)
    const p = await raw(server, 'PATCH', `${collection}/${name}`, { body: { metadata: { uid: BAD_UID } }, contentType: 'application/merge-patch+json' })
    t.equal(p.status, 422, `${collection}: 422`)
    const causes = obj(obj(p.json).details).causes
    t.same(Array.isArray(causes) ? causes.map(c => obj(c).field) : causes, Array.from({ length: count }, () => 'metadata.uid'), `${collection}: ${count} cause(s)`)
  }
  const created = await raw(server, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', {
    body: { apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: 'e2' }, regarding: { kind: 'Pod', name: 'x', namespace: 'default' }, reason: 'r', note: 'm', type: 'Normal', action: 'a', reportingController: 'x.io/c', reportingInstance: 'i', eventTime: '2026-01-01T00:00:00.000000Z' },
  })
  t.equal(created.status, 201)
  const e2 = await raw(server, 'PATCH', '/apis/events.k8s.io/v1/namespaces/default/events/e2', { body: { metadata: { uid: BAD_UID } }, contentType: 'application/merge-patch+json' })
  t.equal(e2.status, 422, 'an Event patched through events.k8s.io')
  t.match(e2.json, { message: `Event "e2" is invalid: metadata.uid: Invalid value: "${BAD_UID}": field is immutable`, details: { name: 'e2', kind: 'Event', causes: [{ field: 'metadata.uid' }, { field: 'metadata.uid' }] } },
    'named twice, and as the stored core Event (no group)')
  t.notOk('group' in obj(obj(e2.json).details), 'details name no group')
})

t.test('DELETE preconditions in rest.BeforeDelete\'s words; a namespace\'s in its registry\'s', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())
  const { uid } = await createService(server, 'golden-uid')
  const slice = await raw(server, 'POST', '/apis/discovery.k8s.io/v1/namespaces/default/endpointslices', {
    body: { apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice', metadata: { name: 'golden-uid' }, addressType: 'IPv4', endpoints: [] },
  })
  const sliceRv = String(obj(obj(slice.json).metadata).resourceVersion)
  const ns = await raw(server, 'POST', '/api/v1/namespaces', { body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'golden-ns' } } })
  const nsUid = String(obj(obj(ns.json).metadata).uid)
  for (const [file, u, rv] of [['delete-precondition-uid-409.txt', uid, ''], ['delete-precondition-rv-409.txt', '', sliceRv], ['delete-precondition-namespace-409.txt', nsUid, '']] as const) {
    const req = readGoldenRequest(dir, file)
    const r = await raw(server, req.method, req.path, { body: req.body, contentType: req.contentType })
    t.equal(r.status, 409, `${file}: 409`)
    t.same(r.json, goldenStatus(file, u, rv), `${file}: the real server's Status`)
  }
})

t.test('events.k8s.io checks an Event\'s type; core/v1 stores any', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())
  const core = await raw(server, 'POST', '/api/v1/namespaces/default/events', {
    body: { apiVersion: 'v1', kind: 'Event', metadata: { name: 'c1' }, involvedObject: { kind: 'Pod', name: 'x', namespace: 'default' }, reason: 'r', message: 'm', type: 'Bogus' },
  })
  t.equal(core.status, 201, 'core/v1: stored (legacyValidateEvent has no type check)')
  const event = (name: string, type?: string): unknown => ({
    apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name }, regarding: { kind: 'Pod', name: 'x', namespace: 'default' },
    reason: 'r', note: 'm', action: 'a', reportingController: 'x.io/c', reportingInstance: 'i', eventTime: '2026-01-01T00:00:00.000000Z', ...(type === undefined ? {} : { type }),
  })
  for (const [name, type] of [['e2', 'Bogus'], ['e4', undefined]] as const) {
    const r = await raw(server, 'POST', '/apis/events.k8s.io/v1/namespaces/default/events', { body: event(name, type) })
    t.equal(r.status, 422, `events.k8s.io, type ${String(type)}: 422`)
    t.same(r.json, {
      kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', reason: 'Invalid', code: 422,
      message: `Event "${name}" is invalid: type: Invalid value: "": has invalid value: ${type ?? ''}`,
      details: { name, kind: 'Event', causes: [{ reason: 'FieldValueInvalid', message: `Invalid value: "": has invalid value: ${type ?? ''}`, field: 'type' }] },
    }, 'kube-apiserver 1.32.6\'s Status, word for word')
  }
})

t.test('loadBalancerIP fe80::1%eth0 is stored without a Warning, as the real server does', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())
  const file = 'loadbalancerip-zoned.txt'
  const req = readGoldenRequest(dir, file)
  const golden = readGolden(dir, file)
  t.equal(golden.status, 201, 'the capture: 201')
  t.equal(golden.headers.warning, undefined, 'the capture: no Warning header (netip.ParseAddr takes the zone; the address is canonical)')
  t.equal(obj(obj(JSON.parse(golden.body)).spec).loadBalancerIP, 'fe80::1%eth0', 'the capture: stored as given')
  const r = await raw(server, req.method, req.path, { body: req.body, contentType: req.contentType })
  t.equal(r.status, 201)
  t.equal(r.headers.warning, undefined, 'no Warning header')
  t.equal(obj(obj(r.json).spec).loadBalancerIP, 'fe80::1%eth0')
})
