// Decoding of the protobuf request bodies client-go's typed clients send (e.g. `kubectl create namespace`,
// `kubectl create configmap`, `kubectl create service`, kube-proxy's events.k8s.io/v1 Events): the `k8s\0`
// envelope (runtime.Unknown) around the object's protobuf, turned into the JSON object the rest of the
// server handles. Field numbers are those of k8s.io/api and k8s.io/apimachinery generated.proto (stable by
// protobuf rules). Only the kinds listed in KINDS are decoded; a field this table does not know is refused
// (415) rather than silently dropped.
import { ApiError } from './errors.js'
import { formatGoTime, RFC3339, RFC3339_MICRO } from './gotime.js'
import type { Json, JsonObject } from './json.js'

/** `time` is metav1.Time (whole seconds), `microtime` metav1.MicroTime (seconds and nanos, six digits). */
type Scalar = 'string' | 'int' | 'bool' | 'bytes' | 'time' | 'microtime' | 'intOrString'
interface Field {
  readonly name: string
  readonly kind: Scalar | { readonly message: string } | { readonly map: 'string' | 'bytes' }
  readonly repeated?: boolean
  /** A Go pointer field: present means set, even to a zero value (which JSON then shows). */
  readonly pointer?: boolean
}
type Message = Readonly<Record<number, Field>>

const MESSAGES: Readonly<Record<string, Message>> = {
  TypeMeta: { 1: { name: 'apiVersion', kind: 'string' }, 2: { name: 'kind', kind: 'string' } },
  Unknown: { 1: { name: 'typeMeta', kind: { message: 'TypeMeta' } }, 2: { name: 'raw', kind: 'bytes' }, 3: { name: 'contentEncoding', kind: 'string' }, 4: { name: 'contentType', kind: 'string' } },
  ObjectMeta: {
    1: { name: 'name', kind: 'string' }, 2: { name: 'generateName', kind: 'string' }, 3: { name: 'namespace', kind: 'string' },
    4: { name: 'selfLink', kind: 'string' }, 5: { name: 'uid', kind: 'string' }, 6: { name: 'resourceVersion', kind: 'string' },
    7: { name: 'generation', kind: 'int' }, 8: { name: 'creationTimestamp', kind: 'time' }, 9: { name: 'deletionTimestamp', kind: 'time' },
    10: { name: 'deletionGracePeriodSeconds', kind: 'int', pointer: true }, 11: { name: 'labels', kind: { map: 'string' } },
    12: { name: 'annotations', kind: { map: 'string' } }, 13: { name: 'ownerReferences', kind: { message: 'OwnerReference' }, repeated: true },
    14: { name: 'finalizers', kind: 'string', repeated: true }
  },
  OwnerReference: {
    1: { name: 'kind', kind: 'string' }, 3: { name: 'name', kind: 'string' }, 4: { name: 'uid', kind: 'string' },
    5: { name: 'apiVersion', kind: 'string' }, 6: { name: 'controller', kind: 'bool', pointer: true }, 7: { name: 'blockOwnerDeletion', kind: 'bool', pointer: true }
  },
  Namespace: { 1: { name: 'metadata', kind: { message: 'ObjectMeta' } }, 2: { name: 'spec', kind: { message: 'NamespaceSpec' } }, 3: { name: 'status', kind: { message: 'NamespaceStatus' } } },
  NamespaceSpec: { 1: { name: 'finalizers', kind: 'string', repeated: true } },
  NamespaceStatus: { 1: { name: 'phase', kind: 'string' } },
  ConfigMap: {
    1: { name: 'metadata', kind: { message: 'ObjectMeta' } }, 2: { name: 'data', kind: { map: 'string' } },
    3: { name: 'binaryData', kind: { map: 'bytes' } }, 4: { name: 'immutable', kind: 'bool', pointer: true }
  },
  Service: { 1: { name: 'metadata', kind: { message: 'ObjectMeta' } }, 2: { name: 'spec', kind: { message: 'ServiceSpec' } }, 3: { name: 'status', kind: { message: 'ServiceStatus' } } },
  ServiceSpec: {
    1: { name: 'ports', kind: { message: 'ServicePort' }, repeated: true }, 2: { name: 'selector', kind: { map: 'string' } },
    3: { name: 'clusterIP', kind: 'string' }, 4: { name: 'type', kind: 'string' }, 5: { name: 'externalIPs', kind: 'string', repeated: true },
    7: { name: 'sessionAffinity', kind: 'string' }, 8: { name: 'loadBalancerIP', kind: 'string' },
    9: { name: 'loadBalancerSourceRanges', kind: 'string', repeated: true }, 10: { name: 'externalName', kind: 'string' },
    11: { name: 'externalTrafficPolicy', kind: 'string' }, 12: { name: 'healthCheckNodePort', kind: 'int' },
    13: { name: 'publishNotReadyAddresses', kind: 'bool' }, 14: { name: 'sessionAffinityConfig', kind: { message: 'SessionAffinityConfig' }, pointer: true },
    17: { name: 'ipFamilyPolicy', kind: 'string', pointer: true }, 18: { name: 'clusterIPs', kind: 'string', repeated: true },
    19: { name: 'ipFamilies', kind: 'string', repeated: true }, 20: { name: 'allocateLoadBalancerNodePorts', kind: 'bool', pointer: true },
    21: { name: 'loadBalancerClass', kind: 'string', pointer: true }, 22: { name: 'internalTrafficPolicy', kind: 'string', pointer: true },
    23: { name: 'trafficDistribution', kind: 'string', pointer: true }
  },
  ServicePort: {
    1: { name: 'name', kind: 'string' }, 2: { name: 'protocol', kind: 'string' }, 3: { name: 'port', kind: 'int', pointer: true },
    4: { name: 'targetPort', kind: 'intOrString' }, 5: { name: 'nodePort', kind: 'int' }, 6: { name: 'appProtocol', kind: 'string', pointer: true }
  },
  SessionAffinityConfig: { 1: { name: 'clientIP', kind: { message: 'ClientIPConfig' }, pointer: true } },
  ClientIPConfig: { 1: { name: 'timeoutSeconds', kind: 'int', pointer: true } },
  ServiceStatus: { 1: { name: 'loadBalancer', kind: { message: 'LoadBalancerStatus' } } },
  LoadBalancerStatus: { 1: { name: 'ingress', kind: { message: 'LoadBalancerIngress' }, repeated: true } },
  LoadBalancerIngress: { 1: { name: 'ip', kind: 'string' }, 2: { name: 'hostname', kind: 'string' }, 3: { name: 'ipMode', kind: 'string', pointer: true } },
  // k8s.io/api/events/v1 Event, as kube-proxy and other client-go event recorders send it.
  EventsV1Event: {
    1: { name: 'metadata', kind: { message: 'ObjectMeta' } }, 2: { name: 'eventTime', kind: 'microtime' },
    3: { name: 'series', kind: { message: 'EventsV1EventSeries' }, pointer: true }, 4: { name: 'reportingController', kind: 'string' },
    5: { name: 'reportingInstance', kind: 'string' }, 6: { name: 'action', kind: 'string' }, 7: { name: 'reason', kind: 'string' },
    8: { name: 'regarding', kind: { message: 'ObjectReference' } }, 9: { name: 'related', kind: { message: 'ObjectReference' }, pointer: true },
    10: { name: 'note', kind: 'string' }, 11: { name: 'type', kind: 'string' }, 12: { name: 'deprecatedSource', kind: { message: 'EventSource' } },
    13: { name: 'deprecatedFirstTimestamp', kind: 'time' }, 14: { name: 'deprecatedLastTimestamp', kind: 'time' }, 15: { name: 'deprecatedCount', kind: 'int' }
  },
  EventsV1EventSeries: { 1: { name: 'count', kind: 'int' }, 2: { name: 'lastObservedTime', kind: 'microtime' } },
  ObjectReference: {
    1: { name: 'kind', kind: 'string' }, 2: { name: 'namespace', kind: 'string' }, 3: { name: 'name', kind: 'string' }, 4: { name: 'uid', kind: 'string' },
    5: { name: 'apiVersion', kind: 'string' }, 6: { name: 'resourceVersion', kind: 'string' }, 7: { name: 'fieldPath', kind: 'string' }
  },
  EventSource: { 1: { name: 'component', kind: 'string' }, 2: { name: 'host', kind: 'string' } },
  Time: { 1: { name: 'seconds', kind: 'int' }, 2: { name: 'nanos', kind: 'int' } },
  IntOrString: { 1: { name: 'type', kind: 'int' }, 2: { name: 'intVal', kind: 'int' }, 3: { name: 'strVal', kind: 'string' } },
  MapEntry: { 1: { name: 'key', kind: 'string' }, 2: { name: 'value', kind: 'string' } },
  BytesMapEntry: { 1: { name: 'key', kind: 'string' }, 2: { name: 'value', kind: 'bytes' } }
}

/** The kinds whose protobuf bodies are decoded (apiVersion/kind of the envelope) and their message. */
export const KINDS: Readonly<Record<string, string>> = {
  'v1/Namespace': 'Namespace', 'v1/ConfigMap': 'ConfigMap', 'v1/Service': 'Service', 'events.k8s.io/v1/Event': 'EventsV1Event'
}

export const PROTOBUF = 'application/vnd.kubernetes.protobuf'
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00])

function unsupported (detail: string): ApiError {
  return new ApiError(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/json, ${PROTOBUF} (${detail})`, {})
}

class Reader {
  private pos = 0
  constructor (private readonly buf: Buffer) {}
  get done (): boolean { return this.pos >= this.buf.length }
  varint (): bigint {
    let result = 0n
    for (let shift = 0n; shift < 70n; shift += 7n) {
      const b = this.buf[this.pos++]
      if (b === undefined) throw unsupported('truncated varint')
      result |= BigInt(b & 0x7f) << shift
      if ((b & 0x80) === 0) return result
    }
    throw unsupported('varint too long')
  }
  bytes (): Buffer {
    const len = Number(this.varint())
    if (this.pos + len > this.buf.length) throw unsupported('truncated field')
    const out = this.buf.subarray(this.pos, this.pos + len)
    this.pos += len
    return out
  }
}

function isZero (v: Json): boolean {
  return v === '' || v === 0 || v === false || v === null
}

function decodeMessage (buf: Buffer, type: string): JsonObject {
  const schema = MESSAGES[type]
  if (schema === undefined) throw unsupported(`no schema for ${type}`)
  const out: JsonObject = {}
  const r = new Reader(buf)
  while (!r.done) {
    const tag = Number(r.varint())
    const num = tag >>> 3
    const wire = tag & 7
    const f = schema[num]
    if (f === undefined) throw unsupported(`field ${num} of ${type} is not known to this stand-in`)
    let value: Json
    const kind = f.kind
    const expectedWire = kind === 'int' || kind === 'bool' ? 0 : 2
    if (wire !== expectedWire) throw unsupported(`field ${num} of ${type} has wire type ${wire}, expected ${expectedWire}`)
    if (typeof kind === 'string') {
      switch (kind) {
        case 'string': value = r.bytes().toString('utf8'); break
        case 'bytes': value = r.bytes().toString('base64'); break
        case 'bool': value = r.varint() !== 0n; break
        case 'int': value = Number(BigInt.asIntN(64, r.varint())); break
        case 'time':
        case 'microtime': {
          // An empty message is Go's zero time (null); metav1.Time drops the nanoseconds, MicroTime keeps them.
          const bytes = r.bytes()
          const t = decodeMessage(bytes, 'Time')
          const seconds = typeof t.seconds === 'number' ? t.seconds : 0
          const nanos = typeof t.nanos === 'number' ? t.nanos : 0
          value = bytes.length === 0 ? null : kind === 'time' ? formatGoTime(RFC3339, { seconds, nanos: 0 }) : formatGoTime(RFC3339_MICRO, { seconds, nanos })
          break
        }
        case 'intOrString': {
          const v = decodeMessage(r.bytes(), 'IntOrString')
          value = v.type === 1 ? (typeof v.strVal === 'string' ? v.strVal : '') : (typeof v.intVal === 'number' ? v.intVal : 0)
          break
        }
      }
    } else if ('message' in kind) {
      value = decodeMessage(r.bytes(), kind.message)
    } else {
      const entry = decodeMessage(r.bytes(), kind.map === 'bytes' ? 'BytesMapEntry' : 'MapEntry')
      const m = out[f.name]
      const map: JsonObject = typeof m === 'object' && m !== null && !Array.isArray(m) ? m : {}
      map[typeof entry.key === 'string' ? entry.key : ''] = entry.value ?? ''
      out[f.name] = map
      continue
    }
    if (f.repeated === true) {
      const cur = out[f.name]
      out[f.name] = [...(Array.isArray(cur) ? cur : []), value]
    } else if (f.pointer === true || !isZero(value)) {
      // Go value fields are always encoded; their zero values mean "unset" (JSON omitempty).
      out[f.name] = value
    }
  }
  return out
}

/** Decodes a `k8s\0`-framed protobuf body into the JSON object of its kind. */
export function decodeProtobufObject (body: Buffer): JsonObject {
  if (body.length < 4 || !body.subarray(0, 4).equals(MAGIC)) throw unsupported('missing the k8s protobuf envelope')
  const unknown = decodeMessage(body.subarray(4), 'Unknown')
  const typeMeta = unknown.typeMeta
  const kind = typeof typeMeta === 'object' && typeMeta !== null && !Array.isArray(typeMeta) && typeof typeMeta.kind === 'string' ? typeMeta.kind : ''
  const apiVersion = typeof typeMeta === 'object' && typeMeta !== null && !Array.isArray(typeMeta) && typeof typeMeta.apiVersion === 'string' ? typeMeta.apiVersion : ''
  const message = KINDS[`${apiVersion}/${kind}`]
  if (message === undefined) throw unsupported(`protobuf bodies of ${kind === '' ? '(no kind)' : `${apiVersion} ${kind}`} are not decoded by this stand-in`)
  const raw = typeof unknown.raw === 'string' ? Buffer.from(unknown.raw, 'base64') : Buffer.alloc(0)
  return { kind, apiVersion, ...decodeMessage(raw, message) }
}
