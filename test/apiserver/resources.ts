// The kinds the stand-in serves and their per-kind strategy: scope, defaulting, validation, what an update
// keeps from the stored object, field selectors, printing. The registry applies these generically.
import { fieldInvalid, fieldRequired, fieldUnsupported, type StatusCause } from './errors.js'
import { parseIPSloppy, type ServiceCidr } from './ip.js'
import { arrayAt, clone, deepEqual, isObject, type Json, type JsonObject, objectAt, orderKeys, stringAt } from './json.js'
import {
  allocateService, defaultService, orderService, prepareServiceStatusUpdate, prepareServiceUpdate,
  resetServiceStatusOnCreate, serviceClusterIPs, serviceNodePorts, serviceWarnings, validateServiceName, validateServiceSpec,
  validateServiceStatus, validateServiceUpdate
} from './service.js'
import {
  type Column, configMapPrinter, endpointSlicePrinter, eventPrinter, leasePrinter, namespacePrinter, nodePrinter, podPrinter,
  servicePrinter, type TablePrinter
} from './tables.js'

export interface AllocationContext {
  /** The other stored objects of the same storage (the one being written excluded); built on first use. */
  readonly others: () => readonly JsonObject[]
  /** The stored object an update replaces; undefined on create. */
  readonly old?: JsonObject
  readonly random: () => number
  readonly serviceCidrs: readonly ServiceCidr[]
}

export interface ResourceDef {
  readonly group: string
  readonly version: string
  readonly resource: string
  readonly singular: string
  readonly kind: string
  readonly namespaced: boolean
  readonly shortNames: readonly string[]
  /** Objects are stored once per storage key; events.k8s.io/v1 Events are a view of core v1 Events. */
  readonly storage: string
  /** The etcd key prefix (`/registry/services/specs`, `/registry/minions`, else `/registry/<resource>`): storage errors quote the key. */
  readonly etcdPrefix: string
  /**
   * The kind's update validation runs ValidateObjectMetaUpdate itself after rest.BeforeUpdate's generic check, so
   * a changed uid is named twice in the 422 (every kind here but core/v1 Events and EndpointSlices: golden
   * uid-patch-immutable-422.txt, uid-patch-immutable-endpointslice-422.txt).
   */
  readonly validatesMetaUpdate: boolean
  readonly hasStatus: boolean
  readonly allowCreateOnUpdate: boolean
  readonly tracksGeneration: boolean
  /** Services return the deleted object; most kinds return a Status Success. */
  readonly returnDeletedObject: boolean
  readonly fieldLabels: readonly string[]
  readonly fields: (stored: JsonObject) => Record<string, string>
  readonly printer: TablePrinter
  /** External (this group/version) form to stored form and back; identity for most kinds. */
  readonly toStorage: (obj: JsonObject) => JsonObject
  readonly fromStorage: (obj: JsonObject) => JsonObject
  /** Defaulting applied to every write after decoding (external form). */
  readonly defaults: (obj: JsonObject) => void
  readonly prepareForCreate: (obj: JsonObject) => void
  readonly prepareForUpdate: (next: JsonObject, old: JsonObject, subresource: '' | 'status') => void
  readonly validateName: (name: string) => StatusCause[]
  readonly validate: (obj: JsonObject, old: JsonObject | undefined, subresource: '' | 'status') => StatusCause[]
  readonly allocate: (obj: JsonObject, ctx: AllocationContext) => StatusCause[]
  /** Warnings (not errors) the real server returns for an accepted write of the main resource. */
  readonly warnings: (obj: JsonObject) => string[]
  readonly order: (obj: JsonObject) => JsonObject
  /**
   * Served from a CustomResourceDefinition (crd.ts): the body must name its apiVersion and kind, unknown fields
   * are pruned by the version's structural schema, list items keep their kind and apiVersion, and strategic
   * merge patch is refused. Undefined for the built-in kinds.
   */
  readonly custom?: { readonly structural: JsonObject }
  /**
   * A kind whose registry holds every delete with its own finalizer (CustomResourceDefinitions: instances are
   * removed first): applied to the object marked for deletion, which is returned and stays until a controller
   * removes the finalizer.
   */
  readonly finalizeOnDelete?: (marked: JsonObject, now: string) => void
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/

export function validateSubdomainName (name: string): StatusCause[] {
  if (name.length > 253) return [fieldInvalid('metadata.name', name, 'must be no more than 253 characters')]
  if (!DNS1123_SUBDOMAIN.test(name)) {
    return [fieldInvalid('metadata.name', name, "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
  }
  return []
}

function validateLabelName (name: string): StatusCause[] {
  if (name.length > 63) return [fieldInvalid('metadata.name', name, 'must be no more than 63 characters')]
  if (!DNS1123_LABEL.test(name)) {
    return [fieldInvalid('metadata.name', name, "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')")]
  }
  return []
}

const META_ORDER = ['name', 'generateName', 'namespace', 'selfLink', 'uid', 'resourceVersion', 'generation', 'creationTimestamp',
  'deletionTimestamp', 'deletionGracePeriodSeconds', 'labels', 'annotations', 'ownerReferences', 'finalizers', 'managedFields']

export function orderTop (obj: JsonObject, rest: readonly string[]): JsonObject {
  const meta = objectAt(obj, 'metadata')
  const out = orderKeys(obj, ['kind', 'apiVersion', 'metadata', ...rest])
  if (meta !== undefined) out.metadata = orderKeys(meta, META_ORDER)
  return out
}

export function metaFields (obj: JsonObject): Record<string, string> {
  const meta = objectAt(obj, 'metadata')
  return { 'metadata.name': stringAt(meta, 'name') ?? '', 'metadata.namespace': stringAt(meta, 'namespace') ?? '' }
}

const identity = (o: JsonObject): JsonObject => o
const nothing = (): void => undefined
const noCauses = (): StatusCause[] => []

export interface Base {
  group: string, version: string, resource: string, singular: string, kind: string, namespaced: boolean
}

export function def (base: Base, rest: Partial<ResourceDef>): ResourceDef {
  return {
    ...base,
    shortNames: [],
    storage: `${base.group}/${base.resource}`,
    etcdPrefix: `/registry/${base.resource}`,
    validatesMetaUpdate: true,
    hasStatus: false,
    allowCreateOnUpdate: false,
    tracksGeneration: false,
    returnDeletedObject: false,
    fieldLabels: base.namespaced ? ['metadata.name', 'metadata.namespace'] : ['metadata.name'],
    fields: metaFields,
    printer: { columns: [], cells: () => [] },
    toStorage: identity,
    fromStorage: identity,
    defaults: nothing,
    prepareForCreate: nothing,
    prepareForUpdate: nothing,
    validateName: validateSubdomainName,
    validate: noCauses,
    allocate: noCauses,
    warnings: () => [],
    order: o => orderTop(o, ['spec', 'status']),
    ...rest
  }
}

/** The status subresource keeps spec; the main resource keeps status (the generic status strategy). */
export function keepOtherHalf (next: JsonObject, old: JsonObject, subresource: '' | 'status'): void {
  if (subresource === 'status') next.spec = clone(old.spec ?? {})
  else if (old.status !== undefined) next.status = clone(old.status)
  else delete next.status
  if (old.spec === undefined && subresource === 'status') delete next.spec
}

function namespaceDef (): ResourceDef {
  return def({ group: '', version: 'v1', resource: 'namespaces', singular: 'namespace', kind: 'Namespace', namespaced: false }, {
    shortNames: ['ns'],
    hasStatus: true,
    fieldLabels: ['metadata.name', 'status.phase'],
    fields: o => ({ ...metaFields(o), 'status.phase': stringAt(objectAt(o, 'status'), 'phase') ?? '' }),
    printer: namespacePrinter,
    validateName: validateLabelName,
    defaults: o => {
      const meta = objectAt(o, 'metadata') ?? {}
      const name = stringAt(meta, 'name')
      if (name !== undefined && name !== '') meta.labels = { ...(objectAt(meta, 'labels') ?? {}), 'kubernetes.io/metadata.name': name }
      const spec = objectAt(o, 'spec') ?? {}
      spec.finalizers ??= ['kubernetes']
      o.spec = spec
    },
    prepareForCreate: o => { o.status = { phase: 'Active' } },
    prepareForUpdate: (next, old, sub) => {
      keepOtherHalf(next, old, sub)
      // Finalizers of a namespace change only through /finalize.
      const spec = objectAt(next, 'spec') ?? {}
      spec.finalizers = clone(objectAt(old, 'spec')?.finalizers ?? ['kubernetes'])
      next.spec = spec
    }
  })
}

function serviceDef (goldenColumns: readonly Column[] | undefined): ResourceDef {
  return def({ group: '', version: 'v1', resource: 'services', singular: 'service', kind: 'Service', namespaced: true }, {
    shortNames: ['svc'],
    etcdPrefix: '/registry/services/specs',
    hasStatus: true,
    returnDeletedObject: true,
    fieldLabels: ['metadata.name', 'metadata.namespace', 'spec.clusterIP', 'spec.type'],
    fields: o => ({ ...metaFields(o), 'spec.clusterIP': stringAt(objectAt(o, 'spec'), 'clusterIP') ?? '', 'spec.type': stringAt(objectAt(o, 'spec'), 'type') ?? '' }),
    printer: servicePrinter(goldenColumns),
    defaults: defaultService,
    prepareForCreate: resetServiceStatusOnCreate,
    prepareForUpdate: (next, old, sub) => {
      if (sub === 'status') prepareServiceStatusUpdate(next, old)
      else prepareServiceUpdate(next, old)
    },
    validateName: validateServiceName,
    validate: (o, old, sub) => {
      if (sub === 'status') return validateServiceStatus(o)
      return [...validateServiceSpec(o), ...(old === undefined ? [] : validateServiceUpdate(o, old))]
    },
    // An update that keeps every allocated field as it was allocates nothing: the real registry checks its
    // allocators only for what changed. Skipping it keeps the scan of every other Service (this stand-in keeps
    // no allocator bitmaps) off the writes that only touch metadata, such as a controller's annotation.
    allocate: (o, ctx) => {
      if (ctx.old !== undefined && sameServiceAllocation(o, ctx.old)) return []
      const others = ctx.others()
      return allocateService(o, {
        cidrs: ctx.serviceCidrs,
        usedIPs: new Set(others.flatMap(serviceClusterIPs)),
        usedNodePorts: new Set(others.flatMap(serviceNodePorts)),
        random: ctx.random
      })
    },
    warnings: serviceWarnings,
    order: o => { orderService(o); return orderTop(o, ['spec', 'status']) }
  })
}

/** The spec fields a Service's allocations come from (cluster IPs, families, node ports). */
function allocationOf (o: JsonObject): Json {
  const spec = objectAt(o, 'spec') ?? {}
  const ports = (arrayAt(spec, 'ports') ?? []).map(p => (isObject(p) ? p.nodePort ?? null : null))
  return [spec.type ?? null, spec.clusterIP ?? null, spec.clusterIPs ?? null, spec.ipFamilies ?? null, spec.ipFamilyPolicy ?? null,
    spec.allocateLoadBalancerNodePorts ?? null, spec.healthCheckNodePort ?? null, ports]
}

function sameServiceAllocation (next: JsonObject, old: JsonObject): boolean {
  return deepEqual(allocationOf(next), allocationOf(old))
}

function configMapDef (): ResourceDef {
  return def({ group: '', version: 'v1', resource: 'configmaps', singular: 'configmap', kind: 'ConfigMap', namespaced: true }, {
    shortNames: ['cm'],
    printer: configMapPrinter,
    validate: (o, old) => {
      const causes: StatusCause[] = []
      for (const field of ['data', 'binaryData']) {
        const m = o[field]
        if (m === undefined || m === null) continue
        if (!isObject(m)) { causes.push(fieldInvalid(field, m, 'must be a map')); continue }
        for (const [k, v] of Object.entries(m)) {
          if (!/^[-._a-zA-Z0-9]+$/.test(k)) causes.push(fieldInvalid(`${field}[${k}]`, k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"))
          if (typeof v !== 'string') causes.push(fieldInvalid(`${field}[${k}]`, v, 'must be a string'))
        }
      }
      if (old !== undefined && old.immutable === true && (JSON.stringify(old.data ?? null) !== JSON.stringify(o.data ?? null) || JSON.stringify(old.binaryData ?? null) !== JSON.stringify(o.binaryData ?? null))) {
        causes.push({ reason: 'FieldValueForbidden', field: 'data', message: 'Forbidden: field is immutable when `immutable` is set' })
      }
      return causes
    },
    order: o => orderTop(o, ['immutable', 'data', 'binaryData'])
  })
}

const NODE_STATUS_DEFAULTS: JsonObject = {
  daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
  nodeInfo: { machineID: '', systemUUID: '', bootID: '', kernelVersion: '', osImage: '', containerRuntimeVersion: '', kubeletVersion: '', kubeProxyVersion: '', operatingSystem: '', architecture: '' }
}

function nodeDef (): ResourceDef {
  return def({ group: '', version: 'v1', resource: 'nodes', singular: 'node', kind: 'Node', namespaced: false }, {
    shortNames: ['no'],
    etcdPrefix: '/registry/minions',
    hasStatus: true,
    fieldLabels: ['metadata.name', 'spec.unschedulable'],
    fields: o => ({ ...metaFields(o), 'spec.unschedulable': String(objectAt(o, 'spec')?.unschedulable === true) }),
    printer: nodePrinter,
    defaults: o => {
      o.spec ??= {}
      const status = objectAt(o, 'status') ?? {}
      for (const [k, v] of Object.entries(NODE_STATUS_DEFAULTS)) status[k] ??= clone(v)
      o.status = status
    },
    // The TaintNodesByCondition admission plugin taints every new Node not-ready until the node lifecycle
    // controller clears it (there is none here, so the taint stays, as in the golden node-create.txt).
    prepareForCreate: o => {
      const spec = objectAt(o, 'spec') ?? {}
      const taints = (arrayAt(spec, 'taints') ?? []).slice()
      if (!taints.some(t => isObject(t) && t.key === 'node.kubernetes.io/not-ready')) taints.push({ key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' })
      spec.taints = taints
      o.spec = spec
    },
    prepareForUpdate: keepOtherHalf,
    validate: o => {
      const causes: StatusCause[] = []
      const addrs = arrayAt(objectAt(o, 'status'), 'addresses') ?? []
      addrs.forEach((a, i) => {
        if (!isObject(a)) return
        const types = ['ExternalDNS', 'ExternalIP', 'Hostname', 'InternalDNS', 'InternalIP']
        if (typeof a.type !== 'string' || !types.includes(a.type)) causes.push(fieldUnsupported(`status.addresses[${i}].type`, a.type, types))
      })
      return causes
    },
    order: o => {
      const status = objectAt(o, 'status')
      if (status !== undefined) {
        const ordered = orderKeys(status, ['capacity', 'allocatable', 'phase', 'conditions', 'addresses', 'daemonEndpoints', 'nodeInfo', 'images', 'volumesInUse', 'volumesAttached', 'config', 'runtimeHandlers', 'features'])
        const conds = arrayAt(ordered, 'conditions')
        if (conds !== undefined) ordered.conditions = conds.map(c => isObject(c) ? orderKeys(c, ['type', 'status', 'lastHeartbeatTime', 'lastTransitionTime', 'reason', 'message']) : c)
        o.status = ordered
      }
      return orderTop(o, ['spec', 'status'])
    }
  })
}

function endpointSliceDef (): ResourceDef {
  return def({ group: 'discovery.k8s.io', version: 'v1', resource: 'endpointslices', singular: 'endpointslice', kind: 'EndpointSlice', namespaced: true }, {
    tracksGeneration: true,
    validatesMetaUpdate: false,
    printer: endpointSlicePrinter,
    defaults: o => {
      for (const p of (arrayAt(o, 'ports') ?? []).filter(isObject)) p.protocol ??= 'TCP'
      o.endpoints ??= null
    },
    validate: o => {
      const causes: StatusCause[] = []
      const types = ['FQDN', 'IPv4', 'IPv6']
      const at = o.addressType
      if (at === undefined || at === '') causes.push(fieldRequired('addressType'))
      else if (typeof at !== 'string' || !types.includes(at)) causes.push(fieldUnsupported('addressType', at, types))
      ;(arrayAt(o, 'endpoints') ?? []).forEach((e, i) => {
        if (!isObject(e)) return
        const addrs = arrayAt(e, 'addresses') ?? []
        if (addrs.length === 0) causes.push(fieldRequired(`endpoints[${i}].addresses`, 'must contain at least 1 address'))
        addrs.forEach((a, j) => {
          const f = `endpoints[${i}].addresses[${j}]`
          // As netutils.ParseIPSloppy reads them: no zones, IPv4 octets may have leading zeros.
          if (at === 'IPv4' && (typeof a !== 'string' || parseIPSloppy(a) !== 4)) causes.push(fieldInvalid(f, a, 'must be a valid IPv4 address'))
          if (at === 'IPv6' && (typeof a !== 'string' || parseIPSloppy(a) !== 6)) causes.push(fieldInvalid(f, a, 'must be a valid IPv6 address'))
        })
      })
      ;(arrayAt(o, 'ports') ?? []).forEach((p, i) => {
        if (!isObject(p)) return
        if (p.port !== undefined && p.port !== null && (typeof p.port !== 'number' || p.port < 1 || p.port > 65535)) causes.push(fieldInvalid(`ports[${i}].port`, p.port, 'must be between 1 and 65535, inclusive'))
      })
      return causes
    },
    order: o => {
      o.endpoints = (arrayAt(o, 'endpoints') ?? []).map(e => isObject(e) ? orderKeys(e, ['addresses', 'conditions', 'hostname', 'targetRef', 'deprecatedTopology', 'nodeName', 'zone', 'hints']) : e)
      if (arrayAt(o, 'endpoints')?.length === 0 && o.endpoints !== undefined) o.endpoints = null
      if (Array.isArray(o.ports)) o.ports = o.ports.map(p => isObject(p) ? orderKeys(p, ['name', 'protocol', 'port', 'appProtocol']) : p)
      return orderTop(o, ['addressType', 'endpoints', 'ports'])
    }
  })
}

function leaseDef (): ResourceDef {
  return def({ group: 'coordination.k8s.io', version: 'v1', resource: 'leases', singular: 'lease', kind: 'Lease', namespaced: true }, {
    allowCreateOnUpdate: true,
    printer: leasePrinter,
    validate: o => {
      const spec = objectAt(o, 'spec')
      const d = spec?.leaseDurationSeconds
      if (d !== undefined && d !== null && (typeof d !== 'number' || d <= 0)) return [fieldInvalid('spec.leaseDurationSeconds', d, 'must be greater than 0')]
      return []
    },
    order: o => {
      const spec = objectAt(o, 'spec')
      if (spec !== undefined) o.spec = orderKeys(spec, ['holderIdentity', 'leaseDurationSeconds', 'acquireTime', 'renewTime', 'leaseTransitions', 'strategy', 'preferredHolder'])
      return orderTop(o, ['spec'])
    }
  })
}

const EVENT_FIELD_LABELS = ['metadata.name', 'metadata.namespace', 'involvedObject.kind', 'involvedObject.namespace', 'involvedObject.name',
  'involvedObject.uid', 'involvedObject.apiVersion', 'involvedObject.resourceVersion', 'involvedObject.fieldPath', 'reason',
  'reportingComponent', 'source', 'type']

function eventFields (o: JsonObject): Record<string, string> {
  const io = objectAt(o, 'involvedObject')
  const out: Record<string, string> = { ...metaFields(o) }
  for (const k of ['kind', 'namespace', 'name', 'uid', 'apiVersion', 'resourceVersion', 'fieldPath']) out[`involvedObject.${k}`] = stringAt(io, k) ?? ''
  out.reason = stringAt(o, 'reason') ?? ''
  out.reportingComponent = stringAt(o, 'reportingComponent') ?? ''
  out.source = stringAt(objectAt(o, 'source'), 'component') ?? ''
  out.type = stringAt(o, 'type') ?? ''
  return out
}

const CORE_EVENT_ORDER = ['involvedObject', 'reason', 'message', 'source', 'firstTimestamp', 'lastTimestamp', 'count', 'type', 'eventTime', 'series', 'action', 'related', 'reportingComponent', 'reportingInstance']

function defaultCoreEvent (o: JsonObject): void {
  o.involvedObject ??= {}
  o.source ??= {}
  o.firstTimestamp ??= null
  o.lastTimestamp ??= null
  o.eventTime ??= null
  o.reportingComponent ??= ''
  o.reportingInstance ??= ''
}

/**
 * Event validation (ValidateEventCreate). `strict`: a new-style Event (eventTime set, or any written through
 * events.k8s.io); `eventsApi`: written through events.k8s.io, which alone checks `type` — core/v1 stores any type.
 */
function validateEventCommon (o: JsonObject, names: { regarding: string, controller: string, note: string }, strict: boolean, eventsApi: boolean): StatusCause[] {
  const causes: StatusCause[] = []
  const ns = stringAt(objectAt(o, 'metadata'), 'namespace') ?? ''
  const io = objectAt(o, 'involvedObject')
  const ioNs = stringAt(io, 'namespace') ?? ''
  if (ioNs !== '' && ioNs !== ns) causes.push(fieldInvalid(`${names.regarding}.namespace`, ioNs, 'does not match event.namespace'))
  if (strict) {
    if (o.eventTime === null || o.eventTime === undefined) causes.push(fieldRequired('eventTime'))
    if ((stringAt(o, 'reportingComponent') ?? '') === '') causes.push(fieldRequired(names.controller))
    if ((stringAt(o, 'reportingInstance') ?? '') === '') causes.push(fieldRequired('reportingInstance'))
    if ((stringAt(o, 'action') ?? '') === '') causes.push(fieldRequired('action'))
    if ((stringAt(o, 'reason') ?? '') === '') causes.push(fieldRequired('reason'))
  }
  const note = stringAt(o, 'message') ?? ''
  if (strict && note.length > 1024) causes.push(fieldInvalid(names.note, '', 'can have at most 1024 characters'))
  const type = typeof o.type === 'string' ? o.type : ''
  // Go's words: field.Invalid(type, "", "has invalid value: <type>").
  if (eventsApi && type !== 'Normal' && type !== 'Warning') causes.push(fieldInvalid('type', '', `has invalid value: ${type}`))
  return causes
}

function coreEventDef (): ResourceDef {
  return def({ group: '', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true }, {
    shortNames: ['ev'],
    storage: 'events',
    // ValidateEventUpdate checks metadata only for requests through events.k8s.io.
    validatesMetaUpdate: false,
    allowCreateOnUpdate: true,
    fieldLabels: EVENT_FIELD_LABELS,
    fields: eventFields,
    printer: eventPrinter,
    defaults: defaultCoreEvent,
    // Events written with eventTime set are new-style and validated as events.k8s.io ones are.
    validate: o => validateEventCommon(o, { regarding: 'involvedObject', controller: 'reportingComponent', note: 'message' }, o.eventTime !== null && o.eventTime !== undefined, false),
    order: o => orderTop(o, CORE_EVENT_ORDER)
  })
}

/** events.k8s.io/v1 field name -> core v1 field name (the conversion the real server performs). */
const EVENTS_V1_TO_CORE: ReadonlyArray<readonly [string, string]> = [
  ['regarding', 'involvedObject'], ['note', 'message'], ['reportingController', 'reportingComponent'],
  ['deprecatedSource', 'source'], ['deprecatedFirstTimestamp', 'firstTimestamp'], ['deprecatedLastTimestamp', 'lastTimestamp'],
  ['deprecatedCount', 'count']
]
const EVENTS_V1_ORDER = ['eventTime', 'series', 'reportingController', 'reportingInstance', 'action', 'reason', 'regarding', 'related', 'note', 'type', 'deprecatedSource', 'deprecatedFirstTimestamp', 'deprecatedLastTimestamp', 'deprecatedCount']

function renameKeys (o: JsonObject, pairs: ReadonlyArray<readonly [string, string]>): JsonObject {
  const out: JsonObject = {}
  const map = new Map(pairs)
  for (const [k, v] of Object.entries(o)) out[map.get(k) ?? k] = v
  return out
}

function eventsV1Def (): ResourceDef {
  const toCore = (o: JsonObject): JsonObject => {
    const c = renameKeys(o, EVENTS_V1_TO_CORE)
    c.apiVersion = 'v1'
    return c
  }
  const fromCore = (o: JsonObject): JsonObject => {
    const e = renameKeys(o, EVENTS_V1_TO_CORE.map(([a, b]) => [b, a] as const))
    e.apiVersion = 'events.k8s.io/v1'
    // omitempty strings of the events.k8s.io/v1 Go struct.
    for (const k of ['reportingController', 'reportingInstance', 'action', 'reason', 'note', 'type']) if (e[k] === '') delete e[k]
    if (e.deprecatedCount === 0) delete e.deprecatedCount
    e.regarding ??= {}
    e.deprecatedSource ??= {}
    e.deprecatedFirstTimestamp ??= null
    e.deprecatedLastTimestamp ??= null
    e.eventTime ??= null
    return e
  }
  return def({ group: 'events.k8s.io', version: 'v1', resource: 'events', singular: 'event', kind: 'Event', namespaced: true }, {
    shortNames: ['ev'],
    storage: 'events',
    allowCreateOnUpdate: true,
    fieldLabels: ['metadata.name', 'metadata.namespace', 'regarding.kind', 'regarding.namespace', 'regarding.name', 'regarding.uid',
      'regarding.apiVersion', 'regarding.resourceVersion', 'regarding.fieldPath', 'reason', 'reportingController', 'deprecatedSource', 'type'],
    fields: o => {
      const core = eventFields(o)
      const out: Record<string, string> = {}
      for (const [k, v] of Object.entries(core)) {
        out[k.replace(/^involvedObject\./, 'regarding.').replace(/^reportingComponent$/, 'reportingController').replace(/^source$/, 'deprecatedSource')] = v
      }
      return out
    },
    printer: eventPrinter,
    toStorage: toCore,
    fromStorage: fromCore,
    // Strategy hooks see the stored (core v1) form; only names in messages and output differ.
    defaults: defaultCoreEvent,
    validate: o => validateEventCommon(o, { regarding: 'regarding', controller: 'reportingController', note: 'note' }, true, true),
    order: o => orderTop(o, EVENTS_V1_ORDER)
  })
}

const CONTAINER_ORDER = ['name', 'image', 'command', 'args', 'workingDir', 'ports', 'envFrom', 'env', 'resources', 'resizePolicy', 'restartPolicy',
  'volumeMounts', 'volumeDevices', 'livenessProbe', 'readinessProbe', 'startupProbe', 'lifecycle', 'terminationMessagePath',
  'terminationMessagePolicy', 'imagePullPolicy', 'securityContext', 'stdin', 'stdinOnce', 'tty']
const POD_SPEC_ORDER = ['volumes', 'initContainers', 'containers', 'ephemeralContainers', 'restartPolicy', 'terminationGracePeriodSeconds',
  'activeDeadlineSeconds', 'dnsPolicy', 'nodeSelector', 'serviceAccountName', 'serviceAccount', 'automountServiceAccountToken', 'nodeName',
  'hostNetwork', 'hostPID', 'hostIPC', 'shareProcessNamespace', 'securityContext', 'imagePullSecrets', 'hostname', 'subdomain', 'affinity',
  'schedulerName', 'tolerations', 'hostAliases', 'priorityClassName', 'priority', 'dnsConfig', 'readinessGates', 'runtimeClassName',
  'enableServiceLinks', 'preemptionPolicy', 'overhead', 'topologySpreadConstraints', 'setHostnameAsFQDN', 'os', 'hostUsers',
  'schedulingGates', 'resourceClaims', 'resources']

function defaultContainer (c: Json): void {
  if (!isObject(c)) return
  c.resources ??= {}
  c.terminationMessagePath ??= '/dev/termination-log'
  c.terminationMessagePolicy ??= 'File'
  if (c.imagePullPolicy === undefined) {
    // SetDefaults_Container: Always for :latest or an untagged image, IfNotPresent otherwise.
    const image = typeof c.image === 'string' ? c.image : ''
    const last = image.split('/').pop() ?? ''
    const tagged = last.includes(':') && !last.endsWith(':latest')
    c.imagePullPolicy = image.includes('@') || tagged ? 'IfNotPresent' : 'Always'
  }
  for (const p of (arrayAt(c, 'ports') ?? []).filter(isObject)) p.protocol ??= 'TCP'
}

/**
 * Pods, for what clients look at (`kubectl describe node` lists them, `kubectl get pods`): the main
 * defaults of SetDefaults_Pod; no scheduler, kubelet, service-account admission or graceful deletion.
 */
function podDef (): ResourceDef {
  return def({ group: '', version: 'v1', resource: 'pods', singular: 'pod', kind: 'Pod', namespaced: true }, {
    shortNames: ['po'],
    hasStatus: true,
    returnDeletedObject: true,
    fieldLabels: ['metadata.name', 'metadata.namespace', 'spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName',
      'spec.hostNetwork', 'status.phase', 'status.podIP', 'status.nominatedNodeName'],
    fields: o => {
      const spec = objectAt(o, 'spec')
      const status = objectAt(o, 'status')
      return {
        ...metaFields(o),
        'spec.nodeName': stringAt(spec, 'nodeName') ?? '',
        'spec.restartPolicy': stringAt(spec, 'restartPolicy') ?? '',
        'spec.schedulerName': stringAt(spec, 'schedulerName') ?? '',
        'spec.serviceAccountName': stringAt(spec, 'serviceAccountName') ?? '',
        'spec.hostNetwork': String(spec?.hostNetwork === true),
        'status.phase': stringAt(status, 'phase') ?? '',
        'status.podIP': stringAt(status, 'podIP') ?? '',
        'status.nominatedNodeName': stringAt(status, 'nominatedNodeName') ?? ''
      }
    },
    printer: podPrinter,
    defaults: o => {
      const spec = objectAt(o, 'spec') ?? {}
      spec.restartPolicy ??= 'Always'
      spec.terminationGracePeriodSeconds ??= 30
      spec.dnsPolicy ??= 'ClusterFirst'
      spec.securityContext ??= {}
      spec.schedulerName ??= 'default-scheduler'
      spec.enableServiceLinks ??= true
      spec.preemptionPolicy ??= 'PreemptLowerPriority'
      spec.priority ??= 0
      for (const c of [...(arrayAt(spec, 'containers') ?? []), ...(arrayAt(spec, 'initContainers') ?? [])]) defaultContainer(c)
      o.spec = spec
    },
    prepareForCreate: o => { o.status = { phase: 'Pending', qosClass: 'BestEffort' } },
    prepareForUpdate: keepOtherHalf,
    validate: (o, _old, sub) => {
      if (sub === 'status') return []
      const causes: StatusCause[] = []
      const containers = arrayAt(objectAt(o, 'spec'), 'containers') ?? []
      if (containers.length === 0) causes.push(fieldRequired('spec.containers'))
      containers.forEach((c, i) => {
        if (!isObject(c)) return
        if ((stringAt(c, 'name') ?? '') === '') causes.push(fieldRequired(`spec.containers[${i}].name`))
        if ((stringAt(c, 'image') ?? '') === '') causes.push(fieldRequired(`spec.containers[${i}].image`))
      })
      const rp = objectAt(o, 'spec')?.restartPolicy
      if (typeof rp !== 'string' || !['Always', 'Never', 'OnFailure'].includes(rp)) causes.push(fieldUnsupported('spec.restartPolicy', rp, ['Always', 'Never', 'OnFailure']))
      return causes
    },
    order: o => {
      const spec = objectAt(o, 'spec')
      if (spec !== undefined) {
        const ordered = orderKeys(spec, POD_SPEC_ORDER)
        for (const k of ['containers', 'initContainers']) {
          const list = arrayAt(ordered, k)
          if (list !== undefined) ordered[k] = list.map(c => isObject(c) ? orderKeys(c, CONTAINER_ORDER) : c)
        }
        o.spec = ordered
      }
      return orderTop(o, ['spec', 'status'])
    }
  })
}

export function buildResources (serviceColumns: readonly Column[] | undefined): ResourceDef[] {
  return [namespaceDef(), serviceDef(serviceColumns), configMapDef(), nodeDef(), podDef(), coreEventDef(), endpointSliceDef(), eventsV1Def(), leaseDef()]
}
