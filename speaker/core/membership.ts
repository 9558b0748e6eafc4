// Who is alive, as a pure function of what a speaker has observed. A node may announce only while it is Ready
// (not excluded from load balancers) AND its speaker holds a fresh per-node Lease. One Lease per node keeps API
// writes independent of the number of Services (ROADMAP 1; Cilium's Lease per Service grows with services x
// nodes), a speaker that stops (SIGTERM) deletes its Lease so peers take over at once, and a node whose
// speaker died stops counting after one lease duration instead of waiting for the Node to go NotReady.
//
// Freshness is judged as client-go's leader election judges it: by when *this* observer last saw renewTime
// change, on its own monotonic clock, never by comparing the server's timestamp with our wall clock (skew).
import type { NodeView } from '../../controller/core/views.js'

export interface LeaseObservation {
  /** The renewTime last seen; a change means the holder renewed. */
  readonly renewTime: string
  /** Our monotonic clock (ms) when we saw that renewTime first. */
  readonly observedAtMs: number
  readonly durationMs: number
}

/** Records a Lease sighting: keeps the old observation unless the holder renewed. */
export function observeLease(
  previous: LeaseObservation | undefined,
  renewTime: string,
  durationMs: number,
  nowMs: number,
): LeaseObservation {
  if (previous && previous.renewTime === renewTime && previous.durationMs === durationMs) return previous
  return { renewTime, observedAtMs: nowMs, durationMs }
}

export interface Membership {
  readonly live: ReadonlySet<string>
  /** The earliest moment (our clock) a live node's Lease runs out: re-evaluate then. null if none. */
  readonly nextExpiryMs: number | null
}

export function liveMembers(
  nodes: Iterable<NodeView>,
  leases: ReadonlyMap<string, LeaseObservation>,
  nowMs: number,
): Membership {
  const live = new Set<string>()
  let next: number | null = null
  for (const n of nodes) {
    if (!n.ready || n.excludedFromLoadBalancers) continue
    const lease = leases.get(n.name)
    if (!lease) continue
    const expires = lease.observedAtMs + lease.durationMs
    if (expires <= nowMs) continue
    live.add(n.name)
    if (next === null || expires < next) next = expires
  }
  return { live, nextExpiryMs: next }
}

export const SPEAKER_LEASE_PREFIX = 'l2lb-speaker-'

export function speakerLeaseName(node: string): string {
  return `${SPEAKER_LEASE_PREFIX}${node}`
}
