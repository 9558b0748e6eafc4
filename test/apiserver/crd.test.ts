// CustomResourceDefinitions on the stand-in, measured against a real kube-apiserver 1.32.6's answers (golden
// crd-*.txt, made with MetalLB's CRDs from test/metallb-crds/): the CRD as created and once established,
// discovery of the new group, custom objects pruned, defaulted and validated by the schema with the real
// messages, the CRUD verbs, a name conflict, and deletion removing the instances. Plus the pure parts.
import t from 'tap'
import { readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { load } from 'js-yaml'
import { startApiServer, type ApiServer } from './server.js'
import { raw, watchStream } from './test-client.js'
import { goldenDir, readGolden, readGoldenRequest } from './golden.js'
import { compareVersions, crdStatus, storageVersionHash } from './crd.js'
import { defaultStructural, pruneStructural, validateStructural } from './structural.js'
import type { JsonObject } from './json.js'

type Obj = Record<string, unknown>
function obj (v: unknown): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`expected an object, got ${JSON.stringify(v)}`)
  return Object.fromEntries(Object.entries(v))
}
const crdsDir = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'metallb-crds')
const crdManifest = (plural: string): unknown => load(readFileSync(path.join(crdsDir, `metallb.io_${plural}.yaml`), 'utf8'))
const CRDS = '/apis/apiextensions.k8s.io/v1/customresourcedefinitions'
const NS = '/apis/metallb.io/v1beta1/namespaces/metallb-system'
const golden = goldenDir()

async function established (server: ApiServer, name: string): Promise<Obj> {
  for (let i = 0; i < 100; i++) {
    const r = await raw(server, 'GET', `${CRDS}/${name}`)
    const conds = obj(obj(r.json).status).conditions
    if (Array.isArray(conds) && conds.some(c => obj(c).type === 'Established' && obj(c).status === 'True')) return obj(r.json)
    await new Promise(resolve => setImmediate(resolve))
  }
  throw new Error(`${name} never Established`)
}

/** A golden capture's Status without the volatile parts: code, reason, message, causes. */
function statusOf (body: unknown): unknown {
  const s = obj(body)
  return { code: s.code, reason: s.reason, message: s.message, details: s.details }
}

t.test('MetalLB CRDs on the stand-in, as on a real kube-apiserver', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())
  t.equal((await raw(server, 'POST', '/api/v1/namespaces', { body: { metadata: { name: 'metallb-system' } } })).status, 201)

  t.test('create: the real response, no accepted names yet; then NamesAccepted and Established', async t => {
    const g = readGolden(golden, 'crd-create.txt')
    const r = await raw(server, 'POST', CRDS, { body: crdManifest('l2advertisements') })
    t.equal(r.status, g.status)
    const want = obj(JSON.parse(g.body))
    const got = obj(r.json)
    t.same(got.spec, want.spec, 'spec as the real server stores it (conversion defaulted)')
    t.same(got.status, want.status, 'status: no conditions, empty accepted names, the stored version')
    t.same(Object.keys(got), Object.keys(want))
    t.equal(obj(got.metadata).generation, 1)
    const est = await established(server, 'l2advertisements.metallb.io')
    const gs = obj(JSON.parse(readGolden(golden, 'crd-established-get.txt').body)).status
    const mask = (s: unknown): unknown => ({ ...obj(s), conditions: (obj(s).conditions as unknown[]).map(c => ({ ...obj(c), lastTransitionTime: 'T' })) })
    t.same(mask(est.status), mask(gs), 'NamesAccepted and Established as the real controllers set them')
    for (const p of ['ipaddresspools', 'bgpadvertisements']) t.equal((await raw(server, 'POST', CRDS, { body: crdManifest(p) })).status, 201)
    await established(server, 'ipaddresspools.metallb.io')
    await established(server, 'bgpadvertisements.metallb.io')
  })

  t.test('discovery lists the group and its resources', async t => {
    const group = await raw(server, 'GET', '/apis/metallb.io')
    t.same(group.json, { kind: 'APIGroup', apiVersion: 'v1', name: 'metallb.io', versions: [{ groupVersion: 'metallb.io/v1beta1', version: 'v1beta1' }], preferredVersion: { groupVersion: 'metallb.io/v1beta1', version: 'v1beta1' } })
    const list = obj((await raw(server, 'GET', '/apis/metallb.io/v1beta1')).json)
    const resources = (list.resources as unknown[]).map(obj)
    t.same(resources.map(r => r.name), ['l2advertisements', 'l2advertisements/status', 'ipaddresspools', 'ipaddresspools/status', 'bgpadvertisements', 'bgpadvertisements/status'], 'in creation order, as the real server lists them')
    t.equal(resources[0]?.storageVersionHash, 'PWE09/EFjm8=', "the real server's hash for L2Advertisement")
    t.same(resources[0]?.verbs, ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch'])
    const legacy = obj((await raw(server, 'GET', '/apis')).json)
    const names = (legacy.groups as unknown[]).map(g => obj(g).name)
    t.ok(names.includes('apiextensions.k8s.io'))
    t.equal(names[names.length - 1], 'metallb.io', 'custom groups after the built-in ones')
    const agg = obj((await raw(server, 'GET', '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' })).json)
    const item = (agg.items as unknown[]).map(obj).find(i => obj(i.metadata).name === 'metallb.io')
    const v = obj((item?.versions as unknown[])[0])
    t.same((v.resources as unknown[]).map(r => obj(r).resource), ['bgpadvertisements', 'ipaddresspools', 'l2advertisements'], 'aggregated: sorted')
    t.equal((await raw(server, 'GET', '/apis/apiextensions.k8s.io/v1')).status, 200)
  })

  t.test('an object: unknown fields dropped with warnings, defaults filled in, keys sorted', async t => {
    const g = readGolden(golden, 'crd-instance-create-warning.txt')
    const req = readGoldenRequest(golden, 'crd-instance-create-warning.txt')
    const r = await raw(server, 'POST', req.path, { body: req.body })
    t.equal(r.status, g.status)
    // Two Warning headers, as the capture has (Node joins them with ", ").
    t.equal(r.headers.warning, '299 - "unknown field \\"bar\\"", 299 - "unknown field \\"spec.foo\\""')
    t.equal(g.headers.warning, '299 - "unknown field \\"spec.foo\\""', 'the capture (its last warning header)')
    const want = obj(JSON.parse(g.body))
    const got = obj(r.json)
    t.same(got.spec, want.spec)
    t.same(Object.keys(got), Object.keys(want))
    t.same(Object.keys(obj(got.metadata)), Object.keys(obj(want.metadata)).filter(k => k !== 'managedFields'))
  })

  for (const file of ['crd-instance-type-422.txt', 'crd-instance-required-422.txt']) {
    t.test(`refused as the real server refuses it: ${file}`, async t => {
      const g = readGolden(golden, file)
      const req = readGoldenRequest(golden, file)
      const r = await raw(server, 'POST', req.path, { body: req.body })
      t.equal(r.status, g.status)
      t.same(statusOf(r.json), statusOf(JSON.parse(g.body)))
    })
  }

  t.test('kind and apiVersion are required; another kind is a 422', async t => {
    const missing = await raw(server, 'POST', `${NS}/bgpadvertisements`, { body: { metadata: { name: 'z2' } } })
    t.equal(missing.status, 400)
    t.match(obj(missing.json).message, /^the object provided is unrecognized \(must be of type BGPAdvertisement\): Object 'Kind' is missing in/)
    const other = await raw(server, 'POST', `${NS}/bgpadvertisements`, { body: { apiVersion: 'metallb.io/v1beta1', kind: 'Foo', metadata: { name: 'z' } } })
    t.equal(other.status, 422)
    t.equal(obj(other.json).message, 'Foo.metallb.io "z" is invalid: kind: Invalid value: "Foo": must be BGPAdvertisement')
    const min = await raw(server, 'POST', `${NS}/bgpadvertisements`, { body: { apiVersion: 'metallb.io/v1beta1', kind: 'BGPAdvertisement', metadata: { name: 'x' }, spec: { aggregationLength: 0 } } })
    t.equal(obj(min.json).message, 'BGPAdvertisement.metallb.io "x" is invalid: spec.aggregationLength: Invalid value: 0: spec.aggregationLength in body should be greater than or equal to 1')
  })

  t.test('get, list with a label selector, merge patch, status, watch, delete', async t => {
    const base = `${NS}/ipaddresspools`
    const created = await raw(server, 'POST', base, { body: { apiVersion: 'metallb.io/v1beta1', kind: 'IPAddressPool', metadata: { name: 'other', labels: { a: 'c' } }, spec: { addresses: ['198.51.100.0/30'] }, status: { x: 1 } } })
    t.equal(created.status, 201)
    t.equal(obj(created.json).status, undefined, 'status is not written on create (status subresource)')
    const missing = await raw(server, 'GET', `${base}/nope`)
    t.same(statusOf(missing.json), { code: 404, reason: 'NotFound', message: 'ipaddresspools.metallb.io "nope" not found', details: { name: 'nope', group: 'metallb.io', kind: 'ipaddresspools' } })
    const list = obj((await raw(server, 'GET', `${base}?labelSelector=a%3Db`)).json)
    t.equal(list.kind, 'IPAddressPoolList')
    const items = (list.items as unknown[]).map(obj)
    t.same(items.map(i => obj(i.metadata).name), ['general'])
    t.equal(items[0]?.kind, 'IPAddressPool', 'list items keep kind and apiVersion (unstructured)')
    const w = watchStream(server, `${base}?watch=true&resourceVersion=${server.resourceVersion()}`)
    const patched = await raw(server, 'PATCH', `${base}/other`, { contentType: 'application/merge-patch+json', body: { spec: { autoAssign: false } } })
    t.equal(patched.status, 200)
    t.equal(obj(obj(patched.json).spec).autoAssign, false)
    t.equal(obj(obj(patched.json).metadata).generation, 2, 'a spec change bumps the generation')
    t.equal(await w.status, 200)
    t.same((await w.next(1)).map(e => e.type), ['MODIFIED'])
    w.close()
    const bad = await raw(server, 'PATCH', `${base}/other`, { contentType: 'application/merge-patch+json', body: { spec: { autoAssign: 'no' } } })
    t.equal(bad.status, 422)
    const smp = await raw(server, 'PATCH', `${base}/other`, { contentType: 'application/strategic-merge-patch+json', body: { spec: {} } })
    t.equal(smp.status, 415, 'no strategic merge patch for custom resources')
    const status = await raw(server, 'PATCH', `${base}/other/status`, { contentType: 'application/merge-patch+json', body: { spec: { autoAssign: true } } })
    t.equal(status.status, 200)
    t.equal(obj(obj(status.json).spec).autoAssign, false, '/status writes no spec')
    const del = await raw(server, 'DELETE', `${base}/other`)
    t.same(obj(del.json).details, { name: 'other', group: 'metallb.io', kind: 'ipaddresspools', uid: obj(obj(created.json).metadata).uid })
  })

  t.test('a CRD whose kind another CRD of the group has: names refused, not Established', async t => {
    const m = obj(crdManifest('l2advertisements'))
    const spec = obj(m.spec)
    const conflict = { ...m, metadata: { name: 'l2advs.metallb.io' }, spec: { ...spec, names: { ...obj(spec.names), plural: 'l2advs', singular: 'l2adv' } } }
    t.equal((await raw(server, 'POST', CRDS, { body: conflict })).status, 201)
    let status: Obj = {}
    for (let i = 0; i < 100 && !Array.isArray(status.conditions); i++) {
      await new Promise(resolve => setImmediate(resolve))
      status = obj(obj((await raw(server, 'GET', `${CRDS}/l2advs.metallb.io`)).json).status)
    }
    const conds = (status.conditions as unknown[]).map(c => { const { lastTransitionTime: _t, ...rest } = obj(c); return rest })
    // What kube-apiserver 1.32.6 answered for the same CRD.
    t.same(conds, [
      { type: 'NamesAccepted', status: 'False', reason: 'ListKindConflict', message: '"L2AdvertisementList" is already in use' },
      { type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' }
    ])
    t.same(status.acceptedNames, { plural: 'l2advs', singular: 'l2adv', kind: '' })
    t.equal((await raw(server, 'GET', '/apis/metallb.io/v1beta1/namespaces/metallb-system/l2advs')).status, 404, 'not served')
  })

  t.test('invalid CRDs: the real causes', async t => {
    const m = obj(crdManifest('l2advertisements'))
    const spec = obj(m.spec)
    const r = await raw(server, 'POST', CRDS, { body: { ...m, metadata: { name: 'wrong.metallb.io' }, spec: { ...spec, scope: 'Global', names: { ...obj(spec.names), kind: undefined }, versions: (spec.versions as unknown[]).map(v => ({ ...obj(v), storage: false })) } } })
    t.equal(r.status, 422)
    const causes = (obj(obj(r.json).details).causes as unknown[]).map(c => [obj(c).field, obj(c).reason])
    t.same(causes, [['metadata.name', 'FieldValueInvalid'], ['spec.scope', 'FieldValueNotSupported'], ['spec.versions', 'FieldValueInvalid'], ['spec.names.kind', 'FieldValueRequired'], ['status.storedVersions', 'FieldValueInvalid']])
  })

  t.test('delete: Terminating with the cleanup finalizer, then instances and CRD are gone', async t => {
    const name = 'ipaddresspools.metallb.io'
    const r = await raw(server, 'DELETE', `${CRDS}/${name}`)
    t.equal(r.status, 200)
    const meta = obj(obj(r.json).metadata)
    t.same(meta.finalizers, ['customresourcecleanup.apiextensions.k8s.io'])
    t.ok(typeof meta.deletionTimestamp === 'string')
    const conds = (obj(obj(r.json).status).conditions as unknown[]).map(obj)
    t.same(conds.map(c => [c.type, c.status, c.reason]), [['NamesAccepted', 'True', 'NoConflicts'], ['Established', 'True', 'InitialNamesAccepted'], ['Terminating', 'True', 'InstanceDeletionPending']])
    let code = 200
    for (let i = 0; i < 100 && code === 200; i++) {
      await new Promise(resolve => setImmediate(resolve))
      code = (await raw(server, 'GET', `${CRDS}/${name}`)).status
    }
    t.equal(code, 404, 'the CRD is gone')
    t.equal((await raw(server, 'GET', `${NS}/ipaddresspools`)).status, 404, 'its resource is no longer served')
    t.equal((await raw(server, 'POST', CRDS, { body: crdManifest('ipaddresspools') })).status, 201)
    await established(server, name)
    t.same(obj((await raw(server, 'GET', `${NS}/ipaddresspools`)).json).items, [], 'recreated empty: the instances went with it')
  })
})

t.test('pure parts', async t => {
  t.equal(storageVersionHash('metallb.io', 'v1beta1', 'L2Advertisement'), 'PWE09/EFjm8=')
  t.same(['v1alpha1', 'v2', 'foo', 'v1beta2', 'v1', 'v1beta1'].sort(compareVersions), ['v2', 'v1', 'v1beta2', 'v1beta1', 'v1alpha1', 'foo'])
  const schema: JsonObject = { type: 'object', required: ['spec'], properties: { spec: { type: 'object', properties: { a: { type: 'boolean', default: true }, n: { type: 'integer', minimum: 1 }, e: { type: 'string', enum: ['x', 'y'] }, m: { type: 'object', additionalProperties: { type: 'string' } } } }, status: { type: 'object' } } }
  const o: JsonObject = { apiVersion: 'g/v1', kind: 'K', metadata: { name: 'x' }, spec: { n: 0, e: 'z', m: { k: 1 }, zz: 1 }, status: { any: 1 } }
  t.same(pruneStructural(o, schema), ['spec.zz', 'status.any'])
  defaultStructural(o, schema)
  t.equal((o.spec as JsonObject).a, true)
  t.same(validateStructural(o, schema).map(c => `${c.field}: ${c.message}`), [
    'spec.e: Unsupported value: "z": supported values: "x", "y"',
    'spec.m.k: Invalid value: "integer": spec.m.k in body must be of type string: "integer"',
    'spec.n: Invalid value: 0: spec.n in body should be greater than or equal to 1'
  ])
  t.same(validateStructural({ metadata: {} }, schema).map(c => c.field), ['spec'])
  const crd = (name: string, plural: string, kind: string, accepted = false): JsonObject => ({
    metadata: { name }, spec: { group: 'g.io', names: { plural, singular: plural.slice(0, -1), kind, listKind: `${kind}List` } },
    status: accepted ? { acceptedNames: { plural, singular: plural.slice(0, -1), kind, listKind: `${kind}List` } } : { acceptedNames: { plural: '', kind: '' } }
  })
  const ok = crdStatus(crd('as.g.io', 'as', 'A'), [crd('bs.g.io', 'bs', 'B', true)], '2026-01-01T00:00:00Z')
  t.same((ok.conditions as JsonObject[]).map(c => [c.type, c.status, c.reason]), [['NamesAccepted', 'True', 'NoConflicts'], ['Established', 'True', 'InitialNamesAccepted']])
  const clash = crdStatus(crd('cs.g.io', 'bs2', 'C'), [crd('bs.g.io', 'bs', 'B', true), { ...crd('x.g.io', 'x', 'X', true), status: { acceptedNames: { plural: 'x', singular: 'bs', kind: 'X' } } }], '2026-01-01T00:00:00Z')
  t.same((clash.conditions as JsonObject[]).map(c => [c.type, c.status, c.reason, c.message]), [['NamesAccepted', 'False', 'SingularConflict', '"bs" is already in use'], ['Established', 'False', 'NotAccepted', 'not all names are accepted']])
  t.same(clash.acceptedNames, { plural: 'bs2', kind: 'C', listKind: 'CList' }, 'the refused singular is left out')
})
