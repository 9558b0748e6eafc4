// Shared fixtures for the allocator, sharing, reconcile and property tests.
import type { ServiceView } from '../../internal/core/views.js'
import { parsePoolConfig, type PoolConfig } from '../../internal/core/pool-config.js'
import { ips } from '../lib/canonical-ip.js'

/** A view's fields, with the status IPs as text: canonicalised here, as views.ts does. */
export type ServiceOverrides = Partial<Omit<ServiceView, 'ingressIPs'>> & { ingressIPs?: readonly string[] }

export function svc(name: string, over: ServiceOverrides = {}): ServiceView {
  const namespace = over.namespace ?? 'default'
  return {
    key: `${namespace}/${name}`,
    namespace,
    name,
    uid: `uid-${namespace}-${name}`,
    resourceVersion: '1',
    creationTimestamp: '2026-11-22T00:00:00.000Z',
    type: 'LoadBalancer',
    isLoadBalancer: true,
    loadBalancerClass: null,
    loadBalancerIP: null,
    annotations: {},
    labels: {},
    selector: { app: name },
    externalTrafficPolicy: 'Cluster',
    ipFamilies: ['IPv4'],
    ipFamilyPolicy: 'SingleStack',
    clusterIPs: [],
    ports: [{ name: 'http', protocol: 'TCP', port: 80 }],
    badIngressIPs: [],
    ...over,
    ingressIPs: ips(...(over.ingressIPs ?? [])),
  }
}

export function config(yaml: string): PoolConfig {
  const r = parsePoolConfig(yaml)
  if (!r.ok) throw new Error(`fixture config invalid: ${JSON.stringify(r.errors)}`)
  return r.config
}
