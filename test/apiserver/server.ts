// The HTTPS front of the stand-in kube-apiserver: authentication (bearer token), an authorization seam,
// content negotiation (JSON, Table, PartialObjectMetadata, aggregated discovery), routing of
// /api and /apis paths to the registry, and streaming watches.
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:https'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ANONYMOUS, authenticate, authorize as allowAll, type Authorizer, type User } from './auth.js'
import { ApiError, badRequest, methodNotAllowed, pathNotFound, unauthorized, forbidden, unsupportedMediaType } from './errors.js'
import { goldenDir, readGoldenJson } from './golden.js'
import { warningHeader } from './gofmt.js'
import { loadDiscovery, OPENAPI_FILES, type DiscoveryDocs } from './discovery.js'
import { serviceCidrV4, serviceCidrV6 } from './ip.js'
import { isObject, type Json, type JsonObject, parseJson } from './json.js'
import { type FieldValidation, PATCH_TYPES, type PatchType, Registry, type Selectors, type WriteOptions } from './registry.js'
import { buildResources, type ResourceDef } from './resources.js'
import { CrdController, crdDef, customDiscovery } from './crd.js'
import { pruneStructural } from './structural.js'
import { decodeProtobufObject, PROTOBUF } from './protobuf.js'
import { pruneUnknown, SchemaIndex } from './schema.js'
import { parseFieldSelector, parseLabelSelector } from './selectors.js'
import type { Column } from './tables.js'
import { generateCerts } from './tls.js'

export type { Authorizer, ResourceAttributes, User } from './auth.js'
export { authorize } from './auth.js'

export interface RequestRecord { readonly method: string, readonly path: string, readonly query: string, readonly status: number, readonly contentType: string, readonly accept: string }

export interface ApiServerOptions {
  readonly host?: string
  readonly port?: number
  /** The bearer token clients must present; random when omitted. */
  readonly token?: string
  /** Extra tokens and the users they authenticate as (for RBAC tests later). */
  readonly users?: Readonly<Record<string, User>>
  /** Where the CA and serving certificate are written; a temporary directory (removed on close) when omitted. */
  readonly certDir?: string
  /** Change events retained for watch replay (the watch cache window). Default 1000. */
  readonly historyLimit?: number
  /** Interval of BOOKMARK events on watches that allow them. Default 60 s, like the real server's ~1 min. */
  readonly bookmarkIntervalMs?: number
  readonly authorize?: Authorizer
  /** Called after every request: tests use it to see what a client (e.g. kubectl) actually sent. */
  readonly onRequest?: (r: RequestRecord) => void
}

export interface ApiServer {
  readonly url: string
  readonly host: string
  readonly port: number
  readonly token: string
  readonly caPem: string
  readonly caFile: string
  /** The current global resourceVersion (the etcd revision). */
  readonly resourceVersion: () => number
  /** Forgets the watch history, as an etcd compaction would: older resourceVersions get 410. */
  readonly compact: () => void
  /** Ends every open watch stream, as a watch timeout or an API server restart does; clients re-watch. */
  readonly dropWatches: () => void
  readonly writeKubeconfig: (path: string, opts?: { readonly server?: string }) => Promise<void>
  readonly close: () => Promise<void>
}

const DEFAULT_NAMESPACES = ['default', 'kube-system', 'kube-public', 'kube-node-lease', 'l2lb-system']
const PUBLIC_PATHS = new Set(['/version', '/version/', '/healthz', '/livez', '/readyz'])
const MAX_BODY = 3 * 1024 * 1024
const AGGREGATED_CT = 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList'

interface MediaType { readonly type: string, readonly params: Readonly<Record<string, string>> }

function parseAccept (accept: string | undefined): MediaType[] {
  if (accept === undefined || accept.trim() === '') return [{ type: '*/*', params: {} }]
  return accept.split(',').map(part => {
    const [type = '', ...ps] = part.split(';').map(s => s.trim())
    const params: Record<string, string> = {}
    for (const p of ps) {
      const i = p.indexOf('=')
      if (i > 0) params[p.slice(0, i).trim()] = p.slice(i + 1).trim()
    }
    return { type: type.toLowerCase(), params }
  })
}

type Representation =
  | { readonly kind: 'json' }
  | { readonly kind: 'table', readonly version: string }
  | { readonly kind: 'partial', readonly version: string }

function isJsonish (t: string): boolean {
  return t === 'application/json' || t === '*/*' || t === 'application/*'
}

/** Picks the first acceptable representation in the client's order, as the real negotiator does. */
function negotiate (accept: string | undefined): Representation {
  for (const m of parseAccept(accept)) {
    if (!isJsonish(m.type)) continue
    const as = m.params.as
    if (as === undefined) return { kind: 'json' }
    if (m.params.g !== 'meta.k8s.io') continue
    const v = m.params.v ?? ''
    if (v !== 'v1' && v !== 'v1beta1') continue
    if (as === 'Table') return { kind: 'table', version: v }
    if (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList') return { kind: 'partial', version: v }
  }
  throw new ApiError(406, 'NotAcceptable', 'only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io', {})
}

function wantsAggregated (accept: string | undefined): boolean {
  for (const m of parseAccept(accept)) {
    if (m.params.as === 'APIGroupDiscoveryList' && m.params.g === 'apidiscovery.k8s.io' && m.params.v === 'v2' && isJsonish(m.type)) return true
    if (m.params.as === undefined && isJsonish(m.type)) return false
  }
  return false
}

interface Route {
  readonly def: ResourceDef
  readonly namespace: string | undefined
  readonly name: string
  readonly subresource: string
  readonly watchPath: boolean
}

function readBody (req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    // An oversized body is read to its end but not kept, so the 413 can still be written on the connection.
    req.on('data', (c: Buffer) => {
      size += c.length
      if (size <= MAX_BODY) chunks.push(c)
    })
    req.on('end', () => {
      if (size > MAX_BODY) reject(new ApiError(413, 'RequestEntityTooLarge', 'Request entity too large: limit is 3145728', {}))
      else resolve(Buffer.concat(chunks))
    })
    req.on('error', reject)
  })
}

function contentTypeOf (req: IncomingMessage): string {
  return (req.headers['content-type'] ?? 'application/json').split(';')[0]?.trim().toLowerCase() ?? ''
}

/**
 * The object in a create/update body: JSON, or the protobuf kubectl's typed clients send (e.g. `kubectl
 * create configmap`) for the kinds protobuf.ts decodes. Anything else is the real server's 415.
 */
function objectBody (req: IncomingMessage, body: Buffer): Json {
  const ct = contentTypeOf(req)
  if (ct === PROTOBUF) return decodeProtobufObject(body)
  if (ct !== 'application/json' && ct !== '') {
    throw new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, ${PROTOBUF}`, {})
  }
  return bodyJson(body.toString('utf8'))
}

function bodyJson (text: string): Json {
  if (text.trim() === '') throw badRequest('the body of the request was empty')
  try {
    return parseJson(text)
  } catch (e) {
    throw badRequest(`the body of the request was in an unknown format - ${e instanceof Error ? e.message : String(e)}`)
  }
}

function serviceColumns (dir: string): Column[] | undefined {
  const doc = readGoldenJson(dir, 'services-table.txt')
  if (!isObject(doc) || !Array.isArray(doc.columnDefinitions)) return undefined
  return doc.columnDefinitions.filter(isObject).map(c => ({
    name: String(c.name), type: String(c.type), format: String(c.format), description: String(c.description), priority: typeof c.priority === 'number' ? c.priority : 0
  }))
}

function kubeconfig (server: string, caPem: string, token: string): string {
  // JSON is YAML: both kubectl and client-node read this without a YAML library here.
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'l2lb', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'l2lb-admin', user: { token } }],
    contexts: [{ name: 'l2lb', context: { cluster: 'l2lb', user: 'l2lb-admin', namespace: 'default' } }],
    'current-context': 'l2lb',
    preferences: {}
  }, null, 2) + '\n'
}

export async function startApiServer (options: ApiServerOptions = {}): Promise<ApiServer> {
  const host = options.host ?? '127.0.0.1'
  const token = options.token ?? randomBytes(16).toString('hex')
  const ownCertDir = options.certDir === undefined
  const certDir = options.certDir ?? await mkdtemp(join(tmpdir(), 'l2lb-apiserver-'))
  const certs = await generateCerts(certDir)
  const dir = goldenDir()
  const defs = [...buildResources(serviceColumns(dir)), crdDef()]
  const discovery: DiscoveryDocs = loadDiscovery(dir, defs)
  const schemas = new SchemaIndex()
  for (const doc of discovery.openapiDocs.values()) schemas.add(parseJson(doc))
  const schemaFor = (def: ResourceDef): JsonObject | undefined => def.custom === undefined ? schemas.forKind(def.group, def.version, def.kind) : undefined
  const objectMeta = schemas.resolve({ $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta' })
  // A custom resource's metadata is an ObjectMeta like any other; the rest is pruned by its CRD's schema.
  const decodeCustom = (def: ResourceDef, structural: JsonObject, obj: JsonObject): string[] => {
    const meta = isObject(obj.metadata) ? obj.metadata : undefined
    const inMeta = meta === undefined ? [] : pruneUnknown(schemas, meta, objectMeta, { kind: def.kind, version: def.version }).map(p => `metadata.${p}`)
    return [...inMeta, ...pruneStructural(obj, structural)].sort()
  }
  // The served kinds change as CRDs are established and deleted: everything that looks one up asks here.
  const served = (): readonly ResourceDef[] => [...defs, ...crds.resources()]
  const registry = new Registry(served, {
    historyLimit: options.historyLimit ?? 1000,
    random: Math.random,
    now: () => new Date(),
    serviceCidrs: [serviceCidrV4('198.18.0.0', 16), serviceCidrV6('2001:db8:0:200::', 108)],
    schemaFor,
    resolver: schemas,
    decode: (def, obj) => def.custom === undefined
      ? pruneUnknown(schemas, obj, schemaFor(def), { kind: def.kind, version: def.version })
      : decodeCustom(def, def.custom.structural, obj)
  })
  const crdResource = defs.find(d => d.group === 'apiextensions.k8s.io' && d.resource === 'customresourcedefinitions')
  if (crdResource === undefined) throw new Error('no CustomResourceDefinition resource')
  const crds = new CrdController(registry, crdResource, () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'))
  const authorize = options.authorize ?? allowAll
  const bookmarkMs = options.bookmarkIntervalMs ?? 60_000
  const users = new Map<string, User>(Object.entries(options.users ?? {}))
  users.set(token, { name: 'l2lb-admin', groups: ['system:masters', 'system:authenticated'] })
  const watches = new Set<() => void>()
  let port = 0

  const send = (res: ServerResponse, code: number, body: Json | string, contentType = 'application/json', headers: Record<string, string | string[]> = {}): void => {
    const text = typeof body === 'string' ? body : JSON.stringify(body)
    res.writeHead(code, { 'content-type': contentType, 'cache-control': 'no-cache, private', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  const resolveRoute = (segments: string[], group: string, version: string): Route => {
    let segs = segments
    let watchPath = false
    if (segs[0] === 'watch') { watchPath = true; segs = segs.slice(1) }
    const find = (resource: string | undefined): ResourceDef | undefined => served().find(d => d.group === group && d.version === version && d.resource === resource)
    const nsd = segs[0] === 'namespaces' && segs.length >= 3 ? find(segs[2]) : undefined
    if (nsd !== undefined && nsd.namespaced) {
      if (segs.length > 5) throw pathNotFound()
      return { def: nsd, namespace: segs[1] ?? '', name: segs[3] ?? '', subresource: segs[4] ?? '', watchPath }
    }
    const d = find(segs[0])
    if (d === undefined || segs.length > 3) throw pathNotFound()
    if (d.namespaced && segs.length > 1) throw pathNotFound()
    return { def: d, namespace: undefined, name: segs[1] ?? '', subresource: segs[2] ?? '', watchPath }
  }

  const table = (def: ResourceDef, items: JsonObject[], meta: JsonObject, q: URLSearchParams, version: string, withColumns: boolean): JsonObject => {
    const include = q.get('includeObject') ?? 'Metadata'
    if (!['None', 'Metadata', 'Object'].includes(include)) throw badRequest(`invalid includeObject value: ${include}`)
    const now = Date.now()
    return {
      kind: 'Table',
      apiVersion: `meta.k8s.io/${version}`,
      metadata: meta,
      columnDefinitions: withColumns ? def.printer.columns.map(c => ({ ...c })) : null,
      rows: items.map(o => ({
        cells: def.printer.cells(def.toStorage(structuredClone(o)), now),
        object: include === 'None' ? null : include === 'Object' ? o : { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${version}`, metadata: o.metadata ?? {} }
      }))
    }
  }

  const selectors = (def: ResourceDef, q: URLSearchParams): Selectors => ({
    labels: parseLabelSelector(q.get('labelSelector') ?? ''),
    fields: parseFieldSelector(q.get('fieldSelector') ?? '', def.fieldLabels)
  })

  const writeOptions = (q: URLSearchParams): WriteOptions => {
    const dryRun = q.getAll('dryRun')
    for (const d of dryRun) if (d !== 'All') throw badRequest(`dryRun: Unsupported value: "${d}": supported values: "All"`)
    const fv = q.get('fieldValidation') ?? 'Warn'
    if (fv !== 'Strict' && fv !== 'Warn' && fv !== 'Ignore') throw badRequest(`fieldValidation: Unsupported value: "${fv}": supported values: "Ignore", "Strict", "Warn"`)
    const fm = q.get('fieldManager')
    if (fm !== null && fm.length > 128) throw badRequest(`fieldManager: Too long: may not be more than 128 bytes`)
    const fieldValidation: FieldValidation = fv
    return { dryRun: dryRun.length > 0, fieldValidation, warnings: [] }
  }

  // One Warning header per distinct warning, as the real server writes them (kubectl prints each as
  // "Warning: ..."). The text goes out as its UTF-8 bytes, which Node sends unchanged from a latin1 string.
  const warningHeaders = (opts: WriteOptions): Record<string, string[]> => {
    const values = [...new Set(opts.warnings)].map(warningHeader).filter((h): h is string => h !== undefined)
    return values.length === 0 ? {} : { warning: values.map(h => Buffer.from(h, 'utf8').toString('latin1')) }
  }

  const startWatch = (req: IncomingMessage, res: ServerResponse, r: Route, q: URLSearchParams, rep: Representation): void => {
    const sel = selectors(r.def, q)
    const bookmarks = q.get('allowWatchBookmarks') === 'true'
    const initial = q.get('sendInitialEvents') === 'true'
    const timeoutText = q.get('timeoutSeconds')
    const timeoutS = timeoutText === null ? undefined : Number(timeoutText)
    if (timeoutS !== undefined && (!Number.isFinite(timeoutS) || timeoutS < 0)) throw badRequest(`invalid timeoutSeconds: ${timeoutText ?? ''}`)
    let rv = q.get('resourceVersion') ?? undefined
    // A watch on an item path is a watch on the collection restricted to that name (deprecated but served).
    const fields = r.name === '' ? sel.fields : [...sel.fields, { field: 'metadata.name', value: r.name, equal: true }]
    if (initial) rv = '0'
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-cache, private', 'transfer-encoding': 'chunked' })
    res.flushHeaders()
    let first = true
    const write = (type: string, object: JsonObject): void => {
      let obj = object
      if (type !== 'ERROR' && type !== 'BOOKMARK' && rep.kind === 'table') {
        obj = table(r.def, [object], { resourceVersion: String(isObject(object.metadata) ? object.metadata.resourceVersion ?? '' : '') }, q, rep.version, first)
        first = false
      } else if (type !== 'ERROR' && type !== 'BOOKMARK' && rep.kind === 'partial') {
        obj = { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${rep.version}`, metadata: object.metadata ?? {} }
      }
      res.write(JSON.stringify({ type, object: obj }) + '\n')
    }
    const apiVersion = r.def.group === '' ? r.def.version : `${r.def.group}/${r.def.version}`
    const bookmark = (annotations?: JsonObject): void => {
      const metadata: JsonObject = { resourceVersion: String(registry.resourceVersion), creationTimestamp: null }
      if (annotations !== undefined) metadata.annotations = annotations
      write('BOOKMARK', { kind: r.def.kind, apiVersion, metadata })
    }
    let ended = false
    const timers: NodeJS.Timeout[] = []
    const handle = registry.watch(r.def, r.namespace, rv, { labels: sel.labels, fields }, (type, object) => {
      if (ended) return
      write(type, object)
      if (type === 'ERROR') stop()
    })
    function stop (): void {
      if (ended) return
      ended = true
      handle.stop()
      for (const t of timers) clearTimeout(t)
      watches.delete(stop)
      res.end()
    }
    if (ended) return
    if (initial && bookmarks) bookmark({ 'k8s.io/initial-events-end': 'true' })
    watches.add(stop)
    if (bookmarks) timers.push(setInterval(() => bookmark(), bookmarkMs))
    if (timeoutS !== undefined) timers.push(setTimeout(stop, timeoutS * 1000))
    req.on('close', stop)
    res.on('close', stop)
  }

  const handleResource = async (req: IncomingMessage, res: ServerResponse, user: User, r: Route, q: URLSearchParams, path: string): Promise<void> => {
    const method = req.method ?? 'GET'
    const { def } = r
    if (r.subresource !== '' && !(r.subresource === 'status' && def.hasStatus)) throw pathNotFound()
    if (r.namespace !== undefined && r.namespace === '') throw pathNotFound()
    const isWatch = r.watchPath || q.get('watch') === 'true' || q.get('watch') === '1'
    const collection = r.name === ''
    let verb: string
    if (method === 'GET') verb = isWatch ? 'watch' : collection ? 'list' : 'get'
    else if (method === 'POST') verb = 'create'
    else if (method === 'PUT') verb = 'update'
    else if (method === 'PATCH') verb = 'patch'
    else if (method === 'DELETE') verb = collection ? 'deletecollection' : 'delete'
    else throw methodNotAllowed()
    if (!authorize(user, verb, { group: def.group, resource: def.resource, subresource: r.subresource, namespace: r.namespace ?? '', name: r.name, path })) {
      throw forbidden(user.name, verb, def.resource, r.subresource, def.group, r.namespace ?? '', r.name)
    }
    const ns = r.namespace ?? ''
    const subresource = r.subresource === 'status' ? 'status' : ''
    const apiVersion = def.group === '' ? def.version : `${def.group}/${def.version}`
    switch (verb) {
      case 'watch': {
        const rep = negotiate(req.headers.accept)
        startWatch(req, res, r, q, rep)
        return
      }
      case 'list': {
        const rep = negotiate(req.headers.accept)
        const limitText = q.get('limit')
        const limit = limitText === null ? undefined : Number(limitText)
        const result = registry.list(def, r.namespace, {
          ...selectors(def, q),
          resourceVersion: q.get('resourceVersion') ?? undefined,
          resourceVersionMatch: q.get('resourceVersionMatch') ?? undefined,
          limit: limit !== undefined && Number.isInteger(limit) ? limit : undefined,
          continueToken: q.get('continue') ?? undefined
        })
        const meta: JsonObject = { resourceVersion: result.resourceVersion }
        if (result.continueToken !== undefined) meta.continue = result.continueToken
        if (result.remainingItemCount !== undefined) meta.remainingItemCount = result.remainingItemCount
        if (rep.kind === 'table') { send(res, 200, table(def, result.items, meta, q, rep.version, true)); return }
        if (rep.kind === 'partial') {
          send(res, 200, { kind: 'PartialObjectMetadataList', apiVersion: `meta.k8s.io/${rep.version}`, metadata: meta, items: result.items.map(o => ({ kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${rep.version}`, metadata: o.metadata ?? {} })) })
          return
        }
        // Items in a list carry no kind/apiVersion of their own (golden services-list.txt), but for custom
        // resources, which are listed as unstructured objects.
        const items = def.custom !== undefined ? result.items : result.items.map(o => { const { kind: _k, apiVersion: _a, ...rest } = o; return rest })
        send(res, 200, { kind: `${def.kind}List`, apiVersion, metadata: meta, items })
        return
      }
      case 'get': {
        const rep = negotiate(req.headers.accept)
        const obj = registry.get(def, ns, r.name)
        if (rep.kind === 'table') { send(res, 200, table(def, [obj], { resourceVersion: String(isObject(obj.metadata) ? obj.metadata.resourceVersion ?? '' : '') }, q, rep.version, true)); return }
        if (rep.kind === 'partial') { send(res, 200, { kind: 'PartialObjectMetadata', apiVersion: `meta.k8s.io/${rep.version}`, metadata: obj.metadata ?? {} }); return }
        send(res, 200, obj)
        return
      }
      case 'create': {
        if (r.subresource !== '') throw methodNotAllowed()
        const opts = writeOptions(q)
        const created = registry.create(def, ns, objectBody(req, await readBody(req)), opts)
        send(res, 201, created, 'application/json', warningHeaders(opts))
        return
      }
      case 'update': {
        const opts = writeOptions(q)
        const body = objectBody(req, await readBody(req))
        const out = registry.update(def, ns, r.name, subresource, () => body, { ...opts, fromPut: true })
        send(res, out.created ? 201 : 200, out.object, 'application/json', warningHeaders(opts))
        return
      }
      case 'patch': {
        const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase() ?? ''
        const patchType = PATCH_TYPES.find(t => t === ct)
        if (patchType === undefined) throw unsupportedMediaType()
        if (def.custom !== undefined && patchType === 'application/strategic-merge-patch+json') {
          // Custom resources have no Go struct to carry patch strategies.
          throw new ApiError(415, 'UnsupportedMediaType', 'the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml', {})
        }
        const opts = writeOptions(q)
        const text = (await readBody(req)).toString('utf8')
        const patch = patchType === 'application/apply-patch+yaml' ? applyBody(text) : bodyJson(text)
        if (patchType === 'application/apply-patch+yaml' && (q.get('fieldManager') ?? '') === '') {
          throw new ApiError(422, 'Invalid', 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch', { group: 'meta.k8s.io', kind: 'PatchOptions', causes: [{ reason: 'FieldValueRequired', message: 'Required value: is required for apply patch', field: 'fieldManager' }] })
        }
        const out = patchType === 'application/apply-patch+yaml'
          ? applyPatch(registry, def, ns, r.name, subresource, patch, opts)
          : registry.patch(def, ns, r.name, subresource, patchType, patch, opts)
        send(res, 200, out, 'application/json', warningHeaders(opts))
        return
      }
      case 'delete': {
        if (r.subresource !== '') throw methodNotAllowed()
        const opts = writeOptions(q)
        const raw = await readBody(req)
        const options = raw.toString('utf8').trim() === '' ? null : objectBody(req, raw)
        const out = registry.delete(def, ns, r.name, options, opts)
        // The namespace and CRD registries answer 200 for a delete their own finalizers hold (golden crd-delete.txt).
        const pending = out.kind !== 'Status' && isObject(out.metadata) && out.metadata.deletionTimestamp !== undefined && !(def.group === '' && def.resource === 'namespaces') && def.finalizeOnDelete === undefined
        send(res, pending ? 202 : 200, out)
        return
      }
      case 'deletecollection': {
        const opts = writeOptions(q)
        const items = registry.deleteCollection(def, r.namespace, selectors(def, q), opts)
        send(res, 200, { kind: `${def.kind}List`, apiVersion, metadata: { resourceVersion: String(registry.resourceVersion) }, items: items.map(o => { const { kind: _k, apiVersion: _a, ...rest } = o; return rest }) })
      }
    }
  }

  const handleNonResource = (req: IncomingMessage, res: ServerResponse, path: string): boolean => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false
    const accept = req.headers.accept
    if (path === '/version' || path === '/version/') {
      send(res, 200, { major: '1', minor: '32', gitVersion: 'v1.32.6', gitCommit: 'e52b13b59e910bfa409eaa1e5280c4160b687bf8', gitTreeState: 'clean', buildDate: '2026-11-22T01:43:08Z', goVersion: 'go1.23.5', compiler: 'gc', platform: 'linux/amd64' })
      return true
    }
    if (path === '/healthz' || path === '/livez' || path === '/readyz' || /^\/(healthz|livez|readyz)\/[a-z-]+$/.test(path)) {
      send(res, 200, 'ok', 'text/plain; charset=utf-8', { 'x-content-type-options': 'nosniff' })
      return true
    }
    // Custom resources' groups come after the built-in ones, as the real server lists them.
    const custom = customDiscovery(crds.resources().filter(d => !discovery.groups.has(d.group)), d => crds.storageVersion(d))
    if (path === '/api' || path === '/apis') {
      if (wantsAggregated(accept)) {
        const doc = path === '/api' ? discovery.apiAggregated : { ...discovery.apisAggregated, items: [...arrayOf(discovery.apisAggregated.items), ...custom.aggregated] }
        send(res, 200, doc, AGGREGATED_CT, { vary: 'Accept', 'cache-control': 'public' })
      } else {
        send(res, 200, path === '/api' ? discovery.apiLegacy(`${host.includes(':') ? `[${host}]` : host}:${port}`) : { ...discovery.apisLegacy, groups: [...arrayOf(discovery.apisLegacy.groups), ...custom.groups] })
      }
      return true
    }
    if (path === '/api/v1') { send(res, 200, discovery.resourceLists.get('v1') ?? {}); return true }
    const g = /^\/apis\/([^/]+)$/.exec(path)
    if (g !== null) {
      const group = custom.groups.find(x => x.name === g[1])
      const doc = discovery.groups.get(g[1] ?? '') ?? (group === undefined ? undefined : { kind: 'APIGroup', apiVersion: 'v1', ...group })
      if (doc === undefined) return false
      send(res, 200, doc)
      return true
    }
    const gv = /^\/apis\/([^/]+)\/([^/]+)$/.exec(path)
    if (gv !== null) {
      const key = `${gv[1] ?? ''}/${gv[2] ?? ''}`
      const doc = discovery.resourceLists.get(key) ?? custom.resourceLists.get(key)
      if (doc === undefined) return false
      send(res, 200, doc)
      return true
    }
    if (path === '/openapi/v3') { send(res, 200, discovery.openapiIndex, 'text/plain; charset=utf-8'); return true }
    if (path.startsWith('/openapi/v3/')) {
      const key = path.slice('/openapi/v3/'.length)
      const doc = discovery.openapiDocs.get(key)
      if (doc === undefined || !Object.hasOwn(OPENAPI_FILES, key)) return false
      send(res, 200, doc, 'application/json', { vary: 'Accept', 'cache-control': 'public, immutable' })
      return true
    }
    return false
  }

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'https://apiserver')
    const path = url.pathname.length > 1 ? url.pathname.replace(/\/+$/, '') : url.pathname
    const q = url.searchParams
    try {
      const user = authenticate(req.headers.authorization, users)
      if (user === undefined && !PUBLIC_PATHS.has(path)) throw unauthorized()
      const who = user ?? ANONYMOUS
      const segs = path.split('/').filter(s => s !== '').map(decodeURIComponent)
      if (segs[0] === 'api' && segs[1] === 'v1' && segs.length > 2) {
        await handleResource(req, res, who, resolveRoute(segs.slice(2), '', 'v1'), q, path)
        return
      }
      if (segs[0] === 'apis' && segs.length > 3) {
        await handleResource(req, res, who, resolveRoute(segs.slice(3), segs[1] ?? '', segs[2] ?? ''), q, path)
        return
      }
      if (!authorize(who, (req.method ?? 'GET').toLowerCase(), { group: '', resource: '', subresource: '', namespace: '', name: '', path })) {
        throw new ApiError(403, 'Forbidden', `forbidden: User "${who.name}" cannot get path "${path}"`, {})
      }
      if (!handleNonResource(req, res, path)) throw pathNotFound()
    } catch (e) {
      const err = e instanceof ApiError ? e : new ApiError(500, 'InternalError', `Internal error occurred: ${e instanceof Error ? e.message : String(e)}`)
      if (res.headersSent) { res.end(); return }
      send(res, err.code, err.status)
    }
  }

  const server: Server = createServer({ cert: certs.certPem, key: certs.keyPem })
  const sockets = new Set<Socket>()
  server.on('connection', (s: Socket) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const onRequest = options.onRequest
    if (onRequest !== undefined) {
      res.on('finish', () => {
        const u = new URL(req.url ?? '/', 'https://apiserver')
        onRequest({ method: req.method ?? '', path: u.pathname, query: u.search, status: res.statusCode, contentType: req.headers['content-type'] ?? '', accept: req.headers.accept ?? '' })
      })
    }
    void handle(req, res)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address()
  port = typeof addr === 'object' && addr !== null ? (addr satisfies AddressInfo).port : 0
  registry.bootstrap(DEFAULT_NAMESPACES, port)
  crds.start()
  const urlHost = host.includes(':') ? `[${host}]` : host
  const url = `https://${urlHost}:${port}`
  let closed = false

  return {
    url,
    host,
    port,
    token,
    caPem: certs.caPem,
    caFile: certs.caFile,
    resourceVersion: () => registry.resourceVersion,
    compact: () => registry.compact(),
    dropWatches: () => { for (const stop of [...watches]) stop() },
    writeKubeconfig: async (path, opts) => { await writeFile(path, kubeconfig(opts?.server ?? url, certs.caPem, token), { mode: 0o600 }) },
    close: async () => {
      if (closed) return
      closed = true
      crds.stop()
      for (const stop of [...watches]) stop()
      const done = new Promise<void>(resolve => server.close(() => resolve()))
      server.closeIdleConnections()
      for (const s of sockets) s.destroy()
      await done
      if (ownCertDir) await rm(certDir, { recursive: true, force: true })
    }
  }
}

function arrayOf (v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : []
}

/** apply-patch bodies are YAML; clients (client-node, kubectl) send JSON, which is YAML, and that is all we take. */
function applyBody (text: string): Json {
  try {
    return parseJson(text)
  } catch {
    throw new ApiError(415, 'UnsupportedMediaType', 'this stand-in API server accepts apply patches written as JSON only', {})
  }
}

/**
 * Server-side apply, approximated: create when absent, otherwise a strategic merge of the applied
 * configuration. Field ownership (managedFields, conflicts between managers) is not modelled.
 */
function applyPatch (registry: Registry, def: ResourceDef, ns: string, name: string, subresource: '' | 'status', patch: Json, opts: WriteOptions): JsonObject {
  try {
    return registry.patch(def, ns, name, subresource, 'application/apply-patch+yaml', patch, opts)
  } catch (e) {
    if (e instanceof ApiError && e.code === 404 && subresource === '' && isObject(patch) && !(def.namespaced && !registry.namespaceExists(ns))) {
      return registry.create(def, ns, patch, opts)
    }
    throw e
  }
}
