// The pure parts of the stand-in: patch formats, selectors, AGE formatting, service defaulting order.
import t from 'tap'
import { goldenDir } from './golden.js'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { isObject, type Json, type JsonObject, objectAt, parseJson } from './json.js'
import { jsonPatch, mergePatch, strategicMergePatch } from './patch.js'
import { normalizeTime, SchemaIndex } from './schema.js'
import { goQuote, goSprintV, warningHeader } from './gofmt.js'
import { formatGoTime, parseGoTime, RFC3339, RFC3339_MICRO, type TimeLayout } from './gotime.js'
import { addrString, parseAddr, parseIPSloppy } from './ip.js'
import { matchesFields, matchesLabels, parseFieldSelector, parseLabelSelector } from './selectors.js'
import { humanDuration } from './tables.js'

function at (o: Json, key: string): JsonObject {
  const v = isObject(o) ? objectAt(o, key) : undefined
  if (v === undefined) throw new Error(`no object at ${key}`)
  return v
}

function schemas (): SchemaIndex {
  const index = new SchemaIndex()
  index.add(parseJson(readFileSync(join(goldenDir(), 'openapi-v3-api-v1.json'), 'utf8')))
  return index
}

t.test('JSON merge patch (RFC 7386)', async t => {
  t.same(mergePatch({ a: 1, b: { c: 2, d: 3 } }, { b: { c: null, e: 4 }, f: [1] }), { a: 1, b: { d: 3, e: 4 }, f: [1] })
  t.same(mergePatch({ l: [1, 2, 3] }, { l: [4] }), { l: [4] }, 'lists are replaced')
})

t.test('JSON patch (RFC 6902)', async t => {
  const doc = { metadata: { labels: { a: 'x' } }, spec: { ports: [{ port: 80 }] } }
  t.same(jsonPatch(doc, [
    { op: 'add', path: '/metadata/labels/b~1c', value: 'y' },
    { op: 'add', path: '/spec/ports/-', value: { port: 443 } },
    { op: 'replace', path: '/spec/ports/0/port', value: 81 },
    { op: 'copy', from: '/metadata/labels/a', path: '/metadata/labels/d' },
    { op: 'move', from: '/metadata/labels/d', path: '/metadata/labels/e' },
    { op: 'remove', path: '/metadata/labels/a' },
    { op: 'test', path: '/spec/ports/1/port', value: 443 }
  ]), { metadata: { labels: { 'b/c': 'y', e: 'x' } }, spec: { ports: [{ port: 81 }, { port: 443 }] } })
  t.same(doc.metadata.labels, { a: 'x' }, 'the input is not modified')
  t.throws(() => jsonPatch(doc, [{ op: 'test', path: '/metadata/labels/a', value: 'nope' }]), { code: 422 })
  t.throws(() => jsonPatch(doc, [{ op: 'remove', path: '/spec/missing' }]), { code: 422 })
  t.throws(() => jsonPatch(doc, [{ op: 'replace', path: '/spec/ports/5', value: 1 }]), { code: 422 })
})

t.test('strategic merge patch follows the OpenAPI patch metadata', async t => {
  const index = schemas()
  const svcSchema = index.forKind('', 'v1', 'Service')
  t.ok(svcSchema, 'the Service schema is in the golden OpenAPI document')
  const svc: JsonObject = {
    metadata: { name: 's', labels: { a: '1', b: '2' }, finalizers: ['x', 'y'] },
    spec: { ports: [{ name: 'http', port: 80, protocol: 'TCP', nodePort: 30080 }, { name: 'dns', port: 53, protocol: 'UDP' }], externalIPs: ['192.0.2.1'], selector: { app: 'a' } }
  }
  // What kubectl apply sends when a port changes, one is added, one is dropped and a label goes away.
  const patch: JsonObject = {
    metadata: { labels: { b: null, c: '3' }, '$deleteFromPrimitiveList/finalizers': ['x'] },
    spec: {
      '$setElementOrder/ports': [{ port: 443 }, { port: 80 }],
      ports: [{ port: 443, name: 'https', protocol: 'TCP' }, { port: 80, targetPort: 8080 }, { $patch: 'delete', port: 53 }],
      externalIPs: ['192.0.2.2']
    }
  }
  const out = strategicMergePatch(svc, patch, svcSchema, index)
  t.same(out, {
    metadata: { name: 's', labels: { a: '1', c: '3' }, finalizers: ['y'] },
    spec: {
      ports: [{ port: 443, name: 'https', protocol: 'TCP' }, { name: 'http', port: 80, protocol: 'TCP', nodePort: 30080, targetPort: 8080 }],
      externalIPs: ['192.0.2.2'],
      selector: { app: 'a' }
    }
  }, 'ports merge by port, $patch delete, $setElementOrder, primitive-list deletion, null deletes, atomic lists replace')
  // A port only the server has (added by someone else) keeps its place relative to the others.
  const withExtra: JsonObject = { spec: { ports: [{ port: 80 }, { port: 8080, name: 'extra' }, { port: 53 }] } }
  const reordered = strategicMergePatch(withExtra, { spec: { '$setElementOrder/ports': [{ port: 53 }, { port: 80 }, { port: 443 }], ports: [{ port: 443 }] } }, svcSchema, index)
  // mergeSortedSlice: 8080 sat before 53 on the server, so it stays in front of it.
  t.same(at(reordered, 'spec').ports, [{ port: 8080, name: 'extra' }, { port: 53 }, { port: 80 }, { port: 443 }], 'server-only elements interleaved by server position')
  const replaced = strategicMergePatch(svc, { spec: { ports: [{ $patch: 'replace' }, { port: 1 }] } }, svcSchema, index)
  t.same(at(replaced, 'spec').ports, [{ port: 1 }], '$patch: replace in a list replaces it')
  const retained = strategicMergePatch({ spec: { a: 1, b: 2, c: 3 } }, { spec: { $retainKeys: ['a', 'c'], c: 4 } }, undefined, index)
  t.same(retained, { spec: { a: 1, c: 4 } }, '$retainKeys drops the keys not listed')
  const mapReplace = strategicMergePatch(svc, { spec: { selector: { $patch: 'replace', app: 'b' } } }, svcSchema, index)
  t.same(at(mapReplace, 'spec').selector, { app: 'b' }, '$patch: replace in a map')
  const finalizers = strategicMergePatch(svc, { metadata: { finalizers: ['z', 'x'] } }, svcSchema, index)
  t.same(at(finalizers, 'metadata').finalizers, ['x', 'y', 'z'], 'a merge list of primitives is a union')
  const nodeSchema = index.forKind('', 'v1', 'Node')
  const node = strategicMergePatch({ status: { conditions: [{ type: 'Ready', status: 'True' }, { type: 'DiskPressure', status: 'False' }] } },
    { status: { conditions: [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }] } }, nodeSchema, index)
  t.same(at(node, 'status').conditions, [{ type: 'Ready', status: 'False', reason: 'KubeletNotReady' }, { type: 'DiskPressure', status: 'False' }], 'node conditions merge by type')
})

t.test('label selectors', async t => {
  const labels = { app: 'web', tier: 'fe', 'example.com/x': 'y' }
  const cases: Array<[string, boolean]> = [
    ['', true], ['app=web', true], ['app==web', true], ['app!=web', false], ['app!=db', true], ['missing!=x', true],
    ['app in (web,db)', true], ['app notin (web)', false], ['tier', true], ['!tier', false], ['!missing', true],
    ['app=web,tier=fe', true], ['app=web,tier=be', false], ['example.com/x=y', true], ['app in ( db , web )', true]
  ]
  for (const [sel, want] of cases) t.equal(matchesLabels(parseLabelSelector(sel), labels), want, `"${sel}"`)
  t.throws(() => parseLabelSelector('app=we b'), { code: 400 })
  t.throws(() => parseLabelSelector('=x'), { code: 400 })
})

t.test('field selectors', async t => {
  const fields = { 'metadata.name': 'a', 'metadata.namespace': 'default' }
  t.ok(matchesFields(parseFieldSelector('metadata.name=a,metadata.namespace==default', ['metadata.name', 'metadata.namespace']), fields))
  t.notOk(matchesFields(parseFieldSelector('metadata.name!=a', ['metadata.name']), fields))
  t.throws(() => parseFieldSelector('spec.x=1', ['metadata.name']), { code: 400, message: 'field label not supported: spec.x' })
})

t.test('AGE as apimachinery HumanDuration prints it', async t => {
  const s = 1000
  const cases: Array<[number, string]> = [[-5 * s, '<invalid>'], [-0.5 * s, '0s'], [0, '0s'], [59 * s, '59s'], [119 * s, '119s'], [120 * s, '2m'],
    [125 * s, '2m5s'], [10 * 60 * s, '10m'], [179 * 60 * s, '179m'], [3 * 3600 * s, '3h'], [3 * 3600 * s + 60 * s, '3h1m'], [8 * 3600 * s, '8h'],
    [47 * 3600 * s, '47h'], [48 * 3600 * s, '2d'], [50 * 3600 * s, '2d2h'], [8 * 86400 * s, '8d'], [800 * 86400 * s, '2y70d'], [9 * 365 * 86400 * s, '9y']]
  for (const [ms, want] of cases) t.equal(humanDuration(ms), want, `${ms} ms`)
})

t.test('timestamps are normalised as Go re-marshals metav1.Time and MicroTime', async t => {
  t.equal(normalizeTime('2026-11-22T01:02:03.456Z', 'time'), '2026-11-22T01:02:03Z', 'Time keeps whole seconds')
  t.equal(normalizeTime('2026-11-22T01:02:03Z', 'time'), '2026-11-22T01:02:03Z', 'Time needs no fraction')
  t.equal(normalizeTime('2026-11-22T01:02:03.456000Z', 'micro'), '2026-11-22T01:02:03.456000Z', 'MicroTime has six digits')
  t.equal(normalizeTime('2026-11-22T03:02:03,123456+02:00', 'micro'), '2026-11-22T01:02:03.123456Z', 'converted to UTC')
  t.equal(normalizeTime('0001-01-01T00:00:00Z', 'time'), null, 'the zero time is null')
  t.throws(() => normalizeTime('yesterday', 'time'), { message: 'parsing time "yesterday" as "2006-01-02T15:04:05Z07:00": cannot parse "yesterday" as "2006"' })
})

t.test('Go\'s time.Parse with its messages (checked against Go: src/time/format.go)', async t => {
  const cases: Array<[TimeLayout, string, string]> = [
    [RFC3339_MICRO, '2026-11-30T01:12:57.420Z', 'parsing time "2026-11-30T01:12:57.420Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse ".420Z" as ".000000"'],
    [RFC3339_MICRO, '2026-11-30T01:12:58Z', 'parsing time "2026-11-30T01:12:58Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "Z" as ".000000"'],
    [RFC3339_MICRO, '2026-11-30T01:12:57.123456789Z', 'parsing time "2026-11-30T01:12:57.123456789Z" as "2006-01-02T15:04:05.000000Z07:00": cannot parse "789Z" as "Z07:00"'],
    [RFC3339, '', 'parsing time "" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "2006"'],
    [RFC3339, '2026-13-30T01:12:57Z', 'parsing time "2026-13-30T01:12:57Z": month out of range'],
    [RFC3339, '2023-02-29T00:00:00Z', 'parsing time "2023-02-29T00:00:00Z": day out of range'],
    [RFC3339, '2026-11-30T01:12:60Z', 'parsing time "2026-11-30T01:12:60Z": second out of range'],
    [RFC3339, '2026-11-30T01:12:57Zjunk', 'parsing time "2026-11-30T01:12:57Zjunk": extra text: "junk"'],
    [RFC3339, '2026-11-30t01:12:57Z', 'parsing time "2026-11-30t01:12:57Z" as "2006-01-02T15:04:05Z07:00": cannot parse "t01:12:57Z" as "T"'],
    [RFC3339, '2026-11-30T01:12:57+25:00', 'parsing time "2026-11-30T01:12:57+25:00": time zone offset hour out of range'],
    [RFC3339, '2026-11-30T01:12:57.5éZ', 'parsing time "2026-11-30T01:12:57.5\\xc3\\xa9Z" as "2006-01-02T15:04:05Z07:00": cannot parse "\\xc3\\xa9Z" as "Z07:00"']
  ]
  for (const [layout, value, message] of cases) t.throws(() => parseGoTime(layout, value), { message }, value)
  t.equal(formatGoTime(RFC3339, parseGoTime(RFC3339, '2026-11-30T1:12:57Z')), '2026-11-30T01:12:57Z', 'a one-digit hour is accepted')
  t.equal(formatGoTime(RFC3339, parseGoTime(RFC3339, '0000-01-01T00:00:00+01:00')), '-0001-12-31T23:00:00Z')
  t.equal(formatGoTime(RFC3339_MICRO, parseGoTime(RFC3339_MICRO, '2026-11-30T01:12:57.+12345Z')), '2026-11-30T01:12:57.012345Z', 'Go\'s atoi takes a sign')
})

t.test('netip.ParseAddr and Addr.String (checked against Go: src/net/netip/netip.go)', async t => {
  const errors: Array<[string, string]> = [
    ['not-an-ip', 'ParseAddr("not-an-ip"): unable to parse IP'],
    ['fe80::1%', 'ParseAddr("fe80::1%"): zone must be a non-empty string'],
    ['%eth0', 'ParseAddr("%eth0"): missing IPv6 address'],
    ['1.2.3.4%eth0', 'ParseAddr("1.2.3.4%eth0"): unexpected character (at "%eth0")'],
    ['010.1.1.1', 'ParseAddr("010.1.1.1"): IPv4 field has octet with leading zero'],
    ['1..2.3', 'ParseAddr("1..2.3"): IPv4 field must have at least one digit (at ".2.3")'],
    ['1::2::3', 'ParseAddr("1::2::3"): multiple :: in address (at ":3")'],
    ['::1.2.3', 'ParseAddr("::1.2.3"): ParseAddr("1.2.3"): IPv4 address too short (at "1.2.3")'],
    ['1:2:3:4:5:6:7:1.2.3.4', 'ParseAddr("1:2:3:4:5:6:7:1.2.3.4"): embedded IPv4 address must replace the final 2 fields of the address (at "1.2.3.4")'],
    ['a\nb', 'ParseAddr("a\\nb"): unable to parse IP']
  ]
  for (const [s, message] of errors) t.same(parseAddr(s), { ok: false, error: message }, s)
  const canonical: Array<[string, string]> = [
    ['fe80::1%eth0', 'fe80::1%eth0'], ['FE80::1%eth0', 'fe80::1%eth0'], ['::ffff:102:304', '::ffff:1.2.3.4'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], ['0:0:1:0:0:1:0:0', '::1:0:0:1:0:0'], ['1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:102:304'], ['::', '::']
  ]
  for (const [s, text] of canonical) {
    const r = parseAddr(s)
    t.equal(r.ok ? addrString(r.addr) : r.error, text, s)
  }
  t.equal(parseIPSloppy('fe80::1%eth0'), 0, 'the validators take no zone')
  t.equal(parseIPSloppy('010.001.1.1'), 4, 'but IPv4 octets with leading zeros')
  t.equal(parseIPSloppy('::ffff:010.1.1.1'), 6)
})

t.test('Go formatting: strconv.Quote, %+v of a map, the Warning header', async t => {
  t.equal(goQuote('a"b\\c\t\n\x7f\u2028é中\u{1F600}\x01\u00a0\u200b'), '"a\\"b\\\\c\\t\\n\\x7f\\u2028é中😀\\x01\\u00a0\\u200b"')
  t.equal(goSprintV({ b: 3, a: 'x y', c: ['q', null, 1.5, 1234567.5, true], d: { z: 1e-5, y: 0.0001 } }), 'map[a:x y b:3 c:[q <nil> 1.5 1.2345675e+06 true] d:map[y:0.0001 z:1e-05]]')
  t.equal(warningHeader('unknown field "spec.x"'), '299 - "unknown field \\"spec.x\\""')
  t.equal(warningHeader('a\nb'), undefined, 'a text with control characters is not sent')
})
