// Service annotations l2lb reads and writes (docs/reference.md, "Service behaviour"). MetalLB's prefixes are
// read too so that a MetalLB user's Services move over unchanged; when several prefixes carry the same name,
// l2lb.dev wins, then metallb.io, then metallb.universe.tf (the newer MetalLB prefix before the older one).

export const PREFIX = 'l2lb.dev/'
export const READ_PREFIXES = [PREFIX, 'metallb.io/', 'metallb.universe.tf/'] as const

export const ANNOTATION_ADDRESS_POOL = 'address-pool'
export const ANNOTATION_LOAD_BALANCER_IPS = 'loadBalancerIPs'
export const ANNOTATION_ALLOW_SHARED_IP = 'allow-shared-ip'
export const ANNOTATION_ALLOCATED_FROM_POOL = 'ip-allocated-from-pool'

/** The annotation the controller writes, naming the pool a Service's IPs came from. */
export const ALLOCATED_FROM_POOL = `${PREFIX}${ANNOTATION_ALLOCATED_FROM_POOL}`

/** The value of annotation `name` under the first prefix that carries it, or null. */
export function readAnnotation(annotations: Readonly<Record<string, string>>, name: string): string | null {
  for (const prefix of READ_PREFIXES) {
    const v = annotations[`${prefix}${name}`]
    if (v !== undefined) return v
  }
  return null
}

