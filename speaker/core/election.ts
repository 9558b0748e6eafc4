// Who announces which IP. A pure function of two inputs kept apart on purpose, so that how liveness is learned
// can change without touching who wins (docs/architecture.md, "Decisions worth knowing"): the membership
// view (which nodes are alive and eligible: membership.ts, from Node readiness and per-node Leases) and the
// Services with their endpoints. Every speaker computes the same answer from the same view, so exactly one
// node claims each IP without any coordination traffic.
import { createHash } from 'node:crypto'
import type { CanonicalIP } from '../../internal/core/ip.js'
import type { ServiceView, EndpointSliceView } from '../../internal/core/views.js'

function rank(node: string, ip: CanonicalIP): string {
  return createHash('sha256').update(`${node}#${ip}`).digest('hex')
}

/**
 * MetalLB's layer-2 rule: among the candidates, the node with the smallest sha256(node + "#" + ip) wins.
 * Hashing the IP (not the Service) keeps Services that share an IP on one node, and spreads IPs over nodes.
 * The canonical text is hashed, so two Services sharing an IPv6 address written differently agree.
 */
export function announcingNode(ip: CanonicalIP, candidates: Iterable<string>): string | null {
  let best: string | null = null
  let bestRank = ''
  for (const node of candidates) {
    const r = rank(node, ip)
    if (best === null || r < bestRank || (r === bestRank && node < best)) {
      best = node
      bestRank = r
    }
  }
  return best
}

export type NoAnnounceReason = 'noIngressIP' | 'noReadyEndpoints' | 'noLiveCandidate'

export interface ServiceAnnouncement {
  readonly key: string
  /** Winner per ingress IP, in the Service's status order. Empty when `reason` is set. */
  readonly winners: ReadonlyMap<CanonicalIP, string>
  readonly reason: NoAnnounceReason | null
}

/**
 * The candidates for one Service: with externalTrafficPolicy Local only live nodes that run a ready endpoint
 * (traffic must not leave the node it lands on); with Cluster every live node, provided some endpoint is ready.
 */
export function candidateNodes(
  svc: ServiceView,
  slices: readonly EndpointSliceView[],
  live: ReadonlySet<string>,
): { candidates: string[]; reason: NoAnnounceReason | null } {
  const readyNodes = new Set<string>()
  let anyReady = false
  for (const s of slices) {
    for (const e of s.endpoints) {
      if (!e.ready || e.addresses.length === 0) continue
      anyReady = true
      if (e.nodeName) readyNodes.add(e.nodeName)
    }
  }
  if (!anyReady) return { candidates: [], reason: 'noReadyEndpoints' }
  const candidates = svc.externalTrafficPolicy === 'Local'
    ? [...readyNodes].filter(n => live.has(n))
    : [...live]
  return candidates.length > 0 ? { candidates, reason: null } : { candidates: [], reason: 'noLiveCandidate' }
}

/**
 * `mayAnnounce` narrows the candidates per IP (the pool's l2-advertisement node selectors); every speaker
 * must pass the same predicate over the same Node labels so that all of them elect the same winner.
 */
export function electService(
  svc: ServiceView,
  slices: readonly EndpointSliceView[],
  live: ReadonlySet<string>,
  mayAnnounce: (ip: CanonicalIP, node: string) => boolean = () => true,
): ServiceAnnouncement {
  if (svc.ingressIPs.length === 0) return { key: svc.key, winners: new Map(), reason: 'noIngressIP' }
  const { candidates, reason } = candidateNodes(svc, slices, live)
  if (reason) return { key: svc.key, winners: new Map(), reason }
  const winners = new Map<CanonicalIP, string>()
  for (const ip of svc.ingressIPs) {
    const w = announcingNode(ip, candidates.filter(n => mayAnnounce(ip, n)))
    if (w !== null) winners.set(ip, w)
  }
  return { key: svc.key, winners, reason: null }
}

/** MetalLB's name for the question each speaker asks: is this node the one to announce this IP? */
export function shouldAnnounce(myNode: string, ip: CanonicalIP, announcement: ServiceAnnouncement): boolean {
  return announcement.winners.get(ip) === myNode
}
