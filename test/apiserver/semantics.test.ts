// Registry semantics beyond plain CRUD: dryRun, create-on-update, finalizers, namespace deletion,
// field validation modes, type changes of a Service, an IPv6 listener.
import t from 'tap'
import { startApiServer } from './server.js'
import { raw, watchStream } from './test-client.js'

type Obj = Record<string, unknown>
function obj (v: unknown): Obj {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`expected an object, got ${JSON.stringify(v)}`)
  return Object.fromEntries(Object.entries(v))
}
const meta = (v: unknown): Obj => obj(obj(v).metadata)
const spec = (v: unknown): Obj => obj(obj(v).spec)
function firstPort (s: Obj): Obj {
  const ports = s.ports
  if (!Array.isArray(ports)) throw new Error('no ports')
  return obj(ports[0])
}

t.test('registry semantics', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())

  t.test('dryRun=All validates and answers but stores nothing', async t => {
    const rv = server.resourceVersion()
    const r = await raw(server, 'POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { body: { metadata: { name: 'dry' }, data: { a: 'b' } } })
    t.equal(r.status, 201)
    t.equal(meta(r.json).name, 'dry')
    t.equal((await raw(server, 'GET', '/api/v1/namespaces/default/configmaps/dry')).status, 404)
    t.equal(server.resourceVersion(), rv, 'no write happened')
    const bad = await raw(server, 'POST', '/api/v1/namespaces/default/configmaps?dryRun=All', { body: { metadata: { name: 'Bad_Name' } } })
    t.equal(bad.status, 422)
  })

  t.test('PUT creates a Lease (create-on-update) but not a Service', async t => {
    const lease = await raw(server, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases/l1', { body: { metadata: { name: 'l1' }, spec: { holderIdentity: 'n1' } } })
    t.equal(lease.status, 201)
    const svc = await raw(server, 'PUT', '/api/v1/namespaces/default/services/s1', { body: { metadata: { name: 's1' }, spec: { ports: [{ port: 80 }] } } })
    t.equal(svc.status, 404)
    const mismatch = await raw(server, 'PUT', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases/l1', { body: { metadata: { name: 'other' } } })
    t.equal(mismatch.status, 400)
    t.match(mismatch.json, { reason: 'BadRequest', message: 'the name of the object (other) does not match the name on the URL (l1)' })
  })

  t.test('finalizers hold a deleted object until removed', async t => {
    await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', { body: { metadata: { name: 'held', finalizers: ['l2lb.dev/x'] } } })
    const del = await raw(server, 'DELETE', '/api/v1/namespaces/default/configmaps/held')
    t.equal(del.status, 202)
    t.ok(meta(del.json).deletionTimestamp, 'marked for deletion')
    t.equal((await raw(server, 'GET', '/api/v1/namespaces/default/configmaps/held')).status, 200, 'still there')
    const released = await raw(server, 'PATCH', '/api/v1/namespaces/default/configmaps/held', { body: { metadata: { finalizers: null } }, contentType: 'application/merge-patch+json' })
    t.equal(released.status, 200)
    t.equal((await raw(server, 'GET', '/api/v1/namespaces/default/configmaps/held')).status, 404, 'gone once the last finalizer is removed')
  })

  t.test('deleting a namespace deletes its content, with watch events', async t => {
    t.equal((await raw(server, 'POST', '/api/v1/namespaces', { body: { metadata: { name: 'tmp' } } })).status, 201)
    await raw(server, 'POST', '/api/v1/namespaces/tmp/configmaps', { body: { metadata: { name: 'c' } } })
    const w = watchStream(server, `/api/v1/configmaps?watch=1&resourceVersion=${server.resourceVersion()}`)
    t.teardown(() => w.close())
    const del = await raw(server, 'DELETE', '/api/v1/namespaces/tmp')
    t.equal(del.status, 200)
    t.equal(obj(obj(del.json).status).phase, 'Terminating')
    const [ev] = await w.next(1)
    t.equal(ev?.type, 'DELETED')
    t.equal((await raw(server, 'GET', '/api/v1/namespaces/tmp')).status, 404)
    t.equal((await raw(server, 'POST', '/api/v1/namespaces/tmp/configmaps', { body: { metadata: { name: 'c' } } })).status, 404)
  })

  t.test('fieldValidation: Strict refuses, Warn warns, Ignore drops; unknown fields are never stored', async t => {
    const body = { metadata: { name: 'fv' }, data: { a: 'b' }, bogus: 1 }
    const strict = await raw(server, 'POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Strict', { body })
    t.equal(strict.status, 400)
    t.match(strict.json, { reason: 'BadRequest', message: 'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"' })
    const warn = await raw(server, 'POST', '/api/v1/namespaces/default/configmaps?fieldValidation=Warn', { body })
    t.equal(warn.status, 201)
    t.equal(warn.headers.warning, '299 - "unknown field \\"bogus\\""')
    t.notOk('bogus' in obj(warn.json), 'dropped')
    const typed = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body: { metadata: { name: 'typed' }, spec: { ports: [{ port: '80' }] } } })
    t.equal(typed.status, 400, 'a string where an int32 belongs is a decoding error')
  })

  t.test('loadBalancerIP is only warned about, as by the real server; status ingress needs a LoadBalancer', async t => {
    const r = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body: { metadata: { name: 'lbip' }, spec: { type: 'LoadBalancer', loadBalancerIP: 'not-an-ip', ports: [{ port: 80 }] } } })
    t.equal(r.status, 201)
    t.equal(r.headers.warning, '299 - "spec.loadBalancerIP: IP address was accepted, but will be invalid in a future Kubernetes release: ParseAddr(\\"not-an-ip\\"): unable to parse IP"')
    const ok = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/lbip', { body: { spec: { loadBalancerIP: '192.0.2.240' } }, contentType: 'application/merge-patch+json' })
    t.equal(ok.status, 200)
    t.equal(ok.headers.warning, undefined, 'no warning for a valid address')
    const cip = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body: { metadata: { name: 'cip' }, spec: { ports: [{ port: 80 }] } } })
    t.equal(cip.status, 201)
    const st = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/cip/status', { body: { status: { loadBalancer: { ingress: [{ ip: '192.0.2.241' }] } } }, contentType: 'application/merge-patch+json' })
    t.equal(st.status, 422)
    t.match(st.json, { message: 'Service "cip" is invalid: status.loadBalancer.ingress: Forbidden: may only be used when `spec.type` is \'LoadBalancer\'' })
  })

  t.test('loadBalancerIP with an IPv6 zone is stored as given; the status refuses such an address', async t => {
    const body = { metadata: { name: 'zone' }, spec: { type: 'LoadBalancer', loadBalancerIP: 'fe80::1%eth0', ports: [{ port: 80 }] } }
    const r = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body })
    t.equal(r.status, 201, 'not a 500: the real server stores it')
    t.equal(obj(obj(r.json).spec).loadBalancerIP, 'fe80::1%eth0')
    // netip.ParseAddr takes the zone and writes the address back unchanged, so 1.32 has nothing to warn about.
    t.equal(r.headers.warning, undefined)
    const upper = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/zone', { body: { spec: { loadBalancerIP: 'FE80::1%eth0' } }, contentType: 'application/merge-patch+json' })
    t.equal(upper.status, 200)
    t.equal(upper.headers.warning, '299 - "spec.loadBalancerIP: IPv6 address \\"FE80::1%eth0\\" is not in RFC 5952 canonical format (\\"fe80::1%eth0\\"), which may cause controller apply-loops"')
    const mapped = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/zone', { body: { spec: { loadBalancerIP: '::ffff:192.0.2.1' } }, contentType: 'application/merge-patch+json' })
    t.equal(mapped.headers.warning, undefined, 'an IPv4-mapped address is canonical as ::ffff:a.b.c.d')
    const leading = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/zone', { body: { spec: { loadBalancerIP: '192.0.2.010' } }, contentType: 'application/merge-patch+json' })
    t.equal(leading.headers.warning, '299 - "spec.loadBalancerIP: IP address was accepted, but will be invalid in a future Kubernetes release: ParseAddr(\\"192.0.2.010\\"): IPv4 field has octet with leading zero"')
    const st = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/zone/status', { body: { status: { loadBalancer: { ingress: [{ ip: 'fe80::1%eth0', ipMode: 'VIP' }] } } }, contentType: 'application/merge-patch+json' })
    t.equal(st.status, 422, 'status ingress IPs are validated (ParseIPSloppy: no zones)')
    t.match(st.json, { details: { causes: [{ field: 'status.loadBalancer.ingress[0].ip', reason: 'FieldValueInvalid' }] } })
    const ext = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body: { metadata: { name: 'zone-ext' }, spec: { externalIPs: ['fe80::1%eth0'], ports: [{ port: 80 }] } } })
    t.equal(ext.status, 422, 'so are externalIPs')
  })

  t.test('timestamps come back in the server\'s canonical form; a bad one is a 400', async t => {
    const node = await raw(server, 'POST', '/api/v1/nodes', { body: { metadata: { name: 'ts' }, status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-11-22T01:02:03.456Z' }] } } })
    t.equal(node.status, 201)
    const conditions = obj(obj(node.json).status).conditions
    t.equal(Array.isArray(conditions) ? obj(conditions[0]).lastHeartbeatTime : undefined, '2026-11-22T01:02:03Z', 'Time in whole seconds')
    const lease = await raw(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases', { body: { metadata: { name: 'ts' }, spec: { holderIdentity: 'x', renewTime: '2026-11-22T03:02:03.456789+02:00' } } })
    t.equal(spec(lease.json).renewTime, '2026-11-22T01:02:03.456789Z', 'MicroTime: six digits, in UTC')
    const bad = await raw(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases', { body: { metadata: { name: 'ts2' }, spec: { renewTime: 'soon' } } })
    t.equal(bad.status, 400)
    t.equal(obj(bad.json).message, 'Lease in version "v1" cannot be handled as a Lease: parsing time "soon" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "soon" as "2006"')
    const millis = await raw(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases', { body: { metadata: { name: 'ts3' }, spec: { renewTime: new Date().toISOString() } } })
    t.equal(millis.status, 400, 'MicroTime takes exactly six fractional digits: toISOString()\'s three are refused')
    const time = await raw(server, 'POST', '/api/v1/nodes', { body: { metadata: { name: 'ts2' }, status: { conditions: [{ type: 'Ready', status: 'True', lastHeartbeatTime: '2026-11-22T01:02:03.4567891Z' }] } } })
    t.equal(time.status, 201, 'metav1.Time takes any fraction (RFC 3339)')
    const zero = await raw(server, 'POST', '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases', { body: { metadata: { name: 'ts4' }, spec: { renewTime: '0001-01-01T00:00:00.000000Z' } } })
    t.equal(spec(zero.json).renewTime, null, 'Go\'s zero time is written as null')
  })

  t.test('a timestamp that does not parse: 400 on create and update, 422 on the field `patch` for every patch type', async t => {
    const base = '/apis/coordination.k8s.io/v1/namespaces/l2lb-system/leases'
    const created = await raw(server, 'POST', base, { body: { metadata: { name: 'tp' }, spec: { holderIdentity: 'x', renewTime: '2026-11-22T01:02:03.000000Z' } } })
    t.equal(created.status, 201)
    const put = await raw(server, 'PUT', `${base}/tp`, { body: { ...obj(created.json), spec: { renewTime: '2026-11-22T01:02:04Z' } } })
    t.equal(put.status, 400)
    t.equal(obj(put.json).message, 'Lease in version "v1" cannot be handled as a Lease: parsing time "2026-11-22T01:02:04Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"')
    const detail = 'parsing time "2026-11-22T01:02:04Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"'
    const patches: Array<[string, unknown]> = [
      ['application/merge-patch+json', { spec: { renewTime: '2026-11-22T01:02:04Z' } }],
      ['application/strategic-merge-patch+json', { spec: { renewTime: '2026-11-22T01:02:04Z' } }],
      ['application/json-patch+json', [{ op: 'replace', path: '/spec/renewTime', value: '2026-11-22T01:02:04Z' }]]
    ]
    for (const [contentType, body] of patches) {
      const r = await raw(server, 'PATCH', `${base}/tp`, { body, contentType })
      t.equal(r.status, 422, `${contentType}: 422`)
      const status = obj(r.json)
      t.equal(status.reason, 'Invalid')
      t.match(status.message, /^ "" is invalid: patch: Invalid value: "/)
      t.ok(String(status.message).endsWith(`": ${detail}`), `${contentType}: the decoder's error after the patched document`)
      const causes = obj(status.details).causes
      t.same(Object.keys(obj(status.details)), ['causes'], 'details carry the cause only')
      t.match(causes, [{ reason: 'FieldValueInvalid', field: 'patch' }])
    }
    const smp = obj((await raw(server, 'PATCH', `${base}/tp`, { body: { spec: { renewTime: '2026-11-22T01:02:04Z' } }, contentType: 'application/strategic-merge-patch+json' })).json)
    t.match(smp.message, /Invalid value: "map\[apiVersion:coordination.k8s.io\/v1 kind:Lease metadata:map\[/, 'a strategic merge patch quotes the patched map as %+v prints it')
    const json = obj((await raw(server, 'PATCH', `${base}/tp`, { body: [{ op: 'replace', path: '/spec/renewTime', value: '2026-11-22T01:02:04Z' }], contentType: 'application/json-patch+json' })).json)
    t.match(json.message, /Invalid value: "\{\\"apiVersion\\":\\"coordination.k8s.io\/v1\\",\\"kind\\":\\"Lease\\",\\"metadata\\":\{\\"name\\":\\"tp\\",\\"namespace\\"/, 'a JSON patch quotes the patched document: opened objects sorted, the rest in Go order')
    const unchanged = obj(obj((await raw(server, 'GET', `${base}/tp`)).json).spec)
    t.equal(unchanged.renewTime, '2026-11-22T01:02:03.000000Z', 'nothing was written')
  })

  t.test('watch options: timeoutSeconds ends the stream, sendInitialEvents ends with the marked bookmark', async t => {
    const started = Date.now()
    const w = watchStream(server, '/api/v1/namespaces?watch=true&timeoutSeconds=1')
    t.teardown(() => w.close())
    const initial = await w.next(5)
    t.same(initial.map(e => e.type), ['ADDED', 'ADDED', 'ADDED', 'ADDED', 'ADDED'], 'no resourceVersion: the current state first')
    await w.ended
    const took = Date.now() - started
    t.ok(took >= 900 && took < 5000, `ended after ${took} ms`)
    const list = watchStream(server, '/api/v1/namespaces?watch=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true')
    t.teardown(() => list.close())
    const evs = await list.next(6)
    t.same(evs.map(e => e.type), ['ADDED', 'ADDED', 'ADDED', 'ADDED', 'ADDED', 'BOOKMARK'])
    t.match(evs[5]?.object, { kind: 'Namespace', metadata: { annotations: { 'k8s.io/initial-events-end': 'true' } } })
  })

  t.test('a Service changing type', async t => {
    const created = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body: { metadata: { name: 'flip' }, spec: { type: 'LoadBalancer', ports: [{ port: 80 }] } } })
    const ip = spec(created.json).clusterIP
    const toCluster = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/flip', { body: { spec: { type: 'ClusterIP' } }, contentType: 'application/merge-patch+json' })
    t.equal(toCluster.status, 200)
    const s = spec(toCluster.json)
    t.equal(s.clusterIP, ip, 'cluster IP kept')
    t.notOk('nodePort' in firstPort(s), 'node ports released')
    t.notOk('allocateLoadBalancerNodePorts' in s)
    t.notOk('externalTrafficPolicy' in s)
    const back = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/flip', { body: { spec: { type: 'LoadBalancer' } }, contentType: 'application/merge-patch+json' })
    t.ok(Number(firstPort(spec(back.json)).nodePort) >= 30000, 'node port allocated again')
    const changeIP = await raw(server, 'PATCH', '/api/v1/namespaces/default/services/flip', { body: { spec: { clusterIP: '198.18.9.9', clusterIPs: ['198.18.9.9'] } }, contentType: 'application/merge-patch+json' })
    t.equal(changeIP.status, 422, 'clusterIP may not change')
    const taken = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body: { metadata: { name: 'taken' }, spec: { clusterIP: String(ip), ports: [{ port: 80 }] } } })
    t.equal(taken.status, 422)
    t.match(obj(taken.json).message, /provided IP is already allocated/)
    const outside = await raw(server, 'POST', '/api/v1/namespaces/default/services', { body: { metadata: { name: 'outside' }, spec: { clusterIP: '203.0.113.1', ports: [{ port: 80 }] } } })
    t.equal(outside.status, 422)
    t.match(obj(outside.json).message, /not in the valid range/)
  })
})

t.test('listening on IPv6 loopback', async t => {
  const server = await startApiServer({ host: '::1' })
  t.teardown(() => server.close())
  t.match(server.url, /^https:\/\/\[::1\]:\d+$/)
  const r = await raw(server, 'GET', '/api/v1/namespaces/default')
  t.equal(r.status, 200, 'the certificate covers ::1')
})

t.test('an oversized body gets 413 and the server keeps serving', async t => {
  const server = await startApiServer()
  t.teardown(() => server.close())
  const big = { metadata: { name: 'big' }, data: { a: 'x'.repeat(3.5 * 1024 * 1024) } }
  const r = await raw(server, 'POST', '/api/v1/namespaces/default/configmaps', { body: big })
  t.equal(r.status, 413)
  t.equal((await raw(server, 'GET', '/api/v1/namespaces/default')).status, 200)
})
