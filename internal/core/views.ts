// Views: Kubernetes objects converted once, at the boundary, into plain records with every field the
// logic needs present and typed. Nothing past this file sees a V1Service or has to guess at `undefined`.
import type { V1Service, V1Node, V1EndpointSlice, V1ConfigMap, V1Lease } from '@kubernetes/client-node'
import { canonicalIP, type CanonicalIP } from './ip.js'

export type IPFamily = 'IPv4' | 'IPv6'
export type IPFamilyPolicy = 'SingleStack' | 'PreferDualStack' | 'RequireDualStack'

export interface ServicePortView {
  readonly name: string
  readonly protocol: 'TCP' | 'UDP' | 'SCTP'
  readonly port: number
}

export interface ServiceView {
  /** `namespace/name`, the work-queue key. */
  readonly key: string
  readonly namespace: string
  readonly name: string
  readonly uid: string
  readonly resourceVersion: string
  /** metadata.creationTimestamp as RFC 3339 UTC ('' when unknown): restore orders claims oldest first. */
  readonly creationTimestamp: string
  readonly type: string
  readonly isLoadBalancer: boolean
  /** spec.loadBalancerClass, null when unset. */
  readonly loadBalancerClass: string | null
  /** spec.loadBalancerIP, null when unset or empty. */
  readonly loadBalancerIP: string | null
  readonly annotations: Readonly<Record<string, string>>
  readonly labels: Readonly<Record<string, string>>
  /** spec.selector, null when the Service has none (its endpoints are managed by hand). */
  readonly selector: Readonly<Record<string, string>> | null
  readonly externalTrafficPolicy: 'Cluster' | 'Local'
  readonly ipFamilies: readonly IPFamily[]
  readonly ipFamilyPolicy: IPFamilyPolicy
  readonly clusterIPs: readonly string[]
  readonly ports: readonly ServicePortView[]
  /**
   * status.loadBalancer.ingress[].ip, in order, canonical (internal/core/ip.ts): the one place a status IP
   * is parsed; everything downstream, election to kernel filter, compares and hashes these strings as they are.
   */
  readonly ingressIPs: readonly CanonicalIP[]
  /**
   * status.loadBalancer.ingress[].ip that are not addresses, as written (only a hand edit or an old server
   * lets one in): nothing announces them, and the controller rewrites a status that holds one.
   */
  readonly badIngressIPs: readonly string[]
}

export interface NodeView {
  readonly name: string
  readonly ready: boolean
  readonly labels: Readonly<Record<string, string>>
  /** node.kubernetes.io/exclude-from-external-load-balancers is set. */
  readonly excludedFromLoadBalancers: boolean
}

export interface EndpointView {
  readonly addresses: readonly string[]
  /** conditions.ready; Kubernetes says a missing value means ready. */
  readonly ready: boolean
  readonly nodeName: string | null
}

export interface EndpointSliceView {
  readonly key: string
  readonly namespace: string
  readonly name: string
  /** label kubernetes.io/service-name: the Service this slice belongs to, null if unlabelled. */
  readonly serviceName: string | null
  readonly endpoints: readonly EndpointView[]
}

function asFamily(s: string): IPFamily | null {
  return s === 'IPv4' || s === 'IPv6' ? s : null
}

function asProtocol(s: string | undefined): ServicePortView['protocol'] {
  return s === 'UDP' || s === 'SCTP' ? s : 'TCP'
}

// client-node types creationTimestamp as Date; accept whatever parses, '' otherwise (toISOString throws on
// an invalid Date).
function isoTime(t: Date | string | undefined): string {
  if (t === undefined) return ''
  const d = new Date(t)
  return Number.isNaN(d.getTime()) ? '' : d.toISOString()
}

export function toServiceView(svc: V1Service): ServiceView {
  const ingressIPs: CanonicalIP[] = []
  const badIngressIPs: string[] = []
  for (const i of svc.status?.loadBalancer?.ingress ?? []) {
    if (!i.ip) continue // a hostname-only entry
    const c = canonicalIP(i.ip)
    if (c.ok) ingressIPs.push(c.value)
    else badIngressIPs.push(i.ip)
  }
  const meta = svc.metadata ?? {}
  const spec = svc.spec ?? {}
  const namespace = meta.namespace ?? 'default'
  const name = meta.name ?? ''
  const families = (spec.ipFamilies ?? []).map(asFamily).filter((f): f is IPFamily => f !== null)
  const policy = spec.ipFamilyPolicy
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    uid: meta.uid ?? '',
    resourceVersion: meta.resourceVersion ?? '',
    creationTimestamp: isoTime(meta.creationTimestamp),
    type: spec.type ?? 'ClusterIP',
    isLoadBalancer: spec.type === 'LoadBalancer',
    loadBalancerClass: spec.loadBalancerClass || null,
    loadBalancerIP: spec.loadBalancerIP || null,
    annotations: { ...(meta.annotations ?? {}) },
    labels: { ...(meta.labels ?? {}) },
    selector: spec.selector && Object.keys(spec.selector).length > 0 ? { ...spec.selector } : null,
    externalTrafficPolicy: spec.externalTrafficPolicy === 'Local' ? 'Local' : 'Cluster',
    ipFamilies: families,
    ipFamilyPolicy: policy === 'PreferDualStack' || policy === 'RequireDualStack' ? policy : 'SingleStack',
    clusterIPs: spec.clusterIPs ?? (spec.clusterIP && spec.clusterIP !== 'None' ? [spec.clusterIP] : []),
    ports: (spec.ports ?? []).map(p => ({ name: p.name ?? '', protocol: asProtocol(p.protocol), port: p.port })),
    ingressIPs,
    badIngressIPs,
  }
}

export function toNodeView(node: V1Node): NodeView {
  const labels = { ...(node.metadata?.labels ?? {}) }
  const ready = (node.status?.conditions ?? []).some(c => c.type === 'Ready' && c.status === 'True')
  return {
    name: node.metadata?.name ?? '',
    ready,
    labels,
    excludedFromLoadBalancers: 'node.kubernetes.io/exclude-from-external-load-balancers' in labels,
  }
}

export function toEndpointSliceView(slice: V1EndpointSlice): EndpointSliceView {
  const namespace = slice.metadata?.namespace ?? 'default'
  const name = slice.metadata?.name ?? ''
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    serviceName: slice.metadata?.labels?.['kubernetes.io/service-name'] ?? null,
    endpoints: (slice.endpoints ?? []).map(e => ({
      addresses: [...e.addresses],
      ready: e.conditions?.ready ?? true,
      nodeName: e.nodeName ?? null,
    })),
  }
}

export interface ConfigMapView {
  readonly key: string
  readonly namespace: string
  readonly name: string
  readonly uid: string
  readonly data: Readonly<Record<string, string>>
}

export function toConfigMapView(cm: V1ConfigMap): ConfigMapView {
  const namespace = cm.metadata?.namespace ?? 'default'
  const name = cm.metadata?.name ?? ''
  return { key: `${namespace}/${name}`, namespace, name, uid: cm.metadata?.uid ?? '', data: { ...(cm.data ?? {}) } }
}

export interface LeaseView {
  readonly key: string
  readonly namespace: string
  readonly name: string
  readonly labels: Readonly<Record<string, string>>
  readonly annotations: Readonly<Record<string, string>>
  readonly holderIdentity: string | null
  readonly leaseDurationSeconds: number | null
  /** spec.renewTime as the server sent it ('' when unset); compared for change, never against our clock. */
  readonly renewTime: string
  readonly leaseTransitions: number
  readonly resourceVersion: string
}

export function toLeaseView(lease: V1Lease): LeaseView {
  const namespace = lease.metadata?.namespace ?? 'default'
  const name = lease.metadata?.name ?? ''
  const renew: unknown = lease.spec?.renewTime
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    labels: { ...(lease.metadata?.labels ?? {}) },
    annotations: { ...(lease.metadata?.annotations ?? {}) },
    holderIdentity: lease.spec?.holderIdentity ?? null,
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds ?? null,
    renewTime: renew instanceof Date ? (Number.isNaN(renew.getTime()) ? '' : renew.toISOString()) : typeof renew === 'string' ? renew : '',
    leaseTransitions: lease.spec?.leaseTransitions ?? 0,
    resourceVersion: lease.metadata?.resourceVersion ?? '',
  }
}
