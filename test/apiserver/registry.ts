// The in-memory storage and the generic REST semantics of kube-apiserver's registry over it: one global,
// etcd-like resourceVersion counter bumped by every write; a bounded history of change events (the
// "watch cache") used to replay watches and to serve exact-resourceVersion lists; optimistic concurrency.
import { randomUUID } from 'node:crypto'
import {
  alreadyExists, ApiError, badRequest, conflict, DecodeError, deletePreconditionFailed, expired, fieldImmutable, fieldInvalid, fieldRequired, invalid,
  invalidPatch, notFound, type StatusCause, storageUidPreconditionFailed
} from './errors.js'
import type { ServiceCidr } from './ip.js'
import { goQuote } from './gofmt.js'
import { clone, deepEqual, isObject, type Json, type JsonObject, objectAt, stringAt } from './json.js'
import { jsonPatch, jsonPatchText, mergePatch, mergePatchText, type SchemaResolver, strategicMergePatch, strategicPatchText } from './patch.js'
import type { ResourceDef } from './resources.js'
import { type FieldSelector, type LabelSelector, matchesFields, matchesLabels } from './selectors.js'

export type EventType = 'ADDED' | 'MODIFIED' | 'DELETED'

export interface ChangeEvent {
  readonly rv: number
  readonly storage: string
  readonly type: EventType
  /** Stored form after the change (for DELETED: the object as deleted, carrying the deletion's rv). */
  readonly object: JsonObject
  /** Stored form before the change; undefined for ADDED. */
  readonly prev: JsonObject | undefined
}

export interface RegistryOptions {
  /** How many change events are retained for watch replay; older resourceVersions get 410 Gone. */
  readonly historyLimit: number
  readonly random: () => number
  readonly now: () => Date
  readonly serviceCidrs: readonly ServiceCidr[]
  /** apply-patch / strategic merge patch need each kind's OpenAPI schema. */
  readonly schemaFor: (def: ResourceDef) => JsonObject | undefined
  readonly resolver: SchemaResolver
  /** Decodes an external object in place as the Go types would: drops unknown fields, returning their paths. */
  readonly decode: (def: ResourceDef, obj: JsonObject) => string[]
}

export type FieldValidation = 'Strict' | 'Warn' | 'Ignore'

export interface WriteOptions {
  readonly dryRun: boolean
  readonly fieldValidation: FieldValidation
  /** Warnings for the response's Warning headers (unknown fields under fieldValidation=Warn). */
  readonly warnings: string[]
}

export interface Selectors { readonly labels: LabelSelector, readonly fields: FieldSelector }

export interface ListOptions extends Selectors {
  readonly resourceVersion: string | undefined
  readonly resourceVersionMatch: string | undefined
  readonly limit: number | undefined
  readonly continueToken: string | undefined
}

export interface ListResult {
  readonly items: JsonObject[]
  readonly resourceVersion: string
  readonly continueToken: string | undefined
  readonly remainingItemCount: number | undefined
}

export type WatchSink = (type: EventType | 'ERROR', object: JsonObject) => void

export interface WatchHandle { readonly stop: () => void }

export const PATCH_TYPES = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'] as const
export type PatchType = typeof PATCH_TYPES[number]

const NAME_SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789'

function metaOf (o: JsonObject): JsonObject {
  const m = objectAt(o, 'metadata') ?? {}
  o.metadata = m
  return m
}

function rfc3339 (d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z')
}

/**
 * The group of the Kind the registry's strategy reports (422 Invalid, delete preconditions): the stored object's,
 * so an events.k8s.io Event, stored as a core Event, is an `Event` without a group.
 */
function kindGroup (def: ResourceDef): string {
  return def.storage === 'events' ? '' : def.group
}

function keyOf (namespace: string, name: string): string {
  return `${namespace}/${name}`
}

function labelsOf (o: JsonObject): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(objectAt(objectAt(o, 'metadata'), 'labels') ?? {})) if (typeof v === 'string') out[k] = v
  return out
}

export class Registry {
  private rv = 0
  private compactedRv = 0
  private readonly stores = new Map<string, Map<string, JsonObject>>()
  private readonly history: ChangeEvent[] = []
  private readonly listeners = new Set<(ev: ChangeEvent) => void>()
  /** The kinds served now: the built-in ones and those of established CustomResourceDefinitions. */
  private readonly defs: () => readonly ResourceDef[]
  private readonly opts: RegistryOptions

  constructor (defs: () => readonly ResourceDef[], opts: RegistryOptions) {
    this.defs = defs
    this.opts = opts
  }

  get resourceVersion (): number { return this.rv }

  /** Drops all retained history, as an etcd compaction would: every older resourceVersion becomes too old. */
  compact (): void {
    this.history.length = 0
    this.compactedRv = this.rv
  }

  private store (def: ResourceDef): Map<string, JsonObject> {
    let s = this.stores.get(def.storage)
    if (s === undefined) { s = new Map(); this.stores.set(def.storage, s) }
    return s
  }

  private defFor (group: string, resource: string): ResourceDef {
    const d = this.defs().find(x => x.group === group && x.resource === resource)
    if (d === undefined) throw new Error(`no resource ${resource}.${group}`)
    return d
  }

  private commit (def: ResourceDef, type: EventType, obj: JsonObject, prev: JsonObject | undefined): JsonObject {
    this.rv++
    const meta = metaOf(obj)
    meta.resourceVersion = String(this.rv)
    const key = keyOf(stringAt(meta, 'namespace') ?? '', stringAt(meta, 'name') ?? '')
    if (type === 'DELETED') this.store(def).delete(key)
    else this.store(def).set(key, obj)
    const ev: ChangeEvent = { rv: this.rv, storage: def.storage, type, object: obj, prev }
    this.history.push(ev)
    while (this.history.length > this.opts.historyLimit) {
      const dropped = this.history.shift()
      if (dropped !== undefined) this.compactedRv = dropped.rv
    }
    for (const l of this.listeners) l(ev)
    return obj
  }

  /** Stored (internal) object, or undefined. Callers get clones, never the stored instance. */
  private stored (def: ResourceDef, namespace: string, name: string): JsonObject | undefined {
    const o = this.store(def).get(keyOf(namespace, name))
    return o === undefined ? undefined : clone(o)
  }

  /** The stored object in `def`'s external form, keys in the Go serialisation order. */
  present (def: ResourceDef, stored: JsonObject): JsonObject {
    const ext = def.fromStorage(clone(stored))
    ext.kind = def.kind
    ext.apiVersion = def.group === '' ? def.version : `${def.group}/${def.version}`
    return def.order(ext)
  }

  namespaceExists (name: string): boolean {
    return this.store(this.defFor('', 'namespaces')).has(keyOf('', name))
  }

  private checkNamespace (def: ResourceDef, namespace: string): void {
    if (def.namespaced && !this.namespaceExists(namespace)) throw notFound('namespaces', '', namespace)
  }

  get (def: ResourceDef, namespace: string, name: string): JsonObject {
    const o = this.stored(def, namespace, name)
    if (o === undefined) throw notFound(def.resource, def.group, name)
    return this.present(def, o)
  }

  matches (def: ResourceDef, stored: JsonObject, sel: Selectors): boolean {
    return matchesLabels(sel.labels, labelsOf(stored)) && matchesFields(sel.fields, def.fields(stored))
  }

  /** The objects of a storage as they were at `rv`, rebuilt by undoing the retained history. */
  private snapshotAt (def: ResourceDef, rv: number): Map<string, JsonObject> {
    if (rv < this.compactedRv) throw expired('The resourceVersion for the provided list is too old.')
    const snap = new Map(this.store(def))
    for (let i = this.history.length - 1; i >= 0; i--) {
      const ev = this.history[i]
      if (ev === undefined || ev.rv <= rv) break
      if (ev.storage !== def.storage) continue
      const m = objectAt(ev.object, 'metadata')
      const key = keyOf(stringAt(m, 'namespace') ?? '', stringAt(m, 'name') ?? '')
      if (ev.prev === undefined) snap.delete(key)
      else snap.set(key, ev.prev)
    }
    return snap
  }

  list (def: ResourceDef, namespace: string | undefined, opts: ListOptions): ListResult {
    let atRv = this.rv
    let startAfter = ''
    if (opts.continueToken !== undefined && opts.continueToken !== '') {
      const tok = decodeContinue(opts.continueToken)
      atRv = tok.rv
      startAfter = tok.start
      if (atRv < this.compactedRv) throw expired('The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.')
    } else if (opts.resourceVersionMatch === 'Exact') {
      const n = Number(opts.resourceVersion)
      if (opts.resourceVersion === undefined || !Number.isInteger(n) || n <= 0) throw badRequest('resourceVersionMatch=Exact requires a non-zero resourceVersion')
      if (n > this.rv) throw new ApiError(504, 'Timeout', `Too large resource version: ${n}, current: ${this.rv}`, { causes: [{ reason: 'ResourceVersionTooLarge', message: 'Too large resource version' }], retryAfterSeconds: 1 })
      atRv = n
    }
    const source = atRv === this.rv ? this.store(def) : this.snapshotAt(def, atRv)
    const keys = [...source.keys()].sort()
    const all: JsonObject[] = []
    for (const k of keys) {
      if (k <= startAfter && startAfter !== '') continue
      const o = source.get(k)
      if (o === undefined) continue
      if (namespace !== undefined && stringAt(objectAt(o, 'metadata'), 'namespace') !== namespace) continue
      if (!this.matches(def, o, opts)) continue
      all.push(o)
    }
    const limit = opts.limit !== undefined && opts.limit > 0 ? opts.limit : undefined
    const page = limit === undefined ? all : all.slice(0, limit)
    let continueToken: string | undefined
    let remaining: number | undefined
    if (limit !== undefined && all.length > limit) {
      const last = page[page.length - 1]
      const lm = objectAt(last, 'metadata')
      continueToken = encodeContinue(atRv, keyOf(stringAt(lm, 'namespace') ?? '', stringAt(lm, 'name') ?? ''))
      remaining = all.length - limit
    }
    return { items: page.map(o => this.present(def, o)), resourceVersion: String(atRv), continueToken, remainingItemCount: remaining }
  }

  private generateName (def: ResourceDef, namespace: string, prefix: string): string {
    for (let attempt = 0; attempt < 100; attempt++) {
      let s = ''
      for (let i = 0; i < 5; i++) s += NAME_SUFFIX_ALPHABET[Math.floor(this.opts.random() * NAME_SUFFIX_ALPHABET.length)] ?? 'x'
      const name = prefix + s
      if (!this.store(def).has(keyOf(namespace, name))) return name
    }
    throw new ApiError(500, 'InternalError', 'Internal error occurred: could not generate a unique name')
  }

  private others (def: ResourceDef, except: string): JsonObject[] {
    return [...this.store(def).entries()].filter(([k]) => k !== except).map(([, v]) => v)
  }

  private validateMeta (def: ResourceDef, o: JsonObject): StatusCause[] {
    const meta = metaOf(o)
    const name = stringAt(meta, 'name') ?? ''
    const causes: StatusCause[] = []
    if (name === '') causes.push(fieldRequired('metadata.name', 'name or generateName is required'))
    else causes.push(...def.validateName(name))
    for (const [field, value] of [['metadata.labels', meta.labels], ['metadata.annotations', meta.annotations]] as const) {
      if (value === undefined || value === null) continue
      if (!isObject(value)) { causes.push(fieldInvalid(field, value, 'must be a map')); continue }
      for (const [k, v] of Object.entries(value)) {
        if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(k)) {
          causes.push(fieldInvalid(field, k, "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"))
        }
        if (typeof v !== 'string') causes.push(fieldInvalid(`${field}.${k}`, v, 'must be a string'))
        else if (field === 'metadata.labels' && !/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/.test(v)) {
          causes.push(fieldInvalid(field, v, "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"))
        }
      }
    }
    return causes
  }

  private checkBody (def: ResourceDef, body: Json): JsonObject {
    if (!isObject(body)) throw badRequest('the body of the request was in an unknown format')
    const apiVersion = def.group === '' ? def.version : `${def.group}/${def.version}`
    if (def.custom !== undefined) this.checkCustomTypeMeta(def, body)
    if (body.kind !== undefined && body.kind !== '' && body.kind !== def.kind) {
      throw badRequest(`${String(body.kind)} in version "${def.version}" cannot be handled as a ${def.kind}: no kind "${String(body.kind)}" is registered for version "${apiVersion}" in scheme "k8s.io/apimachinery@v1.32.6/pkg/runtime/scheme.go:100"`)
    }
    if (body.apiVersion !== undefined && body.apiVersion !== '' && body.apiVersion !== apiVersion) {
      throw badRequest(`the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${apiVersion})`)
    }
    if (body.metadata !== undefined && !isObject(body.metadata)) throw badRequest('metadata must be an object')
    return body
  }

  /**
   * A custom resource's body must say what it is (the unstructured decoder needs kind and apiVersion): 400
   * without them; another kind is the custom resource validator's 422, named by the kind sent.
   */
  private checkCustomTypeMeta (def: ResourceDef, body: JsonObject): void {
    const text = JSON.stringify(body)
    if (typeof body.kind !== 'string' || body.kind === '') {
      throw badRequest(`the object provided is unrecognized (must be of type ${def.kind}): Object 'Kind' is missing in '${text}' (${text})`)
    }
    if (typeof body.apiVersion !== 'string' || body.apiVersion === '') {
      throw badRequest(`the object provided is unrecognized (must be of type ${def.kind}): Object 'apiVersion' is missing in '${text}' (${text})`)
    }
    if (body.kind !== def.kind) {
      const name = stringAt(objectAt(body, 'metadata'), 'name') ?? ''
      throw invalid(body.kind, name, def.group, [fieldInvalid('kind', body.kind, `must be ${def.kind}`)])
    }
  }

  /** `patched`: the object came out of a patch, whose strict-decoding errors the real server words without the kind prefix. */
  private decode (def: ResourceDef, ext: JsonObject, opts: WriteOptions, patched: boolean): void {
    const unknown = this.opts.decode(def, ext)
    if (unknown.length === 0) return
    if (opts.fieldValidation === 'Strict') {
      const detail = `strict decoding error: ${unknown.map(u => `unknown field ${goQuote(u)}`).join(', ')}`
      throw badRequest(patched ? detail : `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${detail}`)
    }
    if (opts.fieldValidation === 'Warn') for (const u of unknown) opts.warnings.push(`unknown field ${goQuote(u)}`)
  }

  create (def: ResourceDef, namespace: string, body: Json, opts: WriteOptions): JsonObject {
    const ext = clone(this.checkBody(def, body))
    this.decode(def, ext, opts, false)
    const meta = metaOf(ext)
    const bodyNs = stringAt(meta, 'namespace') ?? ''
    if (def.namespaced) {
      if (bodyNs !== '' && bodyNs !== namespace) throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
    }
    const obj = def.toStorage(ext)
    const m = metaOf(obj)
    if (def.namespaced) m.namespace = namespace
    else delete m.namespace
    this.checkNamespace(def, namespace)
    if ((stringAt(m, 'resourceVersion') ?? '') !== '') {
      throw new ApiError(500, 'InternalError', 'Internal error occurred: resourceVersion should not be set on objects to be created', { causes: [{ message: 'resourceVersion should not be set on objects to be created' }] })
    }
    const generate = stringAt(m, 'generateName') ?? ''
    if ((stringAt(m, 'name') ?? '') === '' && generate !== '') m.name = this.generateName(def, namespace, generate)
    const name = stringAt(m, 'name') ?? ''
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'selfLink', 'managedFields']) delete m[k]
    def.defaults(obj)
    def.prepareForCreate(obj)
    const causes = [...this.validateMeta(def, obj), ...def.validate(obj, undefined, '')]
    if (causes.length > 0) throw invalid(def.kind, name, kindGroup(def), causes)
    const key = keyOf(def.namespaced ? namespace : '', name)
    if (this.store(def).has(key)) throw alreadyExists(def.resource, def.group, name)
    const allocCauses = def.allocate(obj, { others: () => this.others(def, key), random: this.opts.random, serviceCidrs: this.opts.serviceCidrs })
    if (allocCauses.length > 0) throw invalid(def.kind, name, kindGroup(def), allocCauses)
    opts.warnings.push(...def.warnings(obj))
    m.uid = randomUUID()
    m.creationTimestamp = rfc3339(this.opts.now())
    if (def.tracksGeneration) m.generation = 1
    if (opts.dryRun) {
      m.resourceVersion = ''
      return this.present(def, obj)
    }
    return this.present(def, this.commit(def, 'ADDED', obj, undefined))
  }

  /**
   * The update path shared by PUT and PATCH: `mutate` turns the current external object into the new one.
   * `fromPut` enables create-on-update for the kinds that allow it.
   */
  update (def: ResourceDef, namespace: string, name: string, subresource: '' | 'status',
    mutate: (current: JsonObject | undefined) => Json,
    opts: WriteOptions & { readonly fromPut: boolean, readonly patchedText?: () => string }): { object: JsonObject, created: boolean } {
    const ns = def.namespaced ? namespace : ''
    const old = this.stored(def, ns, name)
    if (old === undefined) {
      // A PUT body's uid is a storage precondition, checked before the object is looked for: a missing object
      // has no uid, so it fails (409), ahead of the 404 or the create-on-update (golden uid-put-missing-409.txt).
      if (opts.fromPut) this.checkUidPrecondition(def, ns, name, mutate(undefined), '')
      if (opts.fromPut && def.allowCreateOnUpdate && subresource === '') {
        // Only a create checks the namespace; an update of a missing object is that object's 404.
        this.checkNamespace(def, ns)
        const body = this.checkBody(def, mutate(undefined))
        const bm = objectAt(body, 'metadata')
        if ((stringAt(bm, 'name') ?? '') !== name) throw badRequest(`the name of the object (${stringAt(bm, 'name') ?? ''}) does not match the name on the URL (${name})`)
        if (bm !== undefined) delete bm.resourceVersion
        return { object: this.create(def, ns, body, opts), created: true }
      }
      throw notFound(def.resource, def.group, name)
    }
    const currentExt = this.present(def, old)
    const ext = clone(this.checkBody(def, mutate(clone(currentExt))))
    try {
      this.decode(def, ext, opts, !opts.fromPut)
    } catch (e) {
      // A patch whose result the Go types cannot decode is the patcher's 422, quoting the patched document.
      if (e instanceof DecodeError && opts.patchedText !== undefined) throw invalidPatch(opts.patchedText(), e.detail)
      throw e
    }
    const em = metaOf(ext)
    const bodyName = stringAt(em, 'name') ?? ''
    if (bodyName !== name) throw badRequest(`the name of the object (${bodyName}) does not match the name on the URL (${name})`)
    const bodyNs = stringAt(em, 'namespace') ?? ''
    if (def.namespaced && bodyNs !== '' && bodyNs !== ns) throw badRequest('the namespace of the provided object does not match the namespace sent on the request')
    const om = metaOf(old)
    if (opts.fromPut) this.checkUidPrecondition(def, ns, name, ext, stringAt(om, 'uid') ?? '')
    const next = def.toStorage(ext)
    const nm = metaOf(next)
    const wantRv = stringAt(nm, 'resourceVersion') ?? ''
    if (wantRv !== '' && wantRv !== stringAt(om, 'resourceVersion')) throw conflict(def.resource, def.group, name)
    // A patch that changes the uid is refused by rest.BeforeUpdate (an empty one means "keep it"): 422 naming
    // metadata.uid, twice for the kinds whose own update validation checks metadata again (golden
    // uid-patch-immutable-422.txt). l2lb's controller sends its Service's uid in every merge patch for this.
    const sentUid = typeof nm.uid === 'string' ? nm.uid : ''
    const uidCauses = sentUid !== '' && sentUid !== om.uid
      ? Array.from({ length: def.validatesMetaUpdate ? 2 : 1 }, () => fieldImmutable('metadata.uid', sentUid))
      : []
    // System-owned metadata always comes from the stored object.
    for (const k of ['uid', 'creationTimestamp', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'generation', 'resourceVersion']) {
      if (om[k] === undefined) delete nm[k]
      else nm[k] = clone(om[k] ?? null)
    }
    if (def.namespaced) nm.namespace = ns
    else delete nm.namespace
    delete nm.managedFields
    if (om.managedFields !== undefined) nm.managedFields = clone(om.managedFields ?? null)
    def.defaults(next)
    def.prepareForUpdate(next, old, subresource)
    // Again: what prepareForUpdate carried over (e.g. spec on /status) may enable more defaults (ipMode).
    def.defaults(next)
    const causes = [...this.validateMeta(def, next), ...uidCauses, ...def.validate(next, old, subresource)]
    if (causes.length > 0) throw invalid(def.kind, name, kindGroup(def), causes)
    const key = keyOf(ns, name)
    if (subresource === '') {
      const allocCauses = def.allocate(next, { others: () => this.others(def, key), old, random: this.opts.random, serviceCidrs: this.opts.serviceCidrs })
      if (allocCauses.length > 0) throw invalid(def.kind, name, kindGroup(def), allocCauses)
      opts.warnings.push(...def.warnings(next))
    }
    if (def.tracksGeneration) {
      const strip = (o: JsonObject): JsonObject => { const { metadata: _m, status: _s, ...rest } = o; return rest }
      if (!deepEqual(strip(next), strip(old))) nm.generation = (typeof om.generation === 'number' ? om.generation : 0) + 1
    }
    // A write that changes nothing is not a write: no new resourceVersion, no watch event (as in etcd3 store).
    if (deepEqual(this.present(def, next), this.present(def, old))) return { object: this.present(def, old), created: false }
    if (opts.dryRun) return { object: this.present(def, next), created: false }
    const finalizers = nm.finalizers
    if (nm.deletionTimestamp !== undefined && (!Array.isArray(finalizers) || finalizers.length === 0)) {
      // The last finalizer is gone from an object being deleted: the delete completes now.
      return { object: this.present(def, this.commit(def, 'DELETED', next, old)), created: false }
    }
    return { object: this.present(def, this.commit(def, 'MODIFIED', next, old)), created: false }
  }

  patch (def: ResourceDef, namespace: string, name: string, subresource: '' | 'status', patchType: PatchType, patch: Json, opts: WriteOptions): JsonObject {
    const schema = this.opts.schemaFor(def)
    let patchedText = (): string => ''
    return this.update(def, namespace, name, subresource, current => {
      const base: Json = current ?? {}
      let result: Json = base
      switch (patchType) {
        case 'application/merge-patch+json':
          result = mergePatch(base, patch)
          patchedText = () => mergePatchText(base, patch, result)
          break
        case 'application/json-patch+json':
          result = jsonPatch(base, patch)
          patchedText = () => jsonPatchText(result, patch)
          break
        // Server-side apply is approximated by a strategic merge (see server.ts), and so is its error.
        case 'application/strategic-merge-patch+json':
        case 'application/apply-patch+yaml':
          result = strategicMergePatch(base, patch, schema, this.opts.resolver)
          patchedText = () => strategicPatchText(result)
      }
      return result
    }, { ...opts, fromPut: false, patchedText: () => patchedText() }).object
  }

  delete (def: ResourceDef, namespace: string, name: string, options: Json, opts: WriteOptions): JsonObject {
    const ns = def.namespaced ? namespace : ''
    const old = this.stored(def, ns, name)
    if (old === undefined) throw notFound(def.resource, def.group, name)
    const om = metaOf(old)
    const pre = objectAt(isObject(options) ? options : undefined, 'preconditions')
    const preUid = stringAt(pre, 'uid')
    const preRv = stringAt(pre, 'resourceVersion')
    if (def.group === '' && def.resource === 'namespaces') {
      // The namespace registry checks preconditions itself, with the storage layer's words.
      if (preUid !== undefined && preUid !== om.uid) throw conflict(def.resource, def.group, name, `Precondition failed: UID in precondition: ${preUid}, UID in object meta: ${String(om.uid)}`)
      if (preRv !== undefined && preRv !== om.resourceVersion) throw conflict(def.resource, def.group, name, `Precondition failed: ResourceVersion in precondition: ${preRv}, ResourceVersion in object meta: ${String(om.resourceVersion)}`)
    }
    // rest.BeforeDelete names the conflict by the stored object's Kind.
    if (preUid !== undefined && preUid !== om.uid) throw deletePreconditionFailed(def.kind, kindGroup(def), name, 'UID', preUid, String(om.uid))
    if (preRv !== undefined && preRv !== om.resourceVersion) throw deletePreconditionFailed(def.kind, kindGroup(def), name, 'ResourceVersion', preRv, String(om.resourceVersion))
    const finalizers = om.finalizers
    if (opts.dryRun) return this.deleteResult(def, old)
    if (def.finalizeOnDelete !== undefined && om.deletionTimestamp === undefined) {
      // The kind's registry holds the delete with its own finalizer; a controller finishes it.
      const marked = clone(old)
      const mm = metaOf(marked)
      const now = rfc3339(this.opts.now())
      mm.deletionTimestamp = now
      def.finalizeOnDelete(marked, now)
      return this.present(def, this.commit(def, 'MODIFIED', marked, old))
    }
    if (Array.isArray(finalizers) && finalizers.length > 0) {
      // Finalizers hold the object: it is only marked, and goes away when the last finalizer is removed.
      if (om.deletionTimestamp !== undefined) return this.present(def, old)
      const marked = clone(old)
      const mm = metaOf(marked)
      mm.deletionTimestamp = rfc3339(this.opts.now())
      mm.deletionGracePeriodSeconds = 0
      return this.present(def, this.commit(def, 'MODIFIED', marked, old))
    }
    if (def.group === '' && def.resource === 'namespaces') return this.deleteNamespace(def, old)
    const gone = this.commit(def, 'DELETED', clone(old), old)
    return this.deleteResult(def, gone)
  }

  /** The uid of a PUT body is a precondition on the stored object's (`have`, '' when there is none): 409. */
  private checkUidPrecondition (def: ResourceDef, ns: string, name: string, body: Json, have: string): void {
    const sent = isObject(body) ? stringAt(objectAt(body, 'metadata'), 'uid') ?? '' : ''
    if (sent === '' || sent === have) return
    const key = `${def.etcdPrefix}/${def.namespaced ? `${ns}/` : ''}${name}`
    throw storageUidPreconditionFailed(def.resource, def.group, name, key, sent, have)
  }

  private deleteResult (def: ResourceDef, obj: JsonObject): JsonObject {
    if (def.returnDeletedObject) return this.present(def, obj)
    const m = objectAt(obj, 'metadata')
    const details: JsonObject = { name: stringAt(m, 'name') ?? '' }
    if (def.group !== '') details.group = def.group
    details.kind = def.resource
    details.uid = stringAt(m, 'uid') ?? ''
    return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details }
  }

  /** Namespace deletion: Terminating, then its content is removed, then the namespace (the controller's job). */
  private deleteNamespace (def: ResourceDef, old: JsonObject): JsonObject {
    const name = stringAt(objectAt(old, 'metadata'), 'name') ?? ''
    const terminating = clone(old)
    const tm = metaOf(terminating)
    tm.deletionTimestamp = rfc3339(this.opts.now())
    terminating.status = { phase: 'Terminating' }
    const shown = this.present(def, this.commit(def, 'MODIFIED', terminating, old))
    const seen = new Set<string>()
    for (const d of this.defs()) {
      if (!d.namespaced || seen.has(d.storage)) continue
      seen.add(d.storage)
      for (const [k, o] of [...this.store(d).entries()]) {
        if (k.startsWith(`${name}/`)) this.commit(d, 'DELETED', clone(o), o)
      }
    }
    const last = this.stored(def, '', name)
    if (last !== undefined) this.commit(def, 'DELETED', last, last)
    return shown
  }

  deleteCollection (def: ResourceDef, namespace: string | undefined, sel: Selectors, opts: WriteOptions): JsonObject[] {
    const out: JsonObject[] = []
    for (const o of [...this.store(def).values()]) {
      const m = objectAt(o, 'metadata')
      if (namespace !== undefined && stringAt(m, 'namespace') !== namespace) continue
      if (!this.matches(def, o, sel)) continue
      this.delete(def, stringAt(m, 'namespace') ?? '', stringAt(m, 'name') ?? '', null, opts)
      out.push(this.present(def, o))
    }
    return out
  }

  /**
   * Starts a watch. With no resourceVersion (or "0") the current state arrives first as ADDED events; with
   * one, the retained history after it is replayed; one older than the history gets a 410 ERROR event.
   */
  watch (def: ResourceDef, namespace: string | undefined, rvText: string | undefined, sel: Selectors, sink: WatchSink): WatchHandle {
    const relevant = (ev: ChangeEvent): boolean => {
      if (ev.storage !== def.storage) return false
      return namespace === undefined || stringAt(objectAt(ev.object, 'metadata'), 'namespace') === namespace
    }
    const deliver = (ev: ChangeEvent): void => {
      if (!relevant(ev)) return
      const now = this.matches(def, ev.object, sel)
      const before = ev.prev !== undefined && ev.type !== 'ADDED' && this.matches(def, ev.prev, sel)
      let type: EventType | undefined
      if (ev.type === 'ADDED') type = now ? 'ADDED' : undefined
      else if (ev.type === 'DELETED') type = before ? 'DELETED' : undefined
      // An object moving in or out of the selection is, to this watcher, created or deleted.
      else type = now && before ? 'MODIFIED' : now ? 'ADDED' : before ? 'DELETED' : undefined
      if (type !== undefined) sink(type, this.present(def, ev.object))
    }
    const n = rvText === undefined || rvText === '' ? 0 : Number(rvText)
    if (!Number.isInteger(n) || n < 0) {
      sink('ERROR', new ApiError(400, 'BadRequest', `invalid resource version: ${rvText ?? ''}`).status)
      return { stop: () => undefined }
    }
    if (n === 0) {
      for (const o of this.list(def, namespace, { ...sel, resourceVersion: undefined, resourceVersionMatch: undefined, limit: undefined, continueToken: undefined }).items) sink('ADDED', o)
    } else {
      if (n < this.compactedRv) {
        // The watch cache's wording: the number is the oldest resourceVersion it can still start from.
        sink('ERROR', expired(`too old resource version: ${n} (${this.compactedRv})`).status)
        return { stop: () => undefined }
      }
      for (const ev of this.history) if (ev.rv > n) deliver(ev)
    }
    const listener = (ev: ChangeEvent): void => deliver(ev)
    this.listeners.add(listener)
    return { stop: () => { this.listeners.delete(listener) } }
  }

  /** Seeds the objects a fresh cluster has (namespaces and the `kubernetes` Service), as writes. */
  bootstrap (namespaces: readonly string[], apiServerPort: number): void {
    const nsDef = this.defFor('', 'namespaces')
    const opts: WriteOptions = { dryRun: false, fieldValidation: 'Strict', warnings: [] }
    for (const ns of namespaces) this.create(nsDef, '', { metadata: { name: ns } }, opts)
    const svc = this.defFor('', 'services')
    const first = this.opts.serviceCidrs[0]
    this.create(svc, 'default', {
      metadata: { name: 'kubernetes', labels: { component: 'apiserver', provider: 'kubernetes' } },
      spec: { type: 'ClusterIP', clusterIP: first === undefined ? '' : first.at(1), ports: [{ name: 'https', port: 443, protocol: 'TCP', targetPort: apiServerPort }] }
    }, opts)
  }
}

function encodeContinue (rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: 'meta.k8s.io/v1', rv, start })).toString('base64url')
}

function decodeContinue (token: string): { rv: number, start: string } {
  try {
    const v: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
    if (isObject(v) && typeof v.rv === 'number' && typeof v.start === 'string') return { rv: v.rv, start: v.start }
  } catch { /* fall through to the error below */ }
  throw badRequest(`invalid continue token`)
}
