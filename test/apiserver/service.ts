// Service semantics of kube-apiserver 1.32: defaulting (SetDefaults_Service), validation (the subset the
// project exercises, with the real messages), ClusterIP / NodePort allocation, and what an update keeps
// from the stored object (allocated values, status on the main resource, spec on /status).
import {
  fieldDuplicate, fieldForbidden, fieldInvalid, fieldRequired, fieldUnsupported, type StatusCause
} from './errors.js'
import { goQuote } from './gofmt.js'
import { addrString, canonicalIPv6, isIPv4, isIPv6, parseAddr, parseIPSloppy, type ServiceCidr } from './ip.js'
import { arrayAt, clone, deepEqual, isObject, type Json, type JsonObject, numberAt, objectAt, orderKeys, stringAt } from './json.js'

export const NODE_PORT_MIN = 30000
export const NODE_PORT_MAX = 32767

const SPEC_ORDER = ['ports', 'selector', 'clusterIP', 'clusterIPs', 'type', 'externalIPs', 'sessionAffinity',
  'loadBalancerIP', 'loadBalancerSourceRanges', 'externalName', 'externalTrafficPolicy', 'healthCheckNodePort',
  'publishNotReadyAddresses', 'sessionAffinityConfig', 'ipFamilies', 'ipFamilyPolicy', 'allocateLoadBalancerNodePorts',
  'loadBalancerClass', 'internalTrafficPolicy', 'trafficDistribution']
const PORT_ORDER = ['name', 'protocol', 'appProtocol', 'port', 'targetPort', 'nodePort']
const INGRESS_ORDER = ['ip', 'hostname', 'ipMode', 'ports']

function specOf (svc: JsonObject): JsonObject {
  const spec = objectAt(svc, 'spec') ?? {}
  svc.spec = spec
  return spec
}

function portsOf (spec: JsonObject): JsonObject[] {
  return (arrayAt(spec, 'ports') ?? []).filter(isObject)
}

function needsNodePorts (spec: JsonObject): boolean {
  const type = stringAt(spec, 'type')
  return type === 'NodePort' || (type === 'LoadBalancer' && spec.allocateLoadBalancerNodePorts !== false)
}

/** SetDefaults_Service and friends: what the real server fills in when decoding any write. */
export function defaultService (svc: JsonObject): void {
  const spec = specOf(svc)
  spec.type ??= 'ClusterIP'
  spec.sessionAffinity ??= 'None'
  const type = spec.type
  for (const p of portsOf(spec)) {
    p.protocol ??= 'TCP'
    if (p.targetPort === undefined || p.targetPort === 0 || p.targetPort === '') p.targetPort = p.port ?? null
  }
  if (type !== 'ExternalName') spec.internalTrafficPolicy ??= 'Cluster'
  if (type === 'NodePort' || type === 'LoadBalancer') spec.externalTrafficPolicy ??= 'Cluster'
  if (type === 'LoadBalancer') spec.allocateLoadBalancerNodePorts ??= true
  if (spec.sessionAffinity === 'ClientIP') {
    const cfg = objectAt(spec, 'sessionAffinityConfig') ?? {}
    const client = objectAt(cfg, 'clientIP') ?? {}
    client.timeoutSeconds ??= 10800
    cfg.clientIP = client
    spec.sessionAffinityConfig = cfg
  }
  const status = objectAt(svc, 'status')
  const lb = objectAt(status, 'loadBalancer')
  if (type === 'LoadBalancer') {
    for (const ing of (arrayAt(lb, 'ingress') ?? []).filter(isObject)) {
      if (typeof ing.ip === 'string' && ing.ip !== '') ing.ipMode ??= 'VIP'
    }
  }
}

export function orderService (svc: JsonObject): void {
  const spec = objectAt(svc, 'spec')
  if (spec === undefined) return
  const ports = arrayAt(spec, 'ports')
  if (ports !== undefined) spec.ports = ports.map(p => isObject(p) ? orderKeys(p, PORT_ORDER) : p)
  svc.spec = orderKeys(spec, SPEC_ORDER)
  const lb = objectAt(objectAt(svc, 'status'), 'loadBalancer')
  const ingress = arrayAt(lb, 'ingress')
  if (lb !== undefined && ingress !== undefined) lb.ingress = ingress.map(i => isObject(i) ? orderKeys(i, INGRESS_ORDER) : i)
}

const DNS1035 = /^[a-z]([-a-z0-9]*[a-z0-9])?$/
const IANA_SVC_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/

export function validateServiceName (name: string): StatusCause[] {
  if (name.length > 63) return [fieldInvalid('metadata.name', name, 'must be no more than 63 characters')]
  if (!DNS1035.test(name)) {
    return [fieldInvalid('metadata.name', name, "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')")]
  }
  return []
}

function validPortNumber (v: Json | undefined): boolean {
  return typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 65535
}

export function validateServiceSpec (svc: JsonObject): StatusCause[] {
  const causes: StatusCause[] = []
  const spec = objectAt(svc, 'spec') ?? {}
  const type = spec.type
  const types = ['ClusterIP', 'ExternalName', 'LoadBalancer', 'NodePort']
  if (typeof type !== 'string' || !types.includes(type)) causes.push(fieldUnsupported('spec.type', type, types))
  const ports = arrayAt(spec, 'ports') ?? []
  if (ports.length === 0 && type !== 'ExternalName' && spec.clusterIP !== 'None') causes.push(fieldRequired('spec.ports'))
  const seen: string[] = []
  const names: string[] = []
  ports.forEach((p, i) => {
    const at = `spec.ports[${i}]`
    if (!isObject(p)) { causes.push(fieldInvalid(at, p, 'must be an object')); return }
    const name = stringAt(p, 'name') ?? ''
    if (ports.length > 1 && name === '') causes.push(fieldRequired(`${at}.name`))
    if (name !== '') {
      if (!IANA_SVC_NAME.test(name) && !DNS1035.test(name)) causes.push(fieldInvalid(`${at}.name`, name, "a DNS-1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"))
      if (names.includes(name)) causes.push(fieldDuplicate(`${at}.name`, name))
      names.push(name)
    }
    if (!validPortNumber(p.port)) causes.push(fieldInvalid(`${at}.port`, p.port, 'must be between 1 and 65535, inclusive'))
    const protocols = ['SCTP', 'TCP', 'UDP']
    if (typeof p.protocol !== 'string' || !protocols.includes(p.protocol)) causes.push(fieldUnsupported(`${at}.protocol`, p.protocol, protocols))
    const tp = p.targetPort
    if (typeof tp === 'number') {
      if (!validPortNumber(tp)) causes.push(fieldInvalid(`${at}.targetPort`, tp, 'must be between 1 and 65535, inclusive'))
    } else if (typeof tp === 'string') {
      if (!/^[a-z0-9-]{1,15}$/.test(tp) || !/[a-z]/.test(tp)) causes.push(fieldInvalid(`${at}.targetPort`, tp, 'must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)'))
    }
    if (p.nodePort !== undefined && p.nodePort !== 0) {
      if (type === 'ClusterIP') causes.push(fieldForbidden(`${at}.nodePort`, "may not be used when `type` is 'ClusterIP'"))
      else if (!validPortNumber(p.nodePort)) causes.push(fieldInvalid(`${at}.nodePort`, p.nodePort, 'must be between 1 and 65535, inclusive'))
    }
    const key = JSON.stringify({ port: p.port ?? null, protocol: p.protocol ?? null })
    if (seen.includes(key)) causes.push(fieldDuplicate(at, JSON.parse(key)))
    seen.push(key)
  })
  // spec.loadBalancerIP is deliberately not validated: the real server accepts any string there and only
  // warns (pkg/api/service/warnings.go); the load-balancer implementation has to cope. See serviceWarnings.
  ;(arrayAt(spec, 'externalIPs') ?? []).forEach((ip, i) => {
    if (typeof ip !== 'string' || parseIPSloppy(ip) === 0) causes.push(fieldInvalid(`spec.externalIPs[${i}]`, ip, 'must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)'))
  })
  const first = (arrayAt(spec, 'clusterIPs') ?? [spec.clusterIP ?? ''])[0]
  if (first === 'None' && (type === 'LoadBalancer' || type === 'NodePort')) {
    causes.push(fieldInvalid('spec.clusterIPs[0]', 'None', `may not be set to 'None' for ${type} services`))
  }
  if (spec.sessionAffinity === 'None' && spec.sessionAffinityConfig !== undefined && spec.sessionAffinityConfig !== null) {
    causes.push(fieldForbidden('spec.sessionAffinityConfig', 'must not be set when session affinity is None'))
  }
  const affinities = ['ClientIP', 'None']
  if (typeof spec.sessionAffinity !== 'string' || !affinities.includes(spec.sessionAffinity)) causes.push(fieldUnsupported('spec.sessionAffinity', spec.sessionAffinity, affinities))
  const etp = spec.externalTrafficPolicy
  if (etp !== undefined && etp !== '') {
    const externallyAccessible = type === 'NodePort' || type === 'LoadBalancer' || (type === 'ClusterIP' && (arrayAt(spec, 'externalIPs') ?? []).length > 0)
    if (!externallyAccessible) causes.push(fieldInvalid('spec.externalTrafficPolicy', etp, 'may only be set for externally-accessible services'))
    else if (etp !== 'Cluster' && etp !== 'Local') causes.push(fieldUnsupported('spec.externalTrafficPolicy', etp, ['Cluster', 'Local']))
  }
  const itp = spec.internalTrafficPolicy
  if (itp !== undefined && itp !== 'Cluster' && itp !== 'Local') causes.push(fieldUnsupported('spec.internalTrafficPolicy', itp, ['Cluster', 'Local']))
  const policy = spec.ipFamilyPolicy
  const policies = ['PreferDualStack', 'RequireDualStack', 'SingleStack']
  if (policy !== undefined && (typeof policy !== 'string' || !policies.includes(policy))) causes.push(fieldUnsupported('spec.ipFamilyPolicy', policy, policies))
  const families = arrayAt(spec, 'ipFamilies') ?? []
  families.forEach((f, i) => {
    if (f !== 'IPv4' && f !== 'IPv6') causes.push(fieldUnsupported(`spec.ipFamilies[${i}]`, f, ['IPv4', 'IPv6']))
    else if (families.indexOf(f) !== i) causes.push(fieldDuplicate(`spec.ipFamilies[${i}]`, f))
  })
  if (families.length > 2) causes.push(fieldInvalid('spec.ipFamilies', families, 'may specify no more than 2 ipFamilies'))
  if (policy === 'SingleStack' && families.length > 1) causes.push(fieldInvalid('spec.ipFamilies', families, 'when multiple IP families are specified, `ipFamilyPolicy` must be `RequireDualStack` or `PreferDualStack`'))
  if (spec.allocateLoadBalancerNodePorts !== undefined && type !== 'LoadBalancer') {
    causes.push(fieldForbidden('spec.allocateLoadBalancerNodePorts', 'may only be used when `type` is \'LoadBalancer\''))
  }
  const lbClass = spec.loadBalancerClass
  if (lbClass !== undefined && lbClass !== null && type !== 'LoadBalancer') causes.push(fieldForbidden('spec.loadBalancerClass', 'may only be used when `type` is \'LoadBalancer\''))
  if (type === 'ExternalName') {
    const en = spec.externalName
    if (typeof en !== 'string' || en === '') causes.push(fieldRequired('spec.externalName'))
  }
  return causes
}

/**
 * getWarningsForIP of 1.32's pkg/api/service/warnings.go for spec.loadBalancerIP, which is stored whatever
 * it holds: netip.ParseAddr's error, or a warning for IPv6 text that is not its canonical form. An IPv6
 * address with a zone (`fe80::1%eth0`) parses and is canonical there: stored without a warning.
 */
export function serviceWarnings (svc: JsonObject): string[] {
  const lbIP = objectAt(svc, 'spec')?.loadBalancerIP
  if (typeof lbIP !== 'string' || lbIP === '') return []
  const parsed = parseAddr(lbIP)
  if (!parsed.ok) return [`spec.loadBalancerIP: IP address was accepted, but will be invalid in a future Kubernetes release: ${parsed.error}`]
  const text = addrString(parsed.addr)
  if (parsed.addr.bytes.length === 16 && text !== lbIP) return [`spec.loadBalancerIP: IPv6 address ${goQuote(lbIP)} is not in RFC 5952 canonical format (${goQuote(text)}), which may cause controller apply-loops`]
  return []
}

/** ValidateServiceStatusUpdate: only writes to /status are checked against these rules. */
export function validateServiceStatus (svc: JsonObject): StatusCause[] {
  const causes: StatusCause[] = []
  const ingress = arrayAt(objectAt(objectAt(svc, 'status'), 'loadBalancer'), 'ingress') ?? []
  if (objectAt(svc, 'spec')?.type !== 'LoadBalancer' && ingress.length > 0) {
    return [fieldForbidden('status.loadBalancer.ingress', "may only be used when `spec.type` is 'LoadBalancer'")]
  }
  ingress.forEach((ing, i) => {
    const at = `status.loadBalancer.ingress[${i}]`
    if (!isObject(ing)) { causes.push(fieldInvalid(at, ing, 'must be an object')); return }
    const ip = stringAt(ing, 'ip') ?? ''
    // netutils.ParseIPSloppy: no zone (`fe80::1%eth0` is refused), IPv4 octets may have leading zeros.
    if (ip !== '' && parseIPSloppy(ip) === 0) causes.push(fieldInvalid(`${at}.ip`, ip, 'must be a valid IP address'))
    const mode = ing.ipMode
    if (mode !== undefined && mode !== null) {
      if (ip === '') causes.push(fieldForbidden(`${at}.ipMode`, 'may not be specified when `ip` is not set'))
      else if (mode !== 'VIP' && mode !== 'Proxy') causes.push(fieldUnsupported(`${at}.ipMode`, mode, ['Proxy', 'VIP']))
    } else if (ip !== '' && objectAt(svc, 'spec')?.type === 'LoadBalancer') {
      causes.push(fieldRequired(`${at}.ipMode`, 'must be specified when `ip` is set'))
    }
    const hostname = stringAt(ing, 'hostname') ?? ''
    if (hostname !== '' && parseIPSloppy(hostname) !== 0) causes.push(fieldInvalid(`${at}.hostname`, hostname, 'must be a DNS name, not an IP address'))
  })
  return causes
}

export interface ServiceAllocator {
  readonly cidrs: readonly ServiceCidr[]
  /** Cluster IPs and node ports held by every stored Service except the one being written. */
  readonly usedIPs: ReadonlySet<string>
  readonly usedNodePorts: ReadonlySet<number>
  readonly random: () => number
}

function familyOf (ip: string): 'IPv4' | 'IPv6' | undefined {
  return isIPv4(ip) ? 'IPv4' : isIPv6(ip) ? 'IPv6' : undefined
}

function pickIP (cidr: ServiceCidr, used: Set<string>, random: () => number): string | undefined {
  // Random start, then a linear probe: the same behaviour as the real bitmap allocator, bounded.
  const span = cidr.last
  const start = Math.floor(random() * span)
  for (let i = 0; i < span; i++) {
    const ip = cidr.at(1 + ((start + i) % span))
    if (!used.has(ip)) return ip
  }
  return undefined
}

/** Fills clusterIP(s), ipFamilies, ipFamilyPolicy, node ports; returns the causes when allocation fails. */
export function allocateService (svc: JsonObject, alloc: ServiceAllocator): StatusCause[] {
  const causes: StatusCause[] = []
  const spec = specOf(svc)
  const type = spec.type
  if (type === 'ExternalName') return causes
  const used = new Set(alloc.usedIPs)
  const policy = typeof spec.ipFamilyPolicy === 'string' ? spec.ipFamilyPolicy : 'SingleStack'
  spec.ipFamilyPolicy = policy
  const requestedIPs = (arrayAt(spec, 'clusterIPs') ?? []).filter((x): x is string => typeof x === 'string')
  const clusterIP = stringAt(spec, 'clusterIP') ?? ''
  if (requestedIPs.length === 0 && clusterIP !== '') requestedIPs.push(clusterIP)
  if (requestedIPs.length > 0 && clusterIP !== '' && requestedIPs[0] !== clusterIP) {
    causes.push(fieldInvalid('spec.clusterIPs', requestedIPs, 'first value must match `clusterIP`'))
    return causes
  }
  const headless = requestedIPs[0] === 'None'
  let families = (arrayAt(spec, 'ipFamilies') ?? []).filter((f): f is string => f === 'IPv4' || f === 'IPv6')
  if (families.length === 0) {
    for (const ip of headless ? [] : requestedIPs) {
      const f = familyOf(ip)
      if (f !== undefined && !families.includes(f)) families.push(f)
    }
  }
  const primary = families[0] ?? alloc.cidrs[0]?.family ?? 'IPv4'
  if (families.length === 0) families = [primary]
  if (policy !== 'SingleStack' && families.length === 1) {
    const other = alloc.cidrs.find(c => c.family !== primary)
    if (other !== undefined) families.push(other.family)
  }
  if (policy === 'RequireDualStack' && families.length < 2) {
    causes.push(fieldInvalid('spec.ipFamilyPolicy', policy, 'this cluster is not configured for dual-stack services'))
    return causes
  }
  spec.ipFamilies = families
  if (headless) {
    spec.clusterIP = 'None'
    spec.clusterIPs = ['None']
  } else {
    const ips: string[] = []
    families.forEach((fam, i) => {
      const cidr = alloc.cidrs.find(c => c.family === fam)
      const want = requestedIPs[i]
      if (cidr === undefined) {
        causes.push(fieldInvalid(`spec.ipFamilies[${i}]`, fam, 'not configured on this cluster'))
        return
      }
      if (want !== undefined && want !== '') {
        const canon = fam === 'IPv6' && isIPv6(want) ? canonicalIPv6(want) : want
        if (familyOf(want) !== fam) {
          causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, want, `expected an IP of family ${fam}`))
        } else if (!cidr.contains(want)) {
          causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, want, `failed to allocate IP ${want}: the provided IP (${want}) is not in the valid range. The range of valid IPs is ${cidr.text}`))
        } else if (used.has(canon)) {
          causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, want, `failed to allocate IP ${want}: provided IP is already allocated`))
        } else {
          ips.push(canon)
          used.add(canon)
        }
        return
      }
      const ip = pickIP(cidr, used, alloc.random)
      if (ip === undefined) causes.push(fieldInvalid(`spec.clusterIPs[${i}]`, '', 'failed to allocate IP: range is full'))
      else { ips.push(ip); used.add(ip) }
    })
    if (causes.length > 0) return causes
    spec.clusterIP = ips[0] ?? ''
    spec.clusterIPs = ips
  }
  causes.push(...allocateNodePorts(spec, alloc))
  return causes
}

function allocateNodePorts (spec: JsonObject, alloc: ServiceAllocator): StatusCause[] {
  const causes: StatusCause[] = []
  const used = new Set(alloc.usedNodePorts)
  const span = NODE_PORT_MAX - NODE_PORT_MIN + 1
  const take = (field: string, want: number | undefined): number | undefined => {
    if (want !== undefined && want !== 0) {
      if (want < NODE_PORT_MIN || want > NODE_PORT_MAX) {
        causes.push(fieldInvalid(field, want, `provided port is not in the valid range. The range of valid ports is ${NODE_PORT_MIN}-${NODE_PORT_MAX}`))
        return undefined
      }
      if (used.has(want)) { causes.push(fieldInvalid(field, want, 'provided port is already allocated')); return undefined }
      used.add(want)
      return want
    }
    const start = Math.floor(alloc.random() * span)
    for (let i = 0; i < span; i++) {
      const p = NODE_PORT_MIN + ((start + i) % span)
      if (!used.has(p)) { used.add(p); return p }
    }
    causes.push(fieldInvalid(field, 0, 'range is full'))
    return undefined
  }
  if (needsNodePorts(spec)) {
    // One node port per port number: a TCP and a UDP port with the same number share it, as upstream does.
    const byPort = new Map<number, number>()
    portsOf(spec).forEach((p, i) => {
      const want = numberAt(p, 'nodePort')
      const portNo = numberAt(p, 'port') ?? 0
      if ((want === undefined || want === 0) && byPort.has(portNo)) { p.nodePort = byPort.get(portNo) ?? 0; return }
      if (want !== undefined && want !== 0 && [...byPort.values()].includes(want)) return
      const got = take(`spec.ports[${i}].nodePort`, want)
      if (got !== undefined) { p.nodePort = got; byPort.set(portNo, got) }
    })
  }
  if (spec.type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local') {
    const got = take('spec.healthCheckNodePort', numberAt(spec, 'healthCheckNodePort'))
    if (got !== undefined) spec.healthCheckNodePort = got
  }
  return causes
}

/** What a write of the main resource keeps from the stored Service before validation (PrepareForUpdate). */
export function prepareServiceUpdate (next: JsonObject, old: JsonObject): void {
  next.status = clone(objectAt(old, 'status') ?? { loadBalancer: {} })
  const spec = specOf(next)
  const oldSpec = objectAt(old, 'spec') ?? {}
  const type = spec.type
  const oldType = oldSpec.type
  // dropTypeDependentFields: leaving NodePort/LoadBalancer releases the node ports the server allocated.
  if (needsNodePorts(oldSpec) && !needsNodePorts(spec)) {
    const oldPorts = portsOf(oldSpec)
    for (const p of portsOf(spec)) {
      const same = oldPorts.find(o => o.port === p.port && o.protocol === p.protocol)
      if (same !== undefined && same.nodePort === p.nodePort) delete p.nodePort
    }
  }
  if (oldType === 'LoadBalancer' && type !== 'LoadBalancer') {
    if (deepEqual(spec.allocateLoadBalancerNodePorts, oldSpec.allocateLoadBalancerNodePorts)) delete spec.allocateLoadBalancerNodePorts
    if (deepEqual(spec.loadBalancerClass, oldSpec.loadBalancerClass)) delete spec.loadBalancerClass
    if (deepEqual(spec.healthCheckNodePort, oldSpec.healthCheckNodePort)) delete spec.healthCheckNodePort
  }
  if ((oldType === 'LoadBalancer' || oldType === 'NodePort') && type !== 'LoadBalancer' && type !== 'NodePort') {
    if (deepEqual(spec.externalTrafficPolicy, oldSpec.externalTrafficPolicy)) delete spec.externalTrafficPolicy
  }
  // patchAllocatedValues: a write that omits allocated values keeps them.
  if (type !== 'ExternalName' && oldType !== 'ExternalName') {
    if ((spec.clusterIP === undefined || spec.clusterIP === '') && oldSpec.clusterIP !== undefined) {
      spec.clusterIP = oldSpec.clusterIP ?? null
      if (spec.clusterIPs === undefined || deepEqual(spec.clusterIPs, [])) spec.clusterIPs = clone(oldSpec.clusterIPs ?? null)
    }
    if (spec.clusterIPs === undefined && oldSpec.clusterIPs !== undefined && spec.clusterIP === oldSpec.clusterIP) spec.clusterIPs = clone(oldSpec.clusterIPs ?? null)
    if (spec.ipFamilies === undefined && oldSpec.ipFamilies !== undefined) spec.ipFamilies = clone(oldSpec.ipFamilies ?? null)
    if (spec.ipFamilyPolicy === undefined && oldSpec.ipFamilyPolicy !== undefined) spec.ipFamilyPolicy = oldSpec.ipFamilyPolicy ?? null
  }
  if (needsNodePorts(spec) && needsNodePorts(oldSpec)) {
    const oldPorts = portsOf(oldSpec)
    for (const p of portsOf(spec)) {
      if (p.nodePort !== undefined && p.nodePort !== 0) continue
      const same = oldPorts.find(o => o.port === p.port && o.protocol === p.protocol) ?? oldPorts.find(o => o.port === p.port)
      if (same?.nodePort !== undefined) p.nodePort = same.nodePort
    }
  }
  if (type === 'LoadBalancer' && spec.externalTrafficPolicy === 'Local' && oldSpec.healthCheckNodePort !== undefined && spec.healthCheckNodePort === undefined) {
    spec.healthCheckNodePort = oldSpec.healthCheckNodePort ?? null
  }
}

/** Changes to allocated fields that a Service update may not make. */
export function validateServiceUpdate (next: JsonObject, old: JsonObject): StatusCause[] {
  const spec = objectAt(next, 'spec') ?? {}
  const oldSpec = objectAt(old, 'spec') ?? {}
  const causes: StatusCause[] = []
  if (spec.type !== 'ExternalName' && oldSpec.type !== 'ExternalName') {
    const oldIPs = arrayAt(oldSpec, 'clusterIPs') ?? []
    const newIPs = arrayAt(spec, 'clusterIPs') ?? []
    if (oldIPs.length > 0 && newIPs[0] !== oldIPs[0]) {
      causes.push(fieldInvalid('spec.clusterIPs[0]', newIPs, 'may not change once set'))
    }
    const oldFamilies = arrayAt(oldSpec, 'ipFamilies') ?? []
    const newFamilies = arrayAt(spec, 'ipFamilies') ?? []
    if (oldFamilies.length > 0 && newFamilies[0] !== oldFamilies[0]) causes.push(fieldInvalid('spec.ipFamilies[0]', newFamilies[0], 'may not change once set'))
  }
  return causes
}

/** The /status subresource changes only status (and metadata), never spec. */
export function prepareServiceStatusUpdate (next: JsonObject, old: JsonObject): void {
  next.spec = clone(objectAt(old, 'spec') ?? {})
}

export function resetServiceStatusOnCreate (svc: JsonObject): void {
  svc.status = { loadBalancer: {} }
}

export function serviceClusterIPs (svc: JsonObject): string[] {
  return (arrayAt(objectAt(svc, 'spec'), 'clusterIPs') ?? []).filter((x): x is string => typeof x === 'string' && x !== 'None')
}

export function serviceNodePorts (svc: JsonObject): number[] {
  const spec = objectAt(svc, 'spec')
  const out = portsOf(spec ?? {}).map(p => numberAt(p, 'nodePort')).filter((n): n is number => n !== undefined && n !== 0)
  const hc = numberAt(spec, 'healthCheckNodePort')
  if (hc !== undefined) out.push(hc)
  return out
}
