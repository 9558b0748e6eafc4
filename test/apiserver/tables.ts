// Server-side printing (meta.k8s.io/v1 Table) with the columns and cell formats of kube-apiserver's
// internal printers (pkg/printers/internalversion), which kubectl renders verbatim.
import { arrayAt, isObject, type Json, type JsonObject, numberAt, objectAt, stringAt } from './json.js'

export interface Column { readonly name: string, readonly type: string, readonly format: string, readonly description: string, readonly priority: number }

export interface TablePrinter {
  readonly columns: readonly Column[]
  readonly cells: (obj: JsonObject, now: number) => Json[]
}

const NAME_DESC = 'Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names'
const AGE_DESC = 'CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata'

export function col (name: string, description: string, priority = 0, type = 'string', format = ''): Column {
  return { name, type, format, description, priority }
}
export const NAME = col('Name', NAME_DESC, 0, 'string', 'name')
export const AGE = col('Age', AGE_DESC)

/** k8s.io/apimachinery/pkg/util/duration.HumanDuration. */
export function humanDuration (ms: number): string {
  const seconds = Math.trunc(ms / 1000)
  if (seconds < -1) return '<invalid>'
  if (seconds < 0) return '0s'
  if (seconds < 60 * 2) return `${seconds}s`
  const minutes = Math.trunc(seconds / 60)
  if (minutes < 10) {
    const s = seconds % 60
    return s === 0 ? `${minutes}m` : `${minutes}m${s}s`
  }
  if (minutes < 60 * 3) return `${minutes}m`
  const hours = Math.trunc(minutes / 60)
  if (hours < 8) {
    const m = minutes % 60
    return m === 0 ? `${hours}h` : `${hours}h${m}m`
  }
  if (hours < 48) return `${hours}h`
  if (hours < 24 * 8) {
    const h = hours % 24
    return h === 0 ? `${Math.trunc(hours / 24)}d` : `${Math.trunc(hours / 24)}d${h}h`
  }
  if (hours < 24 * 365 * 2) return `${Math.trunc(hours / 24)}d`
  if (hours < 24 * 365 * 8) {
    const dy = Math.trunc(hours / 24) % 365
    return dy === 0 ? `${Math.trunc(hours / 24 / 365)}y` : `${Math.trunc(hours / 24 / 365)}y${dy}d`
  }
  return `${Math.trunc(hours / 24 / 365)}y`
}

function since (ts: Json | undefined, now: number): string {
  if (typeof ts !== 'string' || ts === '') return '<unknown>'
  const t = Date.parse(ts)
  return Number.isNaN(t) ? '<unknown>' : humanDuration(now - t)
}

export function age (obj: JsonObject, now: number): string {
  return since(objectAt(obj, 'metadata')?.creationTimestamp, now)
}

export function nameOf (obj: JsonObject): string {
  return stringAt(objectAt(obj, 'metadata'), 'name') ?? ''
}

/** labels.FormatLabels: sorted k=v joined by commas, `<none>` when empty. */
function formatLabels (m: JsonObject | undefined): string {
  const keys = Object.keys(m ?? {}).sort()
  if (keys.length === 0) return '<none>'
  return keys.map(k => `${k}=${String(m?.[k] ?? '')}`).join(',')
}

function serviceExternalIP (spec: JsonObject, status: JsonObject | undefined): string {
  const externalIPs = (arrayAt(spec, 'externalIPs') ?? []).map(String)
  switch (spec.type) {
    case 'ClusterIP':
    case 'NodePort':
      return externalIPs.length > 0 ? externalIPs.join(',') : '<none>'
    case 'LoadBalancer': {
      // Servers print wide, so the ingress list is not truncated here.
      const lb = (arrayAt(objectAt(status, 'loadBalancer'), 'ingress') ?? []).filter(isObject)
        .map(i => stringAt(i, 'ip') || stringAt(i, 'hostname') || '').filter(s => s !== '').join(',')
      if (externalIPs.length > 0) return [...(lb === '' ? [] : [lb]), ...externalIPs].join(',')
      return lb !== '' ? lb : '<pending>'
    }
    case 'ExternalName':
      return stringAt(spec, 'externalName') ?? ''
  }
  return '<unknown>'
}

function servicePorts (spec: JsonObject): string {
  const parts = (arrayAt(spec, 'ports') ?? []).filter(isObject).map(p => {
    const port = numberAt(p, 'port') ?? 0
    const proto = stringAt(p, 'protocol') ?? 'TCP'
    const np = numberAt(p, 'nodePort') ?? 0
    return np > 0 ? `${port}:${np}/${proto}` : `${port}/${proto}`
  })
  return parts.length === 0 ? '<none>' : parts.join(',')
}

export function servicePrinter (goldenColumns: readonly Column[] | undefined): TablePrinter {
  const columns = goldenColumns ?? [NAME, col('Type', 'type determines how the Service is exposed.'), col('Cluster-IP', 'clusterIP is the IP address of the service.'),
    col('External-IP', 'externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service.'),
    col('Port(s)', 'The list of ports that are exposed by this service.'), AGE, col('Selector', 'Route service traffic to pods with label keys and values matching this selector.', 1)]
  return {
    columns,
    cells: (obj, now) => {
      const spec = objectAt(obj, 'spec') ?? {}
      const ips = arrayAt(spec, 'clusterIPs') ?? []
      const clusterIP = typeof ips[0] === 'string' ? ips[0] : '<none>'
      return [nameOf(obj), stringAt(spec, 'type') ?? '', clusterIP, serviceExternalIP(spec, objectAt(obj, 'status')),
        servicePorts(spec), age(obj, now), formatLabels(objectAt(spec, 'selector'))]
    }
  }
}

export const nodePrinter: TablePrinter = {
  columns: [NAME, col('Status', 'The status of the node'), col('Roles', 'The roles of the node'), AGE,
    col('Version', 'Kubelet Version reported by the node.'), col('Internal-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    col('External-IP', 'List of addresses reachable to the node. Queried from cloud provider, if available.', 1),
    col('OS-Image', 'OS image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).', 1),
    col('Kernel-Version', "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).", 1),
    col('Container-Runtime', 'Container runtime version reported by the node through runtime remote API (e.g. containerd://1.4.2).', 1)],
  cells: (obj, now) => {
    const status = objectAt(obj, 'status')
    const conditions = (arrayAt(status, 'conditions') ?? []).filter(isObject)
    const ready = conditions.find(c => c.type === 'Ready')
    const states = [ready === undefined ? 'Unknown' : ready.status === 'True' ? 'Ready' : 'NotReady']
    if (objectAt(obj, 'spec')?.unschedulable === true) states.push('SchedulingDisabled')
    const labels = objectAt(objectAt(obj, 'metadata'), 'labels') ?? {}
    const roles = Object.keys(labels).filter(k => k.startsWith('node-role.kubernetes.io/')).map(k => k.slice('node-role.kubernetes.io/'.length)).filter(r => r !== '')
    if (typeof labels['kubernetes.io/role'] === 'string' && labels['kubernetes.io/role'] !== '') roles.push(labels['kubernetes.io/role'])
    const addr = (type: string): string => (arrayAt(status, 'addresses') ?? []).filter(isObject).find(a => a.type === type)?.address?.toString() ?? '<none>'
    const info = objectAt(status, 'nodeInfo')
    const orNone = (v: string | undefined): string => v === undefined || v === '' ? '<unknown>' : v
    return [nameOf(obj), states.join(','), roles.length === 0 ? '<none>' : roles.sort().join(','), age(obj, now),
      stringAt(info, 'kubeletVersion') ?? '', addr('InternalIP'), addr('ExternalIP'),
      orNone(stringAt(info, 'osImage')), orNone(stringAt(info, 'kernelVersion')), orNone(stringAt(info, 'containerRuntimeVersion'))]
  }
}

export const configMapPrinter: TablePrinter = {
  columns: [NAME, col('Data', "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process.", 0, 'integer'), AGE],
  cells: (obj, now) => [nameOf(obj), Object.keys(objectAt(obj, 'data') ?? {}).length + Object.keys(objectAt(obj, 'binaryData') ?? {}).length, age(obj, now)]
}

export const namespacePrinter: TablePrinter = {
  columns: [NAME, col('Status', 'The status of the namespace'), AGE],
  cells: (obj, now) => [nameOf(obj), stringAt(objectAt(obj, 'status'), 'phase') ?? '', age(obj, now)]
}

export const leasePrinter: TablePrinter = {
  columns: [NAME, col('Holder', 'The holder of the lease'), AGE],
  cells: (obj, now) => [nameOf(obj), stringAt(objectAt(obj, 'spec'), 'holderIdentity') ?? '', age(obj, now)]
}

export const endpointSlicePrinter: TablePrinter = {
  columns: [NAME, col('AddressType', 'The IP protocol for this slice'), col('Ports', 'The ports for this slice'), col('Endpoints', 'First N endpoints for this slice'), AGE],
  cells: (obj, now) => {
    const ports = (arrayAt(obj, 'ports') ?? []).filter(isObject).map(p => numberAt(p, 'port')).filter(p => p !== undefined)
    const addrs = (arrayAt(obj, 'endpoints') ?? []).filter(isObject).flatMap(e => (arrayAt(e, 'addresses') ?? []).map(String))
    const shown = addrs.slice(0, 3).join(',') + (addrs.length > 3 ? ` + ${addrs.length - 3} more...` : '')
    return [nameOf(obj), stringAt(obj, 'addressType') ?? '', ports.length === 0 ? '<unset>' : ports.join(','), addrs.length === 0 ? '<unset>' : shown, age(obj, now)]
  }
}

/** Core v1 Events (events.k8s.io objects are printed after conversion to this form). */
export const eventPrinter: TablePrinter = {
  columns: [col('Last Seen', 'Time when this Event was last seen'), col('Type', 'Type of this event (Normal, Warning), new types could be added in the future.'),
    col('Reason', 'Reason why the action was taken. It is human-readable. This field can have at most 128 characters.'),
    col('Object', 'The object that this event is about. Mapped from `regarding` in events.k8s.io/v1.'),
    col('Subobject', 'The subobject that this event is about.', 1), col('Source', 'The component reporting this event. Should be a short machine understandable string.', 1),
    col('Message', 'A human-readable description of the status of this operation.'), col('First Seen', 'The time at which the event was first recorded.', 1),
    col('Count', 'The number of times this event has occurred.', 1, 'integer'), col('Name', NAME_DESC, 1, 'string', 'name')],
  cells: (obj, now) => {
    const micro = (v: Json | undefined): string => since(v, now)
    let first = since(obj.firstTimestamp, now)
    if (obj.firstTimestamp === null || obj.firstTimestamp === undefined) first = micro(obj.eventTime)
    let last = since(obj.lastTimestamp, now)
    if (obj.lastTimestamp === null || obj.lastTimestamp === undefined) last = first
    let count = numberAt(obj, 'count') ?? 0
    const series = objectAt(obj, 'series')
    if (series !== undefined) { last = micro(series.lastObservedTime); count = numberAt(series, 'count') ?? count } else if (count === 0) count = 1
    const io = objectAt(obj, 'involvedObject') ?? {}
    const kind = (stringAt(io, 'kind') ?? '').toLowerCase()
    const target = (stringAt(io, 'name') ?? '') !== '' ? `${kind}/${stringAt(io, 'name') ?? ''}` : kind
    const source = objectAt(obj, 'source')
    const component = stringAt(source, 'component') || stringAt(obj, 'reportingComponent') || ''
    const host = stringAt(source, 'host') || stringAt(obj, 'reportingInstance') || ''
    return [last, stringAt(obj, 'type') ?? '', stringAt(obj, 'reason') ?? '', target, stringAt(io, 'fieldPath') ?? '',
      host === '' ? component : `${component}, ${host}`, (stringAt(obj, 'message') ?? '').trim(), first, count, nameOf(obj)]
  }
}

export const defaultPrinter: TablePrinter = {
  columns: [NAME, AGE],
  cells: (obj, now) => [nameOf(obj), age(obj, now)]
}

/** Pods: READY counts ready containers, STATUS is the reason or phase (the printer's simple cases). */
export const podPrinter: TablePrinter = {
  columns: [NAME, col('Ready', 'The aggregate readiness state of this pod for accepting traffic.'),
    col('Status', 'The aggregate status of the containers in this pod.'),
    col('Restarts', 'The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.'), AGE,
    col('IP', 'IP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.', 1),
    col('Node', 'NodeName is a request to schedule this pod onto a specific node. If it is non-empty, the scheduler simply schedules this pod onto that node, assuming that it fits resource requirements.', 1),
    col('Nominated Node', 'nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods. This field does not guarantee that the pod will be scheduled on this node. Scheduler may decide to place the pod elsewhere if other nodes become available sooner. Scheduler may also decide to give the resources on this node to a higher priority pod that is created after preemption. As a result, this field may be different than PodSpec.nodeName when the pod is scheduled.', 1),
    col('Readiness Gates', 'If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to "True" More info: https://git.k8s.io/enhancements/keps/sig-network/580-pod-readiness-gates', 1)],
  cells: (obj, now) => {
    const spec = objectAt(obj, 'spec')
    const status = objectAt(obj, 'status')
    const containers = arrayAt(spec, 'containers') ?? []
    const statuses = (arrayAt(status, 'containerStatuses') ?? []).filter(isObject)
    const ready = statuses.filter(c => c.ready === true).length
    const restarts = statuses.reduce((n, c) => n + (numberAt(c, 'restartCount') ?? 0), 0)
    const reason = stringAt(status, 'reason') || stringAt(status, 'phase') || ''
    const gates = arrayAt(spec, 'readinessGates') ?? []
    return [nameOf(obj), `${ready}/${containers.length}`, objectAt(obj, 'metadata')?.deletionTimestamp !== undefined ? 'Terminating' : reason, restarts, age(obj, now),
      stringAt(status, 'podIP') || '<none>', stringAt(spec, 'nodeName') || '<none>', stringAt(status, 'nominatedNodeName') || '<none>',
      gates.length === 0 ? '<none>' : `0/${gates.length}`]
  }
}
