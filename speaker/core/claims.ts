// Which IPs of a Service this cluster has announced before, and which a probe found held by another host:
// two Service annotations the speakers keep, pure. A node probes an IP before announcing it (core/probe.ts)
// only when no node of this cluster announced it for this Service before; a takeover after a failover, or a
// speaker restarting, finds the IP in `l2lb.dev/announced-ips` and announces at once, so the probe never
// slows failover. The Service carries the state because every speaker already watches Services and the
// state belongs to the Service's IPs: it goes when the Service goes, and an IP the Service loses drops out
// of it (a later owner of the same IP probes again). MetalLB has no such state (it never probes).
import type { CanonicalIP } from '../../internal/core/ip.js'
import { ADDRESS_IN_USE, ANNOUNCED_IPS, addressesInUse, announcedIPs } from '../../internal/core/annotations.js'

/** What a probe found for one IP on one interface. */
export type ProbeOutcome =
  | { readonly ip: CanonicalIP; readonly interface: string; readonly result: 'free' }
  /** `mac`: the other host's, 'aa:bb:cc:dd:ee:ff'. */
  | { readonly ip: CanonicalIP; readonly interface: string; readonly result: 'in-use'; readonly mac: string }

/** Whether `ip` must be probed before this node announces it for the Service: no node of ours announced it. */
export function needsProbe(ip: CanonicalIP, annotations: Readonly<Record<string, string>>): boolean {
  return !announcedIPs(annotations).has(ip)
}

/**
 * The annotations after `outcome`, as a merge patch of metadata.annotations (null removes a key), or null
 * when nothing changes. Only IPs the Service still has (`ingressIPs`) are kept in either annotation, so
 * an IP the Service gave up is probed again by whoever gets it next. `free` adds the IP to announced-ips
 * and clears its in-use entry; `in-use` records the holder's MAC (announced-ips is left alone: a probe only
 * runs for an IP not in it).
 */
export function claimPatch(
  annotations: Readonly<Record<string, string>>,
  ingressIPs: readonly CanonicalIP[],
  outcome: ProbeOutcome,
): Record<string, string | null> | null {
  const has = new Set(ingressIPs)
  const ip = outcome.ip
  if (!has.has(ip)) return null
  const announced = new Set([...announcedIPs(annotations)].filter(a => has.has(a)))
  const inUse = new Map([...addressesInUse(annotations)].filter(([a]) => has.has(a)))
  if (outcome.result === 'free') {
    announced.add(ip)
    inUse.delete(ip)
  } else {
    inUse.set(ip, outcome.mac)
  }
  const announcedText = [...announced].sort().join(',')
  const inUseText = [...inUse].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([a, m]) => `${a}=${m}`).join(',')
  const patch: Record<string, string | null> = {}
  const put = (key: string, text: string): void => {
    const want = text === '' ? undefined : text
    if (annotations[key] !== want) patch[key] = want ?? null
  }
  put(ANNOUNCED_IPS, announcedText)
  put(ADDRESS_IN_USE, inUseText)
  return Object.keys(patch).length === 0 ? null : patch
}
