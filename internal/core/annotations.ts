// Service annotations l2lb reads and writes (docs/reference.md, "Service behaviour"). MetalLB's prefixes are
// read too so that a MetalLB user's Services move over unchanged; when several prefixes carry the same name,
// l2lb.dev wins, then metallb.io, then metallb.universe.tf (the newer MetalLB prefix before the older one).
import { canonicalIP, type CanonicalIP } from './ip.js'

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


// The speakers' record of their probes (speaker/core/claims.ts writes them; `l2lb status` reads the second).
/** IPs of this Service a node of this cluster announced: comma-separated, canonical, sorted. */
export const ANNOUNCED_IPS = `${PREFIX}announced-ips`
/** IPs of this Service that a probe found held by another host, not announced: `ip=mac`, comma-separated. */
export const ADDRESS_IN_USE = `${PREFIX}address-in-use`

function ipsIn(value: string | undefined): CanonicalIP[] {
  const out: CanonicalIP[] = []
  if (value === undefined) return out
  for (const s of value.split(',')) {
    const c = canonicalIP(s)
    if (c.ok) out.push(c.value)
  }
  return out
}

/** The IPs in the announced-ips annotation (canonical); anything unreadable in it is ignored. */
export function announcedIPs(annotations: Readonly<Record<string, string>>): Set<CanonicalIP> {
  return new Set(ipsIn(annotations[ANNOUNCED_IPS]))
}

/** The address-in-use annotation as ip -> MAC (canonical IPs); unreadable entries are ignored. */
export function addressesInUse(annotations: Readonly<Record<string, string>>): Map<CanonicalIP, string> {
  const out = new Map<CanonicalIP, string>()
  for (const entry of (annotations[ADDRESS_IN_USE] ?? '').split(',')) {
    const at = entry.indexOf('=')
    if (at < 0) continue
    const ip = canonicalIP(entry.slice(0, at))
    const mac = entry.slice(at + 1).trim()
    if (ip.ok && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) out.set(ip.value, mac)
  }
  return out
}

