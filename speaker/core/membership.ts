// Who is alive, as a pure function of what a speaker has observed. A node may announce only while it is Ready
// (not excluded from load balancers) AND its speaker holds a fresh per-node Lease. One Lease per node keeps
// API writes independent of the number of Services (Cilium's Lease per Service grows with services x nodes:
// docs/reference.md, "Election and failover in peer projects"), a speaker that stops (SIGTERM) deletes its
// Lease so peers take over at once, and a node whose speaker died stops counting after one lease duration
// instead of waiting for the Node to go NotReady.
//
// Freshness is judged as client-go's leader election judges it: by when *this* observer last saw renewTime
// change, on its own monotonic clock, never by comparing the server's timestamp with our wall clock (skew).
//
// Peer heartbeats on the LAN (core/peer-heartbeat.ts) are a second, faster input: a node whose heartbeats
// stopped (or which said it is leaving) stops counting after a few of its intervals, well before its Lease
// runs out. They can only take a node out, never keep one in: the Lease still decides that. A node never
// heard (an older speaker, another segment) is judged by its Lease alone. Three rules keep the two inputs
// from disagreeing for long:
// - A Lease renewal seen after the silence began (or after the `leaving`) overrides the heartbeat: the node
//   is alive whatever the LAN lost, and it came back without heartbeats (restarted with them off, downgraded).
//   So a killed speaker goes after 3 missed heartbeats, while a live one whose heartbeats are lost on the way
//   is passed over for at most one renewal interval (two announcers for that long), not for good.
// - Silence counts only while this observer demonstrably hears the LAN — some other peer's heartbeat is
//   fresh — and only from when it started hearing again: a speaker whose own receive path broke, or just came
//   back, would otherwise pass every quiet peer over and announce everything.
// - The observer's own heartbeats, passed in under its own name, are the ones it last managed to send: once it
//   has been unable to send for as long as peers wait, it takes itself out too (until its next renewal, by
//   the first rule, as its peers do).
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

export interface HeartbeatObservation {
  /** Our monotonic clock (ms) when the node's last heartbeat arrived. */
  readonly heardAtMs: number
  /** Silence longer than this passes the node over (a few of its own announced intervals). */
  readonly deadlineMs: number
  /** It said it is stopping: passed over at once. */
  readonly leaving: boolean
}

/** Heartbeats a node may miss before it is passed over (VRRP's master-down interval is 3 adverts too). */
export const HEARTBEATS_MISSED = 3

/** Records a heartbeat as it arrives. */
export function observeHeartbeat(kind: 'alive' | 'leaving', intervalMs: number, nowMs: number): HeartbeatObservation {
  return { heardAtMs: nowMs, deadlineMs: HEARTBEATS_MISSED * intervalMs, leaving: kind === 'leaving' }
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
  heartbeats: ReadonlyMap<string, HeartbeatObservation> = new Map(),
  self: string | null = null,
  /** When this observer last started hearing the LAN after hearing nobody (our clock); silence counts from then. */
  hearingSinceMs = -Infinity,
): Membership {
  // Do we hear the LAN at all? Some other node's heartbeat is fresh.
  let hearing = false
  for (const [node, h] of heartbeats) if (node !== self && !h.leaving && h.heardAtMs + h.deadlineMs > nowMs) hearing = true
  const live = new Set<string>()
  let next: number | null = null
  const wake = (at: number): void => {
    if (next === null || at < next) next = at
  }
  for (const n of nodes) {
    if (!n.ready || n.excludedFromLoadBalancers) continue
    const lease = leases.get(n.name)
    if (!lease) continue
    const expires = lease.observedAtMs + lease.durationMs
    if (expires <= nowMs) continue
    const hb = heartbeats.get(n.name)
    if (hb !== undefined) {
      const isSelf = n.name === self
      const silentAt = Math.max(hb.heardAtMs, isSelf ? -Infinity : hearingSinceMs) + hb.deadlineMs
      const renewedSince = lease.observedAtMs > (hb.leaving ? hb.heardAtMs : silentAt)
      if (!renewedSince) {
        if (hb.leaving) continue
        if (silentAt <= nowMs && (hearing || isSelf)) continue
        if (silentAt > nowMs) wake(silentAt)
      }
    }
    live.add(n.name)
    wake(expires)
  }
  return { live, nextExpiryMs: next }
}

export const SPEAKER_LEASE_PREFIX = 'l2lb-speaker-'

export function speakerLeaseName(node: string): string {
  return `${SPEAKER_LEASE_PREFIX}${node}`
}
