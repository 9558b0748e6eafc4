// The recorded request script of one lab walk (walk.json beside this file) and the bookkeeping that lets it
// be replayed on a server other than the one it was recorded on: every value a server assigns (uid,
// resourceVersion, generated names, clusterIP(s), nodePort, OpenAPI document hashes, ETags) that a later
// request carries is written down as a reference to the earlier response it came from, and resolved from the
// same earlier response of the replay run.
import { isObject, type Json, type JsonObject } from '../json.js'

/** Where a value comes from: response `request` of this run, its `header`, or the JSON value at `pointer`. */
export interface ScriptRef {
  readonly request: number
  /** The value sits in `items[]` of a list: the item with this name (and namespace). */
  readonly item?: { readonly name: string, readonly namespace: string }
  /** RFC 6901 pointer into the response body (into the item when `item` is given). */
  readonly pointer?: string
  /** A response header instead (lower case). */
  readonly header?: string
}

export type Substitution =
  | { readonly in: 'body', readonly pointer: string, readonly ref: ScriptRef }
  | { readonly in: 'query', readonly param: string, readonly ref: ScriptRef }
  | { readonly in: 'path-segment', readonly index: number, readonly ref: ScriptRef }
  /** The path starts with a server-relative URL an earlier response named (OpenAPI `?hash=`). */
  | { readonly in: 'path-prefix', readonly prefix: string, readonly ref: ScriptRef }
  | { readonly in: 'header', readonly name: string, readonly ref: ScriptRef }

export interface ScriptRequest {
  /** Index in the script (0-based). */
  readonly n: number
  /** The program that sent it (kubectl, controller, speaker l2lb-node1, kube-roles, lab, refusals ...). */
  readonly who: string
  /** What the walk was doing at the time. */
  readonly step: string
  readonly method: string
  /** Path and query as sent. */
  readonly path: string
  /** Request headers as sent, without authorization, host, connection, content-length and accept-encoding. */
  readonly headers: Readonly<Record<string, string>>
  /** The body as UTF-8 text, or base64 when it was not text (a protobuf body). */
  readonly body?: string
  readonly bodyBase64?: string
  /** A watch: replayed with timeoutSeconds=1, compared by status and ERROR events. */
  readonly watch?: boolean
  readonly subs?: readonly Substitution[]
  /** What the stand-in answered when the walk was recorded (for reading the script; not compared). */
  readonly recorded: { readonly status: number, readonly reason?: string, readonly warnings?: readonly string[] }
}

export interface WalkScript {
  readonly description: string
  readonly recordedWith: Readonly<Record<string, string>>
  readonly requests: readonly ScriptRequest[]
}

/** One request/response pair as the recording proxy saw it. */
export interface Exchange {
  readonly who: string
  readonly step: string
  readonly method: string
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer | undefined
  readonly watch: boolean
  readonly status: number
  readonly responseHeaders: Readonly<Record<string, string | string[] | undefined>>
  /** Undefined for watches (their stream is not kept). */
  readonly responseBody: Buffer | undefined
}

export function escapePointer (key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1')
}

function unescapePointer (part: string): string {
  return part.replace(/~1/g, '/').replace(/~0/g, '~')
}

export function getPointer (doc: unknown, pointer: string): unknown {
  if (pointer === '') return doc
  let cur: unknown = doc
  for (const raw of pointer.slice(1).split('/')) {
    const key = unescapePointer(raw)
    if (Array.isArray(cur)) cur = cur[Number(key)]
    else if (isObject(cur)) cur = cur[key]
    else return undefined
  }
  return cur
}

export function setPointer (doc: Json, pointer: string, value: Json): void {
  const parts = pointer.slice(1).split('/').map(unescapePointer)
  const last = parts.pop()
  if (last === undefined) return
  let cur: Json | undefined = doc
  for (const key of parts) {
    if (Array.isArray(cur)) cur = cur[Number(key)]
    else if (isObject(cur)) cur = cur[key]
    else return
  }
  if (Array.isArray(cur)) cur[Number(last)] = value
  else if (isObject(cur)) cur[last] = value
}

export function parseJsonOrUndefined (buf: Buffer | string | undefined): Json | undefined {
  if (buf === undefined) return undefined
  try {
    const v: unknown = JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8'))
    return v as Json
  } catch {
    return undefined
  }
}

/** The fields whose values a server assigns and clients send back. */
const ASSIGNED = new Set(['uid', 'resourceVersion', 'clusterIP', 'clusterIPs', 'nodePort'])

/** A value some response carried, and where. */
interface Learned {
  readonly field: string
  readonly value: string
  /** The object it belongs to (name), '<list>' for a list's own resourceVersion, a path for an ETag. */
  readonly owner: string
  readonly ref: ScriptRef
}

function nameOf (o: JsonObject): string | undefined {
  const meta = o.metadata
  if (isObject(meta) && typeof meta.name === 'string') return meta.name
  return undefined
}

function learnObject (o: JsonObject, base: Omit<ScriptRef, 'pointer'>, out: Learned[]): void {
  const name = nameOf(o)
  if (name === undefined) return
  const meta = o.metadata
  const add = (field: string, value: unknown, pointer: string): void => {
    if ((typeof value === 'string' && value !== '' && value !== 'None') || typeof value === 'number') {
      out.push({ field, value: String(value), owner: name, ref: { ...base, pointer } })
    }
  }
  if (isObject(meta)) {
    add('uid', meta.uid, '/metadata/uid')
    add('resourceVersion', meta.resourceVersion, '/metadata/resourceVersion')
  }
  const spec = o.spec
  if (isObject(spec)) {
    add('clusterIP', spec.clusterIP, '/spec/clusterIP')
    if (Array.isArray(spec.clusterIPs)) spec.clusterIPs.forEach((ip, i) => add('clusterIPs', ip, `/spec/clusterIPs/${i}`))
    if (Array.isArray(spec.ports)) spec.ports.forEach((p, i) => { if (isObject(p)) add('nodePort', p.nodePort, `/spec/ports/${i}/nodePort`) })
  }
}

function learn (n: number, x: Exchange, out: Learned[]): void {
  const etag = x.responseHeaders.etag
  if (typeof etag === 'string') out.push({ field: 'etag', value: etag, owner: x.path.split('?')[0] ?? '', ref: { request: n, header: 'etag' } })
  if (x.watch) return
  const doc = parseJsonOrUndefined(x.responseBody)
  if (!isObject(doc)) return
  if (Array.isArray(doc.items) && typeof doc.kind === 'string' && doc.kind.endsWith('List')) {
    const meta = doc.metadata
    if (isObject(meta) && typeof meta.resourceVersion === 'string' && meta.resourceVersion !== '') {
      out.push({ field: 'resourceVersion', value: meta.resourceVersion, owner: `<list>${x.path.split('?')[0] ?? ''}`, ref: { request: n, pointer: '/metadata/resourceVersion' } })
    }
    for (const item of doc.items) {
      if (!isObject(item)) continue
      const meta = item.metadata
      const name = nameOf(item)
      if (name === undefined || !isObject(meta)) continue
      learnObject(item, { request: n, item: { name, namespace: typeof meta.namespace === 'string' ? meta.namespace : '' } }, out)
    }
    return
  }
  if (isObject(doc.paths) && x.path.startsWith('/openapi/v3')) {
    for (const [key, v] of Object.entries(doc.paths)) {
      if (isObject(v) && typeof v.serverRelativeURL === 'string') {
        out.push({ field: 'url', value: v.serverRelativeURL, owner: '', ref: { request: n, pointer: `/paths/${escapePointer(key)}/serverRelativeURL` } })
      }
    }
    return
  }
  learnObject(doc, { request: n }, out)
  // A name the server made from generateName: later paths and bodies name the object by it.
  const sent = parseJsonOrUndefined(x.body)
  const sentMeta = isObject(sent) ? sent.metadata : undefined
  const meta = doc.metadata
  if (isObject(sentMeta) && typeof sentMeta.generateName === 'string' && sentMeta.name === undefined && isObject(meta) && typeof meta.name === 'string') {
    out.push({ field: 'name', value: meta.name, owner: meta.name, ref: { request: n, pointer: '/metadata/name' } })
  }
}

/**
 * The latest earlier response that carried `value` as `field`, preferring one about the same object (`owner`),
 * then one whose owner starts with `near` (a list of any path), then any.
 */
function lookup (learned: readonly Learned[], field: string, value: string, owner: string | undefined, near?: string): ScriptRef | undefined {
  let any: Learned | undefined
  let close: Learned | undefined
  let same: Learned | undefined
  for (const l of learned) {
    if (l.field !== field || l.value !== value) continue
    any = l
    if (near !== undefined && l.owner.startsWith(near)) close = l
    if (owner !== undefined && l.owner === owner) same = l
  }
  return (same ?? close ?? any)?.ref
}

/** The name a request path addresses (`.../services/NAME[/status]`), if any. */
function pathName (path: string): string | undefined {
  const segs = (path.split('?')[0] ?? '').split('/').filter(s => s !== '')
  const i = segs[0] === 'api' ? 2 : 3
  const rest = segs.slice(i)
  if (rest[0] === 'namespaces' && rest.length >= 4) return rest[3]
  if (rest[0] !== 'namespaces' && rest.length >= 2) return rest[1]
  if (rest[0] === 'namespaces' && rest.length === 2) return rest[1]
  return undefined
}

function bodySubs (body: Json, defaultOwner: string | undefined, learned: readonly Learned[]): Substitution[] {
  const subs: Substitution[] = []
  const walk = (v: Json, pointer: string, owner: string | undefined, key: string | undefined): void => {
    if (Array.isArray(v)) {
      v.forEach((x, i) => {
        if (key === 'clusterIPs' && typeof x === 'string') {
          const ref = lookup(learned, 'clusterIPs', x, owner)
          if (ref !== undefined) subs.push({ in: 'body', pointer: `${pointer}/${i}`, ref })
        } else walk(x, `${pointer}/${i}`, owner, undefined)
      })
      return
    }
    if (isObject(v)) {
      // The object a value belongs to: the nearest one with metadata.name, or an object reference
      // (involvedObject, targetRef) with a name.
      const own = nameOf(v) ?? (typeof v.name === 'string' && (typeof v.kind === 'string' || typeof v.uid === 'string') ? v.name : undefined)
      for (const [k, x] of Object.entries(v)) walk(x, `${pointer}/${escapePointer(k)}`, own ?? owner, k)
      return
    }
    if (key === undefined || !ASSIGNED.has(key) || key === 'clusterIPs') return
    if (typeof v !== 'string' && typeof v !== 'number') return
    const value = String(v)
    if (value === '' || value === '0') return
    const ref = lookup(learned, key, value, owner)
    if (ref !== undefined) subs.push({ in: 'body', pointer, ref })
  }
  walk(body, '', defaultOwner, undefined)
  return subs
}

/**
 * Turns the proxy's exchanges into the script: each request with the substitutions that make it mean the
 * same thing on another server.
 */
export function buildScript (exchanges: readonly Exchange[], description: string, recordedWith: Record<string, string>): WalkScript {
  const learned: Learned[] = []
  const requests: ScriptRequest[] = exchanges.map((x, n) => {
    const subs: Substitution[] = []
    const [pathOnly = '', query] = x.path.split('?')
    // An OpenAPI document URL with the hash the index named.
    const urlRef = [...learned].reverse().find(l => l.field === 'url' && x.path.startsWith(l.value))
    if (urlRef !== undefined) subs.push({ in: 'path-prefix', prefix: urlRef.value, ref: urlRef.ref })
    pathOnly.split('/').forEach((seg, i) => {
      const ref = seg === '' ? undefined : lookup(learned, 'name', seg, seg)
      if (ref !== undefined) subs.push({ in: 'path-segment', index: i, ref })
    })
    if (query !== undefined && urlRef === undefined) {
      const rv = new URLSearchParams(query).get('resourceVersion')
      if (rv !== null && rv !== '' && rv !== '0') {
        // A watch starts where the list of the same collection ended.
        const collection = pathOnly.replace(/^(\/apis?\/(?:[^/]+\/)?v[^/]*)\/watch\//, '$1/')
        const ref = lookup(learned, 'resourceVersion', rv, `<list>${collection}`, '<list>')
        if (ref !== undefined) subs.push({ in: 'query', param: 'resourceVersion', ref })
      }
    }
    const inm = x.headers['if-none-match']
    if (inm !== undefined) {
      const ref = lookup(learned, 'etag', inm, pathOnly)
      if (ref !== undefined) subs.push({ in: 'header', name: 'if-none-match', ref })
    }
    const isText = x.body !== undefined && !x.body.includes(0) && Buffer.from(x.body.toString('utf8'), 'utf8').equals(x.body)
    const json = isText ? parseJsonOrUndefined(x.body) : undefined
    if (json !== undefined) subs.push(...bodySubs(json, pathName(x.path), learned))
    learn(n, x, learned)
    const doc = x.watch ? undefined : parseJsonOrUndefined(x.responseBody)
    const reason = isObject(doc) && doc.kind === 'Status' && typeof doc.reason === 'string' && doc.reason !== '' ? doc.reason : undefined
    const warnings = headerList(x.responseHeaders.warning)
    return {
      n, who: x.who, step: x.step, method: x.method, path: x.path, headers: x.headers,
      ...(x.body === undefined || x.body.length === 0 ? {} : isText ? { body: x.body.toString('utf8') } : { bodyBase64: x.body.toString('base64') }),
      ...(x.watch ? { watch: true } : {}),
      ...(subs.length > 0 ? { subs } : {}),
      recorded: { status: x.status, ...(reason === undefined ? {} : { reason }), ...(warnings.length > 0 ? { warnings } : {}) },
    }
  })
  return { description, recordedWith, requests }
}

export function headerList (h: string | string[] | undefined): string[] {
  if (h === undefined) return []
  return (Array.isArray(h) ? h : [h]).map(v => Buffer.from(v, 'latin1').toString('utf8'))
}

/** A response of this run, as far as references need it. */
export interface Answered {
  readonly json: Json | undefined
  readonly headers: Readonly<Record<string, string | string[] | undefined>>
}

/** The value a reference names in this run's responses, or undefined when that response does not have it. */
export function resolveRef (ref: ScriptRef, answers: ReadonlyArray<Answered | undefined>): string | number | undefined {
  const a = answers[ref.request]
  if (a === undefined) return undefined
  if (ref.header !== undefined) {
    const h = a.headers[ref.header]
    return typeof h === 'string' ? h : undefined
  }
  let doc: unknown = a.json
  if (ref.item !== undefined) {
    const { name, namespace } = ref.item
    const items = isObject(doc) && Array.isArray(doc.items) ? doc.items : []
    doc = items.find(i => isObject(i) && isObject(i.metadata) && i.metadata.name === name && (i.metadata.namespace ?? '') === namespace)
  }
  const v = getPointer(doc, ref.pointer ?? '')
  return typeof v === 'string' || typeof v === 'number' ? v : undefined
}

export interface PreparedRequest {
  readonly method: string
  readonly path: string
  readonly headers: Record<string, string>
  readonly body: Buffer | undefined
  /** Substitutions whose source response did not have the value (the recorded value was sent). */
  readonly unresolved: readonly string[]
}

function describeRef (ref: ScriptRef): string {
  return `#${ref.request}${ref.item === undefined ? '' : `[${ref.item.namespace}/${ref.item.name}]`}${ref.header === undefined ? ref.pointer ?? '' : ` header ${ref.header}`}`
}

/** The request as it must be sent in this run: recorded values replaced by this run's. */
export function prepareRequest (r: ScriptRequest, answers: ReadonlyArray<Answered | undefined>): PreparedRequest {
  const unresolved: string[] = []
  let path = r.path
  const headers: Record<string, string> = { ...r.headers }
  let json: Json | undefined
  const textBody = r.body
  if (textBody !== undefined && (r.subs ?? []).some(s => s.in === 'body')) json = parseJsonOrUndefined(textBody)
  for (const s of r.subs ?? []) {
    const v = resolveRef(s.ref, answers)
    if (v === undefined) { unresolved.push(`${s.in} ${'pointer' in s ? s.pointer : 'param' in s ? s.param : 'name' in s ? s.name : ''} from ${describeRef(s.ref)}`); continue }
    switch (s.in) {
      case 'body': if (json !== undefined) setPointer(json, s.pointer, typeof getPointer(json, s.pointer) === 'number' ? Number(v) : String(v)); break
      case 'query': {
        const [p = '', q = ''] = path.split('?')
        const params = new URLSearchParams(q)
        params.set(s.param, String(v))
        path = `${p}?${params.toString()}`
        break
      }
      case 'path-segment': {
        const [p = '', ...q] = path.split('?')
        const segs = p.split('/')
        segs[s.index] = String(v)
        path = [segs.join('/'), ...q].join('?')
        break
      }
      case 'path-prefix': if (path.startsWith(s.prefix)) path = String(v) + path.slice(s.prefix.length); break
      case 'header': headers[s.name] = String(v); break
    }
  }
  const body = json !== undefined ? Buffer.from(JSON.stringify(json), 'utf8')
    : textBody !== undefined ? Buffer.from(textBody, 'utf8')
      : r.bodyBase64 !== undefined ? Buffer.from(r.bodyBase64, 'base64') : undefined
  return { method: r.method, path, headers, body, unresolved }
}
