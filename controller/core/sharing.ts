// When two Services may hold the same IP (MetalLB's rules; docs/reference.md, "Sharing rules"): both carry the
// same non-empty allow-shared-ip key, both send traffic to the same backends (the backend key), and no
// (protocol, port) pair is used by both — TCP/53 and UDP/53 may share, TCP/80 twice may not.

export interface PortKey {
  readonly protocol: 'TCP' | 'UDP' | 'SCTP'
  readonly port: number
}

export interface SharingInfo {
  /** allow-shared-ip value; null when the Service does not allow sharing. */
  readonly sharingKey: string | null
  /**
   * externalTrafficPolicy Cluster: "" (any node can forward to any backend). Local: the selector, because
   * the announcing node must have a local endpoint of every Service on the IP, so they must be the same pods.
   */
  readonly backendKey: string
  readonly ports: readonly PortKey[]
}

/** The backend key of a Service. */
export function backendKey(
  externalTrafficPolicy: 'Cluster' | 'Local',
  selector: Readonly<Record<string, string>> | null,
): string {
  if (externalTrafficPolicy !== 'Local' || selector === null) return ''
  return Object.keys(selector)
    .sort()
    .map(k => `${k}=${selector[k] ?? ''}`)
    .join(',')
}

/** Why `a` and `b` cannot share an IP, or null when they can. */
export function sharingConflict(a: SharingInfo, b: SharingInfo): string | null {
  if (a.sharingKey === null || b.sharingKey === null) {
    return 'without allow-shared-ip on both Services an IP is not shared'
  }
  if (a.sharingKey !== b.sharingKey) {
    return `allow-shared-ip keys differ ("${a.sharingKey}" and "${b.sharingKey}")`
  }
  if (a.backendKey !== b.backendKey) {
    return 'the Services select different backends (with externalTrafficPolicy Local both need the same selector)'
  }
  // Linear in the ports of both, not their product: two Services with 30,000 ports each took 2 s pairwise.
  const used = new Set<string>()
  for (const q of b.ports) used.add(`${q.protocol}/${q.port}`)
  for (const p of a.ports) {
    const k = `${p.protocol}/${p.port}`
    if (used.has(k)) return `both use ${k}`
  }
  return null
}

/** Whether two Services' sharing info is the same (key, backends, and ports in order). */
export function sameSharing(a: SharingInfo, b: SharingInfo): boolean {
  if (a.sharingKey !== b.sharingKey || a.backendKey !== b.backendKey || a.ports.length !== b.ports.length) return false
  return a.ports.every((p, i) => p.protocol === b.ports[i]?.protocol && p.port === b.ports[i]?.port)
}
