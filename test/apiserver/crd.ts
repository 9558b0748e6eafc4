// apiextensions.k8s.io/v1 CustomResourceDefinitions, as kube-apiserver's apiextensions-apiserver serves them:
// the CRD kind itself (defaults, the cheap part of its validation, status on create), the naming and
// establishing controllers' status (pkg/controller/status/naming_controller.go, pkg/controller/establish), the
// resources an established CRD serves (one ResourceDef per served version, pruned, defaulted and validated by
// the version's structural schema: structural.ts), their discovery documents, and the finalizer that removes
// the instances when a CRD is deleted (pkg/controller/finalizer). The pure parts are functions; CrdController
// is the thin shell that applies them to the registry.
import { createHash } from 'node:crypto'
import { fieldInvalid, fieldRequired, fieldUnsupported, type StatusCause } from './errors.js'
import { arrayAt, clone, deepEqual, isObject, type Json, type JsonObject, objectAt, orderKeys, stringAt } from './json.js'
import type { Registry, WriteOptions } from './registry.js'
import { def, keepOtherHalf, orderTop, type ResourceDef } from './resources.js'
import { parseFieldSelector, parseLabelSelector } from './selectors.js'
import { defaultStructural, pruneStructural, sortKeysDeep, validateStructural } from './structural.js'
import { AGE, age, col, NAME, nameOf } from './tables.js'

const GROUP = 'apiextensions.k8s.io'
/** The finalizer the CRD registry puts on every deleted CRD; the finalizer controller removes it after the instances. */
export const CLEANUP_FINALIZER = 'customresourcecleanup.apiextensions.k8s.io'
const VERBS = ['delete', 'deletecollection', 'get', 'list', 'patch', 'create', 'update', 'watch']
const STATUS_VERBS = ['get', 'patch', 'update']

const NAMES_ORDER = ['plural', 'singular', 'shortNames', 'kind', 'listKind', 'categories']
const VERSION_ORDER = ['name', 'served', 'storage', 'deprecated', 'deprecationWarning', 'schema', 'subresources', 'additionalPrinterColumns', 'selectableFields']

function specOf (crd: JsonObject): JsonObject { return objectAt(crd, 'spec') ?? {} }
function namesOf (crd: JsonObject): JsonObject { return objectAt(specOf(crd), 'names') ?? {} }
function versionsOf (crd: JsonObject): JsonObject[] { return (arrayAt(specOf(crd), 'versions') ?? []).filter(isObject) }
function conditionsOf (crd: JsonObject): JsonObject[] { return (arrayAt(objectAt(crd, 'status'), 'conditions') ?? []).filter(isObject) }

function condition (crd: JsonObject, type: string): JsonObject | undefined {
  return conditionsOf(crd).find(c => c.type === type)
}

export function isEstablished (crd: JsonObject): boolean {
  return condition(crd, 'Established')?.status === 'True'
}

function isDeleting (crd: JsonObject): boolean {
  return objectAt(crd, 'metadata')?.deletionTimestamp !== undefined
}

/** The CustomResourceDefinition kind (cluster-scoped, /status, generation). */
export function crdDef (): ResourceDef {
  return def({ group: GROUP, version: 'v1', resource: 'customresourcedefinitions', singular: 'customresourcedefinition', kind: 'CustomResourceDefinition', namespaced: false }, {
    shortNames: ['crd', 'crds'],
    etcdPrefix: `/registry/${GROUP}/customresourcedefinitions`,
    hasStatus: true,
    tracksGeneration: true,
    printer: { columns: [NAME, col('Created At', 'CreationTimestamp is a timestamp representing the server time when this object was created.', 0, 'date')], cells: (o) => [nameOf(o), stringAt(objectAt(o, 'metadata'), 'creationTimestamp') ?? ''] },
    // SetDefaults_CustomResourceDefinition(Spec): conversion None, singular and listKind from the kind.
    defaults: o => {
      const spec = objectAt(o, 'spec')
      if (spec === undefined) return
      spec.conversion ??= { strategy: 'None' }
      const names = objectAt(spec, 'names')
      const kind = stringAt(names, 'kind') ?? ''
      if (names !== undefined && (stringAt(names, 'singular') ?? '') === '' && kind !== '') names.singular = kind.toLowerCase()
      if (names !== undefined && (stringAt(names, 'listKind') ?? '') === '' && kind !== '') names.listKind = `${kind}List`
    },
    // The create response carries no accepted names yet: the naming controller sets them just after.
    prepareForCreate: o => {
      const storage = versionsOf(o).filter(v => v.storage === true).map(v => v.name ?? '')
      o.status = { conditions: null, acceptedNames: { plural: '', kind: '' }, storedVersions: storage.length === 1 ? storage : null }
    },
    prepareForUpdate: (next, old, sub) => {
      keepOtherHalf(next, old, sub)
      if (sub !== '') return
      // A new storage version is added to storedVersions (the strategy's PrepareForUpdate).
      const status = objectAt(next, 'status') ?? {}
      const stored = (arrayAt(status, 'storedVersions') ?? []).slice()
      for (const v of versionsOf(next)) if (v.storage === true && typeof v.name === 'string' && !stored.includes(v.name)) stored.push(v.name)
      status.storedVersions = stored
      next.status = status
    },
    validate: (o, _old, sub) => sub === 'status' ? [] : validateCrd(o),
    finalizeOnDelete: (marked, now) => {
      const meta = objectAt(marked, 'metadata') ?? {}
      const finalizers = (arrayAt(meta, 'finalizers') ?? []).slice()
      if (!finalizers.includes(CLEANUP_FINALIZER)) finalizers.push(CLEANUP_FINALIZER)
      meta.finalizers = finalizers
      const status = objectAt(marked, 'status') ?? {}
      status.conditions = [...conditionsOf(marked).filter(c => c.type !== 'Terminating'),
        { type: 'Terminating', status: 'True', lastTransitionTime: now, reason: 'InstanceDeletionPending', message: 'CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon' }]
      marked.status = status
    },
    order: o => {
      const spec = objectAt(o, 'spec')
      if (spec !== undefined) {
        const names = objectAt(spec, 'names')
        if (names !== undefined) spec.names = orderKeys(names, NAMES_ORDER)
        const versions = arrayAt(spec, 'versions')
        if (versions !== undefined) spec.versions = versions.map(v => isObject(v) ? orderKeys(v, VERSION_ORDER) : v)
        o.spec = orderKeys(spec, ['group', 'names', 'scope', 'versions', 'conversion', 'preserveUnknownFields'])
      }
      const status = objectAt(o, 'status')
      if (status !== undefined) {
        const accepted = objectAt(status, 'acceptedNames')
        if (accepted !== undefined) status.acceptedNames = orderKeys(accepted, NAMES_ORDER)
        o.status = orderKeys(status, ['conditions', 'acceptedNames', 'storedVersions'])
      }
      return orderTop(o, ['spec', 'status'])
    }
  })
}

/**
 * The checks of ValidateCustomResourceDefinition that a mistyped CRD most likely fails, with the real causes'
 * fields, reasons and (but for the storage-version one, whose Go %#v dump is not reproduced) messages.
 */
export function validateCrd (o: JsonObject): StatusCause[] {
  const causes: StatusCause[] = []
  const spec = specOf(o)
  const names = namesOf(o)
  const group = stringAt(spec, 'group') ?? ''
  const plural = stringAt(names, 'plural') ?? ''
  const name = stringAt(objectAt(o, 'metadata'), 'name') ?? ''
  if (name !== `${plural}.${group}`) causes.push(fieldInvalid('metadata.name', name, 'must be spec.names.plural+"."+spec.group'))
  if (group === '') causes.push(fieldRequired('spec.group'))
  else if (!group.includes('.')) causes.push(fieldInvalid('spec.group', group, 'should be a domain with at least one dot'))
  const scope = spec.scope
  if (scope !== 'Cluster' && scope !== 'Namespaced') causes.push(fieldUnsupported('spec.scope', scope ?? '', ['Cluster', 'Namespaced']))
  const versions = versionsOf(o)
  if (versions.length === 0) causes.push(fieldInvalid('spec.versions', [], 'must have exactly one version marked as storage version'))
  else if (versions.filter(v => v.storage === true).length !== 1) causes.push(fieldInvalid('spec.versions', versions, 'must have exactly one version marked as storage version'))
  versions.forEach((v, i) => {
    if (!isObject(objectAt(v, 'schema')?.openAPIV3Schema)) causes.push(fieldRequired(`spec.versions[${i}].schema.openAPIV3Schema`, 'schemas are required'))
  })
  if (plural === '') causes.push(fieldRequired('spec.names.plural'))
  if ((stringAt(names, 'kind') ?? '') === '') causes.push(fieldRequired('spec.names.kind'))
  if ((arrayAt(objectAt(o, 'status'), 'storedVersions') ?? []).length === 0) causes.push(fieldInvalid('status.storedVersions', null, 'must have at least one stored version'))
  return causes
}

/**
 * The status the naming and establishing controllers give `crd`, knowing the other CRDs: a name (plural,
 * singular, a short name, kind, list kind) that another CRD of the same group has accepted is refused (the last
 * conflict found names the reason, as in calculateNamesAndConditions), the rest accepted; Established once all
 * names are. `now` is RFC 3339; a condition keeps its lastTransitionTime while its status holds.
 */
export function crdStatus (crd: JsonObject, others: readonly JsonObject[], now: string): JsonObject {
  const group = stringAt(specOf(crd), 'group') ?? ''
  const status = clone(objectAt(crd, 'status') ?? {})
  const old = objectAt(status, 'acceptedNames') ?? {}
  const requested = namesOf(crd)
  const taken = new Set<string>()
  const kinds = new Set<string>()
  for (const o of others) {
    if (stringAt(specOf(o), 'group') !== group || stringAt(objectAt(o, 'metadata'), 'name') === stringAt(objectAt(crd, 'metadata'), 'name')) continue
    const a = objectAt(objectAt(o, 'status'), 'acceptedNames') ?? {}
    for (const k of ['plural', 'singular']) { const v = stringAt(a, k); if (v !== undefined && v !== '') taken.add(v) }
    for (const s of arrayAt(a, 'shortNames') ?? []) if (typeof s === 'string') taken.add(s)
    for (const k of ['kind', 'listKind']) { const v = stringAt(a, k); if (v !== undefined && v !== '') kinds.add(v) }
  }
  const accepted: JsonObject = {}
  let reason = 'NoConflicts'
  let message = 'no conflicts found'
  const take = (key: string, pool: Set<string>, conflictReason: string): void => {
    const want = requested[key]
    if (typeof want === 'string' && want !== '' && pool.has(want)) {
      reason = conflictReason
      message = `"${want}" is already in use`
      if (old[key] !== undefined) accepted[key] = clone(old[key] ?? null)
    } else if (want !== undefined) accepted[key] = clone(want)
  }
  take('plural', taken, 'PluralConflict')
  take('singular', taken, 'SingularConflict')
  const shorts = (arrayAt(requested, 'shortNames') ?? []).filter((s): s is string => typeof s === 'string')
  const shortConflict = shorts.find(s => taken.has(s))
  if (shortConflict !== undefined) {
    reason = 'ShortNamesConflict'
    message = `"${shortConflict}" is already in use`
    if (old.shortNames !== undefined) accepted.shortNames = clone(old.shortNames ?? null)
  } else if (shorts.length > 0) accepted.shortNames = shorts
  take('kind', kinds, 'KindConflict')
  take('listKind', kinds, 'ListKindConflict')
  if (requested.categories !== undefined) accepted.categories = clone(requested.categories ?? null)
  accepted.plural ??= ''
  accepted.kind ??= ''
  const namesOk = reason === 'NoConflicts'
  const keep = (c: JsonObject): JsonObject => {
    const prev = condition(crd, String(c.type))
    return { ...c, lastTransitionTime: prev !== undefined && prev.status === c.status ? prev.lastTransitionTime ?? now : now }
  }
  const conditions = conditionsOf(crd).filter(c => c.type !== 'NamesAccepted' && c.type !== 'Established')
  const established = isEstablished(crd)
    ? condition(crd, 'Established') ?? {}
    : namesOk
      ? keep({ type: 'Established', status: 'True', reason: 'InitialNamesAccepted', message: 'the initial names have been accepted' })
      : keep({ type: 'Established', status: 'False', reason: 'NotAccepted', message: 'not all names are accepted' })
  status.conditions = [keep({ type: 'NamesAccepted', status: namesOk ? 'True' : 'False', reason, message }), established, ...conditions]
  status.acceptedNames = accepted
  return status
}

/** discovery.StorageVersionHash: the first 8 bytes of sha256("group/version/kind"), base64. */
export function storageVersionHash (group: string, version: string, kind: string): string {
  return createHash('sha256').update(`${group}/${version}/${kind}`).digest().subarray(0, 8).toString('base64')
}

/** A JSONPath of the simple form `.a.b.c` (what printer columns use in practice), else undefined. */
function simplePath (obj: JsonObject, path: string): Json | undefined {
  if (!/^(\.[A-Za-z0-9_-]+)+$/.test(path)) return undefined
  let v: Json | undefined = obj
  for (const k of path.slice(1).split('.')) v = isObject(v) ? v[k] : undefined
  return v
}

/** The structural schema of one version, with `metadata` left to the server (ObjectMeta), as the real one does. */
function structuralOf (version: JsonObject): JsonObject {
  const schema = clone(objectAt(objectAt(version, 'schema'), 'openAPIV3Schema') ?? { type: 'object', 'x-kubernetes-preserve-unknown-fields': true })
  const props = objectAt(schema, 'properties')
  if (props !== undefined) delete props.metadata
  return schema
}

/**
 * The resources `crd` serves: one per served version, all in one storage (conversion None: only apiVersion
 * differs), written and read as unstructured objects (keys sorted at every level).
 */
export function customResourceDefs (crd: JsonObject): ResourceDef[] {
  const spec = specOf(crd)
  const names = objectAt(objectAt(crd, 'status'), 'acceptedNames') ?? namesOf(crd)
  const group = stringAt(spec, 'group') ?? ''
  const plural = stringAt(names, 'plural') ?? ''
  const kind = stringAt(names, 'kind') ?? ''
  const namespaced = spec.scope === 'Namespaced'
  return versionsOf(crd).filter(v => v.served === true).map(v => {
    const version = stringAt(v, 'name') ?? ''
    const structural = structuralOf(v)
    const hasStatus = isObject(objectAt(v, 'subresources')?.status)
    const extra = (arrayAt(v, 'additionalPrinterColumns') ?? []).filter(isObject)
    const columns = [NAME, ...extra.map(c => col(stringAt(c, 'name') ?? '', stringAt(c, 'description') ?? '', typeof c.priority === 'number' ? c.priority : 0, stringAt(c, 'type') ?? 'string', stringAt(c, 'format') ?? ''))]
    if (extra.length === 0) columns.push(AGE)
    return def({ group, version, resource: plural, singular: stringAt(names, 'singular') ?? kind.toLowerCase(), kind, namespaced }, {
      shortNames: (arrayAt(names, 'shortNames') ?? []).filter((s): s is string => typeof s === 'string'),
      etcdPrefix: `/registry/${group}/${plural}`,
      hasStatus,
      tracksGeneration: true,
      custom: { structural },
      printer: {
        columns,
        cells: (o, now) => [nameOf(o), ...(extra.length === 0 ? [age(o, now)] : extra.map(c => {
          const x = simplePath(o, stringAt(c, 'jsonPath') ?? '')
          return x === undefined ? '<none>' : typeof x === 'object' ? JSON.stringify(x) : x
        }))]
      },
      toStorage: o => o,
      fromStorage: o => o,
      defaults: o => defaultStructural(o, structural),
      // With a status subresource, status is not written on create nor through the main resource, and /status
      // writes nothing but status (the custom resource strategy).
      prepareForCreate: o => { if (hasStatus) delete o.status },
      prepareForUpdate: (next, old, sub) => {
        if (!hasStatus) return
        if (sub === 'status') {
          for (const k of Object.keys(next)) if (k !== 'status' && k !== 'metadata' && k !== 'kind' && k !== 'apiVersion') delete next[k]
          for (const [k, x] of Object.entries(old)) if (k !== 'status' && k !== 'metadata') next[k] = clone(x)
        } else if (old.status !== undefined) next.status = clone(old.status)
        else delete next.status
      },
      validate: o => validateStructural(o, structural),
      order: o => sortKeysDeep(o) as JsonObject
    })
  })
}

/** Kubernetes version priority (GA before beta before alpha, higher numbers first; others alphabetically last). */
export function compareVersions (a: string, b: string): number {
  const rank = (v: string): [number, number, number] | undefined => {
    const m = /^v(\d+)(?:(alpha|beta)(\d+))?$/.exec(v)
    if (m === null) return undefined
    return [m[2] === undefined ? 2 : m[2] === 'beta' ? 1 : 0, Number(m[1]), Number(m[3] ?? 0)]
  }
  const ra = rank(a)
  const rb = rank(b)
  if (ra === undefined || rb === undefined) return ra !== undefined ? -1 : rb !== undefined ? 1 : a < b ? -1 : a > b ? 1 : 0
  return rb[0] - ra[0] || rb[1] - ra[1] || rb[2] - ra[2]
}

export interface CustomDiscovery {
  /** APIGroup entries of /apis (legacy), in the order their groups were first served. */
  readonly groups: JsonObject[]
  /** APIGroupDiscovery items of /apis (aggregated). */
  readonly aggregated: JsonObject[]
  readonly resourceLists: Map<string, JsonObject>
}

/** The discovery documents of the custom resources served (`defs` in CRD creation order). */
export function customDiscovery (defs: readonly ResourceDef[], storageVersionOf: (d: ResourceDef) => string): CustomDiscovery {
  const byGroup = new Map<string, ResourceDef[]>()
  for (const d of defs) byGroup.set(d.group, [...byGroup.get(d.group) ?? [], d])
  const groups: JsonObject[] = []
  const aggregated: JsonObject[] = []
  const resourceLists = new Map<string, JsonObject>()
  for (const [group, ds] of byGroup) {
    const versions = [...new Set(ds.map(d => d.version))].sort(compareVersions)
    const gvs = versions.map(version => ({ groupVersion: `${group}/${version}`, version }))
    groups.push({ name: group, versions: gvs, preferredVersion: gvs[0] ?? null })
    for (const version of versions) {
      const resources: JsonObject[] = []
      for (const d of ds.filter(x => x.version === version)) {
        const main: JsonObject = { name: d.resource, singularName: d.singular, namespaced: d.namespaced, kind: d.kind, verbs: VERBS }
        if (d.shortNames.length > 0) main.shortNames = [...d.shortNames]
        main.storageVersionHash = storageVersionHash(group, storageVersionOf(d), d.kind)
        resources.push(main)
        if (d.hasStatus) resources.push({ name: `${d.resource}/status`, singularName: '', namespaced: d.namespaced, kind: d.kind, verbs: STATUS_VERBS })
      }
      resourceLists.set(`${group}/${version}`, { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources })
    }
    aggregated.push({
      metadata: { name: group, creationTimestamp: null },
      versions: versions.map(version => ({
        version,
        resources: ds.filter(x => x.version === version).sort((a, b) => a.resource < b.resource ? -1 : 1).map(d => {
          const kind = { group, version, kind: d.kind }
          const r: JsonObject = { resource: d.resource, responseKind: kind, scope: d.namespaced ? 'Namespaced' : 'Cluster', singularResource: d.singular, verbs: VERBS }
          if (d.shortNames.length > 0) r.shortNames = [...d.shortNames]
          if (d.hasStatus) r.subresources = [{ subresource: 'status', responseKind: kind, verbs: STATUS_VERBS }]
          return r
        }),
        freshness: 'Current'
      }))
    })
  }
  return { groups, aggregated, resourceLists }
}

/**
 * The controllers of apiextensions-apiserver, run against the registry after every change to a CRD (on the
 * next turn of the event loop, as theirs run beside the request): names and Established in status, the served
 * resources, and on deletion the instances removed before the CRD goes.
 */
export class CrdController {
  private readonly registry: Registry
  private readonly def: ResourceDef
  private readonly now: () => string
  private served: ResourceDef[] = []
  private storageVersions = new Map<string, string>()
  private readonly firstSeen = new Map<string, number>()
  private pending: NodeJS.Immediate | undefined
  private stopWatch: (() => void) | undefined

  constructor (registry: Registry, crdResource: ResourceDef, now: () => string) {
    this.registry = registry
    this.def = crdResource
    this.now = now
  }

  /** The custom resources served now, in CRD creation order. */
  resources (): readonly ResourceDef[] { return this.served }

  /** The storage version (status.storedVersions' owner) of a served custom resource. */
  storageVersion (d: ResourceDef): string { return this.storageVersions.get(d.storage) ?? d.version }

  start (): void {
    const handle = this.registry.watch(this.def, undefined, String(this.registry.resourceVersion), { labels: [], fields: [] }, () => {
      this.pending ??= setImmediate(() => { this.pending = undefined; this.reconcile() })
    })
    this.stopWatch = handle.stop
  }

  stop (): void {
    this.stopWatch?.()
    if (this.pending !== undefined) clearImmediate(this.pending)
    this.pending = undefined
  }

  /** Every CRD, in the order they were first seen (the order discovery lists their resources in). */
  private list (): JsonObject[] {
    const all = { labels: parseLabelSelector(''), fields: parseFieldSelector('', []), resourceVersion: undefined, resourceVersionMatch: undefined, limit: undefined, continueToken: undefined }
    const items = this.registry.list(this.def, undefined, all).items
    const uidOf = (o: JsonObject): string => stringAt(objectAt(o, 'metadata'), 'uid') ?? ''
    for (const o of items) if (!this.firstSeen.has(uidOf(o))) this.firstSeen.set(uidOf(o), this.firstSeen.size)
    return items.sort((a, b) => (this.firstSeen.get(uidOf(a)) ?? 0) - (this.firstSeen.get(uidOf(b)) ?? 0))
  }

  reconcile (): void {
    const opts = (): WriteOptions => ({ dryRun: false, fieldValidation: 'Ignore', warnings: [] })
    for (const crd of this.list()) {
      const name = stringAt(objectAt(crd, 'metadata'), 'name') ?? ''
      if (isDeleting(crd)) {
        const finalizers = arrayAt(objectAt(crd, 'metadata'), 'finalizers') ?? []
        if (!finalizers.includes(CLEANUP_FINALIZER)) continue
        const seen = new Set<string>()
        for (const d of customResourceDefs(crd)) {
          if (seen.has(d.storage)) continue
          seen.add(d.storage)
          this.registry.deleteCollection(d, undefined, { labels: [], fields: [] }, opts())
        }
        this.registry.update(this.def, '', name, '', cur => {
          const next = clone(cur ?? {})
          const meta = objectAt(next, 'metadata') ?? {}
          meta.finalizers = (arrayAt(meta, 'finalizers') ?? []).filter(f => f !== CLEANUP_FINALIZER)
          return next
        }, { ...opts(), fromPut: false })
        continue
      }
      const others = this.list()
      const status = crdStatus(crd, others, this.now())
      if (deepEqual(status, objectAt(crd, 'status') ?? {})) continue
      this.registry.update(this.def, '', name, 'status', cur => ({ ...clone(cur ?? {}), status }), { ...opts(), fromPut: false })
    }
    const live = this.list().filter(c => isEstablished(c) && !isDeleting(c))
    this.served = live.flatMap(c => customResourceDefs(c))
    this.storageVersions = new Map(live.flatMap(c => {
      const storage = versionsOf(c).find(v => v.storage === true)
      return customResourceDefs(c).map(d => [d.storage, stringAt(storage, 'name') ?? d.version] as const)
    }))
  }
}
