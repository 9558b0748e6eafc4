// What a Service asks of the allocator, read once from its view: explicit IPs, a pool, address families,
// sharing rights, and the IPs its status already shows (claimed back before anything new is allocated).
import {
  ANNOTATION_ADDRESS_POOL,
  ANNOTATION_ALLOW_SHARED_IP,
  ANNOTATION_LOAD_BALANCER_IPS,
  readAnnotation,
} from '../../internal/core/annotations.js'
import { formatIP, ipOf, parseIP, type IP, type IPFamily } from '../../internal/core/ip.js'
import { backendKey, type SharingInfo } from './sharing.js'
import type { ServiceView } from '../../internal/core/views.js'

/** Why a Service got no IP. Every variant carries a message fit for an Event. */
export type AllocationFailure =
  | { readonly kind: 'noConfig'; readonly message: string }
  | { readonly kind: 'invalidRequest'; readonly message: string }
  | { readonly kind: 'ipTaken'; readonly ip: string; readonly by: readonly string[]; readonly message: string }
  | { readonly kind: 'outsidePools'; readonly ip: string; readonly message: string }
  | { readonly kind: 'unknownPool'; readonly pool: string; readonly message: string }
  | { readonly kind: 'poolNotAllowed'; readonly pool: string | null; readonly message: string }
  | { readonly kind: 'familyMismatch'; readonly message: string }
  | { readonly kind: 'poolExhausted'; readonly pools: readonly string[]; readonly message: string }

export type DualStack = 'single' | 'prefer' | 'require'

export interface AllocationRequest {
  readonly key: string
  readonly namespace: string
  readonly labels: Readonly<Record<string, string>>
  /** spec.loadBalancerIP or the loadBalancerIPs annotation; at most one per family. */
  readonly requested: readonly IP[]
  /** The address-pool annotation. */
  readonly pool: string | null
  /** Families in the Service's order; empty when the Service does not say (then any one family). */
  readonly families: readonly IPFamily[]
  readonly dualStack: DualStack
  readonly sharing: SharingInfo
  /** status.loadBalancer.ingress as it stands (its addresses only: views.ts sets the rest apart). */
  readonly statusIPs: readonly IP[]
}

export type RequestResult =
  | { readonly ok: true; readonly request: AllocationRequest }
  | { readonly ok: false; readonly failure: AllocationFailure }

const other = (f: IPFamily): IPFamily => (f === 'IPv4' ? 'IPv6' : 'IPv4')

function invalid(message: string): RequestResult {
  return { ok: false, failure: { kind: 'invalidRequest', message } }
}

export function requestFromService(svc: ServiceView): RequestResult {
  const annotated = readAnnotation(svc.annotations, ANNOTATION_LOAD_BALANCER_IPS)
  const listed = annotated === null ? [] : annotated.split(',').map(s => s.trim()).filter(s => s !== '')
  if (svc.loadBalancerIP !== null && listed.length > 0) {
    return invalid('spec.loadBalancerIP and the loadBalancerIPs annotation are both set: keep only one')
  }
  const texts = svc.loadBalancerIP !== null ? [svc.loadBalancerIP] : listed
  const requested: IP[] = []
  for (const t of texts) {
    const p = parseIP(t)
    if (!p.ok) return invalid(`requested IP ${p.reason}`)
    if (requested.some(r => r.family === p.value.family)) {
      return invalid(`more than one ${p.value.family} address requested: ask for at most one per family`)
    }
    requested.push(p.value)
  }

  let families: IPFamily[] = [...svc.ipFamilies]
  if (families.length === 0) {
    for (const c of svc.clusterIPs) {
      const p = parseIP(c)
      if (p.ok && !families.includes(p.value.family)) families.push(p.value.family)
    }
  }
  const dualStack: DualStack =
    svc.ipFamilyPolicy === 'RequireDualStack' ? 'require' : svc.ipFamilyPolicy === 'PreferDualStack' ? 'prefer' : 'single'
  if (families.length > 0) {
    const first = families[0] ?? 'IPv4'
    if (dualStack === 'single') families = [first]
    else if (dualStack === 'require' && families.length === 1) families = [first, other(first)]
    for (const r of requested) {
      if (!families.includes(r.family)) {
        return {
          ok: false,
          failure: {
            kind: 'familyMismatch',
            message: `requested IP ${formatIP(r)} is ${r.family} but the Service's ipFamilies are [${families.join(', ')}]`,
          },
        }
      }
    }
  } else {
    families = requested.map(r => r.family)
    if (dualStack === 'require' && families.length === 1) families.push(other(families[0] ?? 'IPv4'))
  }
  if (dualStack === 'require' && requested.length === 1) {
    return {
      ok: false,
      failure: {
        kind: 'familyMismatch',
        message: 'ipFamilyPolicy RequireDualStack needs an IPv4 and an IPv6 address: list both in loadBalancerIPs',
      },
    }
  }
  if (dualStack === 'single' && requested.length > 1) {
    return {
      ok: false,
      failure: {
        kind: 'familyMismatch',
        message: 'two addresses requested for a SingleStack Service: set ipFamilyPolicy to PreferDualStack or RequireDualStack',
      },
    }
  }

  const poolName = readAnnotation(svc.annotations, ANNOTATION_ADDRESS_POOL)?.trim() ?? ''
  const sharingKey = readAnnotation(svc.annotations, ANNOTATION_ALLOW_SHARED_IP)?.trim() ?? ''
  const statusIPs = svc.ingressIPs.map(ipOf) // canonical already (views.ts): read, not parsed
  return {
    ok: true,
    request: {
      key: svc.key,
      namespace: svc.namespace,
      labels: svc.labels,
      requested,
      pool: poolName === '' ? null : poolName,
      families,
      dualStack,
      sharing: {
        sharingKey: sharingKey === '' ? null : sharingKey,
        backendKey: backendKey(svc.externalTrafficPolicy, svc.selector),
        ports: svc.ports.map(p => ({ protocol: p.protocol, port: p.port })),
      },
      statusIPs,
    },
  }
}
