// The stand-in against the captures of a real kube-apiserver 1.32 (test/apiserver/golden/), over raw
// HTTPS. Volatile values (uid, resourceVersion, timestamps, allocated IPs and ports, managedFields) are
// masked; everything else, including key order, must match.
import t from 'tap'
import { goldenDir, type GoldenResponse, readGolden, readGoldenFile, readGoldenJson, readGoldenRequest } from './golden.js'
import { startApiServer } from './server.js'
import { raw, type RawResponse, watchStream } from './test-client.js'

const dir = goldenDir()

type Obj = Record<string, unknown>
function isObj (v: unknown): v is Obj { return typeof v === 'object' && v !== null && !Array.isArray(v) }
function obj (v: unknown): Obj {
  if (!isObj(v)) throw new Error(`expected an object, got ${JSON.stringify(v)}`)
  return v
}
function arr (v: unknown): unknown[] {
  if (!Array.isArray(v)) throw new Error(`expected an array, got ${JSON.stringify(v)}`)
  return v
}

const VOLATILE = new Set(['uid', 'resourceVersion', 'creationTimestamp', 'time'])

/** Replaces volatile values by placeholders and drops managedFields (not modelled by the stand-in). */
function mask (v: unknown): unknown {
  if (Array.isArray(v)) return v.map(mask)
  if (!isObj(v)) return v
  const out: Obj = {}
  for (const [k, x] of Object.entries(v)) {
    if (k === 'managedFields') continue
    if (VOLATILE.has(k) && typeof x === 'string') out[k] = '<volatile>'
    else if ((k === 'clusterIP') && typeof x === 'string' && x !== 'None') out[k] = '<clusterIP>'
    else if (k === 'clusterIPs' && Array.isArray(x)) out[k] = x.map(() => '<clusterIP>')
    else if (k === 'nodePort' && typeof x === 'number') out[k] = '<nodePort>'
    else out[k] = mask(x)
  }
  return out
}

t.test('golden comparisons', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())

  t.test('/version and health', async t => {
    const r = await raw(server, 'GET', '/version')
    t.equal(r.status, 200)
    t.same(Object.keys(obj(r.json)), Object.keys(obj(readGoldenJson(dir, 'version.txt'))), 'same fields as the real /version')
    t.match(obj(r.json), { major: '1', minor: '32' })
    for (const p of ['/healthz', '/readyz', '/livez']) {
      const h = await raw(server, 'GET', p, { anonymous: true })
      t.equal(h.status, 200, `${p} answers`)
      t.equal(h.text, 'ok')
    }
  })

  t.test('a request without the token gets the 401 Status', async t => {
    const r = await raw(server, 'GET', '/api/v1/namespaces', { anonymous: true })
    t.equal(r.status, 401)
    t.same(r.json, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'Unauthorized', reason: 'Unauthorized', code: 401 })
  })

  t.test('legacy discovery', async t => {
    const api = await raw(server, 'GET', '/api')
    t.equal(api.status, 200)
    t.equal(api.headers['content-type'], 'application/json')
    const golden = obj(readGoldenJson(dir, 'api-legacy.txt'))
    t.same(Object.keys(obj(api.json)), Object.keys(golden))
    t.same(obj(api.json).versions, golden.versions)
    const apis = await raw(server, 'GET', '/apis')
    const goldenGroups = arr(obj(readGoldenJson(dir, 'apis-legacy.txt')).groups).map(obj)
    const groups = arr(obj(apis.json).groups).map(obj)
    t.same(groups.map(g => g.name).sort(), ['apiextensions.k8s.io', 'coordination.k8s.io', 'discovery.k8s.io', 'events.k8s.io'])
    for (const g of groups) t.same(g, goldenGroups.find(x => x.name === g.name), `group ${String(g.name)} as the real one`)
    const v1 = await raw(server, 'GET', '/api/v1')
    const goldenV1 = arr(obj(readGoldenJson(dir, 'api-v1-resources.txt')).resources).map(obj)
    const names = arr(obj(v1.json).resources).map(obj).map(r => String(r.name))
    t.same(names, ['configmaps', 'events', 'namespaces', 'namespaces/status', 'nodes', 'nodes/status', 'pods', 'pods/status', 'services', 'services/status'])
    for (const r of arr(obj(v1.json).resources).map(obj)) t.same(r, goldenV1.find(x => x.name === r.name), `${String(r.name)} as in the real APIResourceList`)
    for (const [path, file] of [['/apis/coordination.k8s.io/v1', 'coordination-v1-resources.txt'], ['/apis/discovery.k8s.io/v1', 'discovery-v1-resources.txt'], ['/apis/events.k8s.io/v1', 'events-v1-resources.txt']] as const) {
      const r = await raw(server, 'GET', path)
      t.same(r.json, readGoldenJson(dir, file), `${path} equals the golden list`)
    }
  })

  t.test('aggregated discovery', async t => {
    const accept = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json'
    for (const [path, file] of [['/api', 'api-aggregated.txt'], ['/apis', 'apis-aggregated.txt']] as const) {
      const r = await raw(server, 'GET', path, { accept })
      const golden = readGolden(dir, file)
      t.equal(r.headers['content-type'], golden.headers['content-type'], `${path}: Content-Type of the real server`)
      const doc = obj(r.json)
      t.equal(doc.kind, 'APIGroupDiscoveryList')
      t.equal(doc.apiVersion, 'apidiscovery.k8s.io/v2')
      const goldenItems = arr(obj(JSON.parse(golden.body)).items).map(obj)
      for (const item of arr(doc.items).map(obj)) {
        const name = obj(item.metadata).name
        const gItem = goldenItems.find(g => obj(g.metadata).name === name)
        t.ok(gItem, `group ${String(name)} exists in the real list`)
        for (const v of arr(item.versions).map(obj)) {
          const gv = arr(obj(gItem).versions).map(obj).find(x => x.version === v.version)
          for (const res of arr(v.resources).map(obj)) {
            const gr = obj(arr(obj(gv).resources).map(obj).find(x => x.resource === res.resource))
            const { subresources: gSubs, ...gRest } = gr
            const { subresources: subs, ...rest } = res
            t.same(rest, gRest, `${String(name)}/${String(res.resource)} as the real entry`)
            for (const s of Array.isArray(subs) ? subs : []) t.same(s, arr(gSubs).map(obj).find(x => x.subresource === obj(s).subresource))
          }
        }
      }
    }
    const coreNames = arr(obj(arr(obj((await raw(server, 'GET', '/api', { accept })).json).items)[0]).versions).flatMap(v => arr(obj(v).resources).map(r => obj(r).resource))
    t.same(coreNames, ['configmaps', 'events', 'namespaces', 'nodes', 'pods', 'services'])
  })

  t.test('OpenAPI v3 is served from the golden documents', async t => {
    const idx = await raw(server, 'GET', '/openapi/v3')
    t.equal(idx.headers['content-type'], 'text/plain; charset=utf-8', 'index Content-Type as the real server')
    const paths = obj(obj(idx.json).paths)
    t.same(Object.keys(paths).sort(), ['api/v1', 'apis/apiextensions.k8s.io/v1', 'apis/coordination.k8s.io/v1', 'apis/discovery.k8s.io/v1', 'apis/events.k8s.io/v1'])
    const url = String(obj(paths['api/v1']).serverRelativeURL)
    const doc = await raw(server, 'GET', url)
    t.equal(doc.status, 200)
    t.equal(doc.text, readGoldenFile(dir, 'openapi-v3-api-v1.json'))
  })

  t.test('Service creation: defaulting as the real server (service-created-get.txt)', async t => {
    const golden = obj(readGoldenJson(dir, 'service-created-get.txt'))
    const meta = obj(golden.metadata)
    const annotations = obj(meta.annotations)
    const applied = obj(JSON.parse(String(annotations['kubectl.kubernetes.io/last-applied-configuration'])))
    const body = { ...applied, metadata: { ...obj(applied.metadata), annotations } }
    const created = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body })
    t.equal(created.status, 201)
    const got = await raw(server, 'GET', '/api/v1/namespaces/default/services/ingress')
    t.equal(JSON.stringify(mask(got.json)), JSON.stringify(mask(golden)), 'same object, same key order, volatile values aside')
    const spec = obj(obj(got.json).spec)
    t.match(String(spec.clusterIP), /^198\.18\.\d+\.\d+$/)
    const np = Number(obj(arr(spec.ports)[0]).nodePort)
    t.ok(np >= 30000 && np <= 32767, `nodePort ${np} in 30000-32767`)
    t.equal(obj(obj(got.json).metadata).resourceVersion, obj(obj(created.json).metadata).resourceVersion)
  })

  t.test('services table (services-table.txt)', async t => {
    const golden = obj(readGoldenJson(dir, 'services-table.txt'))
    const accept = 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json'
    const r = await raw(server, 'GET', '/api/v1/namespaces/default/services?limit=500', { accept })
    t.equal(r.status, 200)
    const table = obj(r.json)
    t.equal(table.kind, 'Table')
    t.equal(table.apiVersion, 'meta.k8s.io/v1')
    t.same(table.columnDefinitions, golden.columnDefinitions, 'exactly the real column definitions')
    const rows = arr(table.rows).map(obj)
    const byName = (rs: Obj[], n: string): Obj => obj(rs.find(x => arr(x.cells)[0] === n))
    const ingress = arr(byName(rows, 'ingress').cells)
    const goldenIngress = arr(byName(arr(golden.rows).map(obj), 'ingress').cells)
    const svc = obj(obj((await raw(server, 'GET', '/api/v1/namespaces/default/services/ingress')).json).spec)
    t.same(ingress, ['ingress', 'LoadBalancer', svc.clusterIP, goldenIngress[3], `80:${String(obj(arr(svc.ports)[0]).nodePort)}/TCP`, ingress[5], goldenIngress[6]])
    t.equal(goldenIngress[3], '<pending>')
    t.match(String(ingress[5]), /^\d+s$/, 'AGE like the real server prints a young object')
    const kube = arr(byName(rows, 'kubernetes').cells)
    const goldenKube = arr(byName(arr(golden.rows).map(obj), 'kubernetes').cells)
    t.same([...kube.slice(0, 5), kube[6]], [...goldenKube.slice(0, 5), goldenKube[6]], 'the kubernetes Service row as the real one')
    const rowObj = obj(byName(rows, 'ingress').object)
    t.equal(rowObj.kind, 'PartialObjectMetadata', 'includeObject defaults to Metadata')
    t.equal(rowObj.apiVersion, 'meta.k8s.io/v1')
    const none = obj((await raw(server, 'GET', '/api/v1/namespaces/default/services?includeObject=None', { accept })).json)
    t.equal(obj(arr(none.rows)[0]).object, null, 'includeObject=None leaves the object out')
    const full = obj((await raw(server, 'GET', '/api/v1/namespaces/default/services?includeObject=Object', { accept })).json)
    t.equal(obj(obj(arr(full.rows)[0]).object).kind, 'Service', 'includeObject=Object embeds the object')
  })

  t.test('a plain list (services-list.txt)', async t => {
    const golden = obj(readGoldenJson(dir, 'services-list.txt'))
    const r = obj((await raw(server, 'GET', '/api/v1/namespaces/default/services')).json)
    t.same(Object.keys(r), Object.keys(golden))
    t.equal(r.kind, 'ServiceList')
    for (const item of arr(r.items).map(obj)) t.same(Object.keys(item), ['metadata', 'spec', 'status'], 'list items carry no kind/apiVersion')
  })

  t.test('Status errors as the real server', async t => {
    const r404 = await raw(server, 'GET', '/api/v1/namespaces/default/services/nope')
    t.equal(r404.status, 404)
    t.same(r404.json, readGoldenJson(dir, 'error-404.txt'))
    for (const file of ['error-409-alreadyexists.txt', 'error-409-conflict.txt', 'error-422-invalid.txt']) {
      const req = readGoldenRequest(dir, file)
      const golden = readGolden(dir, file)
      const r = await raw(server, req.method, req.path, { body: req.body })
      t.equal(r.status, golden.status, `${file}: status code`)
      t.same(r.json, JSON.parse(golden.body), `${file}: the same Status object`)
    }
  })

  t.test('status subresource semantics', async t => {
    for (const file of ['status-merge-patch.txt', 'status-patch-spec-ignored.txt', 'main-put-status-ignored.txt']) {
      const req = readGoldenRequest(dir, file)
      const before = obj((await raw(server, 'GET', '/api/v1/namespaces/default/services/ingress')).json)
      const r = await raw(server, req.method, req.path, { body: req.body, contentType: 'application/merge-patch+json' })
      t.equal(r.status, 200, `${file}: 200`)
      const golden = obj(JSON.parse(readGolden(dir, file).body))
      const got = obj(r.json)
      t.equal(JSON.stringify(mask(got)), JSON.stringify(mask(golden)), `${file}: same object as the real server's answer`)
      if (file === 'main-put-status-ignored.txt') {
        t.equal(obj(got.metadata).resourceVersion, obj(before.metadata).resourceVersion, 'a write that changes nothing keeps the resourceVersion')
      } else {
        t.ok(Number(obj(got.metadata).resourceVersion) > Number(obj(before.metadata).resourceVersion), 'a status change bumps the resourceVersion')
      }
    }
  })

  t.test('other kinds as created by the real server', async t => {
    for (const file of ['node-create.txt', 'endpointslice-create.txt', 'lease-create.txt', 'event-create.txt']) {
      const req = readGoldenRequest(dir, file)
      const r = await raw(server, req.method, req.path, { body: req.body })
      t.equal(r.status, 201, `${file}: 201 Created`)
      t.equal(JSON.stringify(mask(r.json)), JSON.stringify(mask(JSON.parse(readGolden(dir, file).body))), `${file}: same object, same key order`)
    }
  })

  t.test('watch stream (watch-stream.txt) and 410s', async t => {
    const rv = String(obj(obj((await raw(server, 'GET', '/api/v1/namespaces/default/services/ingress')).json).metadata).resourceVersion)
    const w = watchStream(server, `/api/v1/namespaces/default/services?watch=true&resourceVersion=${rv}&allowWatchBookmarks=true`)
    t.teardown(() => w.close())
    t.equal(await w.status, 200)
    await raw(server, 'PATCH', '/api/v1/namespaces/default/services/ingress/status', { body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.243' }] } } }, contentType: 'application/merge-patch+json' })
    await raw(server, 'DELETE', '/api/v1/namespaces/default/services/ingress')
    const evs = await w.next(2)
    t.same(evs.map(e => e.type), ['MODIFIED', 'DELETED'])
    const goldenLines = readGoldenFile(dir, 'watch-stream.txt').split('\n').filter(l => l.startsWith('{')).map(l => obj(JSON.parse(l)))
    t.same(evs.map(e => Object.keys(e)), goldenLines.map(e => Object.keys(e)), 'events are {type, object}')
    t.same(Object.keys(evs[0]?.object ?? {}), Object.keys(obj(goldenLines[0]?.object)), 'event objects are full Services')
    const rvs = evs.map(e => Number(obj(e.object.metadata).resourceVersion))
    t.ok((rvs[1] ?? 0) > (rvs[0] ?? 0), 'DELETED carries the resourceVersion of the deletion')

    server.compact()
    const old = await raw(server, 'GET', `/api/v1/namespaces/default/services?resourceVersion=${rv}&resourceVersionMatch=Exact`)
    t.equal(old.status, 410)
    t.same(old.json, readGoldenJson(dir, 'error-410-list-too-old.txt'), 'list at a compacted resourceVersion: the real 410')
    const tooOld = watchStream(server, `/api/v1/namespaces/default/services?watch=true&resourceVersion=${rv}`)
    t.teardown(() => tooOld.close())
    t.equal(await tooOld.status, 200, 'a too-old watch still answers 200')
    const [err] = await tooOld.next(1)
    t.equal(err?.type, 'ERROR')
    t.match(err?.object, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'Expired', code: 410 })
    await tooOld.ended
    t.pass('the server ends the stream after the ERROR event')
  })

  t.test('strict decoding as the real server (the *-400 and *-warning captures)', async t => {
    const replay = async (file: string): Promise<{ got: RawResponse, golden: GoldenResponse }> => {
      const req = readGoldenRequest(dir, file)
      const got = await raw(server, req.method, req.path, { body: req.body, contentType: req.contentType })
      return { got, golden: readGolden(dir, file) }
    }
    // MicroTime takes exactly six fractional digits: a create with three (toISOString()) is a 400.
    for (const file of ['lease-microtime-400.txt', 'event-eventtime-400.txt']) {
      const { got, golden } = await replay(file)
      t.equal(got.status, golden.status, `${file}: status code`)
      t.equal(got.headers['content-type'], golden.headers['content-type'], `${file}: Content-Type`)
      t.equal(JSON.stringify(got.json), JSON.stringify(JSON.parse(golden.body)), `${file}: the same Status, message and key order included`)
    }

    // In a merge patch the same mistake is the patcher's 422 on the field `patch`, quoting the patched document.
    const lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'golden-us' }, spec: { holderIdentity: 'node1', leaseDurationSeconds: 3, acquireTime: '2026-11-30T01:12:57.420000Z', renewTime: '2026-11-30T01:12:57.420000Z' } }
    t.equal((await raw(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases', { body: lease })).status, 201, 'the Lease the capture patched')
    const { got, golden } = await replay('lease-patch-microtime-400.txt')
    t.equal(got.status, golden.status, 'lease-patch-microtime-400.txt: status code')
    const status = obj(got.json)
    const goldenStatus = obj(JSON.parse(golden.body))
    t.same(Object.keys(status), Object.keys(goldenStatus), 'the Status has the same keys in the same order')
    for (const k of ['kind', 'apiVersion', 'metadata', 'status', 'reason', 'code'] as const) t.same(status[k], goldenStatus[k], `Status ${k}`)
    const split = (message: unknown): { quoted: string, doc: unknown, detail: string } => {
      const m = /^ "" is invalid: patch: Invalid value: ("(?:[^"\\]|\\.)*"): (.*)$/s.exec(String(message))
      if (m === null) throw new Error(`not a patch error: ${String(message)}`)
      const quoted = m[1] ?? ''
      const text = String(JSON.parse(quoted))
      return { quoted, doc: JSON.parse(text), detail: m[2] ?? '' }
    }
    const ours = split(status.message)
    const theirs = split(goldenStatus.message)
    t.equal(ours.detail, theirs.detail, 'the same decoding error after the value')
    t.equal(JSON.stringify(mask(ours.doc)), JSON.stringify(mask(theirs.doc)), 'the patched document as the real server writes it: top level and spec sorted, metadata in Go order (managedFields aside)')
    t.equal(String(JSON.parse(ours.quoted)), JSON.stringify(JSON.parse(String(JSON.parse(ours.quoted)))), 'compact JSON')
    const causes = arr(obj(status.details).causes).map(obj)
    const goldenCauses = arr(obj(goldenStatus.details).causes).map(obj)
    t.same(Object.keys(obj(status.details)), Object.keys(obj(goldenStatus.details)), 'details carry the causes only')
    t.same(causes.map(c => Object.keys(c)), goldenCauses.map(c => Object.keys(c)))
    t.same(causes.map(c => [c.reason, c.field]), goldenCauses.map(c => [c.reason, c.field]))
    t.equal(causes[0]?.message, String(status.message).slice(' "" is invalid: patch: '.length), 'the cause repeats the message after the field')
    t.equal(obj(obj((await raw(server, 'GET', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases/golden-us')).json).spec).renewTime, '2026-11-30T01:12:57.420000Z', 'nothing was written')

    // Accepted with a Warning header: the unknown field is dropped, the odd loadBalancerIP stored.
    for (const file of ['unknown-field-warning.txt', 'loadbalancerip-invalid-warning.txt']) {
      const { got, golden } = await replay(file)
      t.equal(got.status, golden.status, `${file}: status code`)
      t.equal(got.headers.warning, golden.headers.warning, `${file}: the Warning header, byte for byte`)
      t.equal(JSON.stringify(mask(got.json)), JSON.stringify(mask(JSON.parse(golden.body))), `${file}: same object, same key order`)
    }
  })
})
