// Who may announce, as a pure function of what a speaker has observed: which other nodes are live, and what
// this node itself does (serve, stand by, or fence). Two inputs, each authoritative where the other cannot see:
//
// - The per-node Lease in the API server (one Lease per node keeps API writes independent of the number of
//   Services, unlike Cilium's Lease per Service: docs/reference.md, "Election and failover in peer
//   projects"). Freshness is judged as client-go's leader election judges it: by when *this* observer saw
//   renewTime change, on its own monotonic clock, never by comparing the server's timestamp with our clock.
// - Peer heartbeats on the LAN (core/peer-heartbeat.ts), signed with the cluster's key: what the segment
//   the IPs live on actually hears, several times a second, with or without an API server.
//
// The failure matrix they answer (docs/architecture.md, "When things fail", has the measurements):
// - A node whose heartbeats an observer hears is live; one that said `leaving` or `standby` is not; one that
//   went silent for HEARTBEATS_MISSED of its intervals is not, whatever its Lease says, as long as the
//   observer hears some other peer (its own receive path works): a node cut from the LAN but renewing its
//   Lease cannot answer there, so its IPs move.
// - An observer that hears nobody cannot tell its own deafness from its peers' deaths, so it asks the API:
//   a silent peer counts again when a renewal of its Lease is seen after its silence began (a dead node
//   renews nothing, so it stays out: failover in HEARTBEATS_MISSED intervals even for the last survivor).
//   A first sighting of a Lease (a speaker that just started lists it) is not a renewal: the Lease of a node
//   killed a moment ago is not taken for a live one.
// - A node never heard is given HEARTBEATS_MISSED intervals from when this observer started listening (or
//   started hearing again after hearing nobody) before its silence counts; a speaker joins only after
//   listening that long, so it starts with the same picture as its peers.
// - A node whose Lease says it sends no heartbeats (L2LB_HEARTBEAT_MS=0, annotation
//   HEARTBEAT_INTERVAL_ANNOTATION "0"), or an older speaker that says nothing and was never heard, is judged
//   by its Lease alone.
// - This node itself (judgeSelf): it serves while it renews its Lease; when it cannot, it keeps serving as
//   long as it hears peers none of which reach the API server either (the API server is away for all:
//   the LAN decides, and the data plane outlives the control plane); it stands by, heartbeats `standby`,
//   when a peer it hears has reached the API server for a whole Lease duration while it could not (that
//   peer sees Nodes and Services it cannot); and it fences itself when it neither renews nor hears anyone
//   and some other node could take over. A node that cannot send its heartbeats takes itself out at once.
import type { NodeView } from '../../internal/core/views.js'
import type { Heartbeat, HeartbeatKind } from './peer-heartbeat.js'

/** The Lease annotation in which a speaker declares its heartbeat interval in ms ("0": it sends none). */
export const HEARTBEAT_INTERVAL_ANNOTATION = 'l2lb.dev/heartbeat-interval-ms'

export interface LeaseObservation {
  /** The renewTime last seen; a change means the holder renewed. */
  readonly renewTime: string
  /** Our monotonic clock (ms) when we saw that renewTime first. */
  readonly observedAtMs: number
  readonly durationMs: number
  /** When we last saw renewTime change (a renewal witnessed); null while we have only the first sighting. */
  readonly renewalSeenAtMs: number | null
  /** The holder's declared heartbeat interval (0: none); null when its Lease does not say (an older speaker). */
  readonly heartbeatIntervalMs: number | null
}

/** What the Lease says, read from its view. */
export interface LeaseSighting {
  readonly renewTime: string
  readonly durationMs: number
  readonly heartbeatIntervalMs: number | null
}

/** Records a Lease sighting: keeps when the renewTime was first seen unless the holder renewed. */
export function observeLease(previous: LeaseObservation | undefined, seen: LeaseSighting, nowMs: number): LeaseObservation {
  const { renewTime, durationMs, heartbeatIntervalMs } = seen
  if (previous && previous.renewTime === renewTime && previous.durationMs === durationMs) {
    return previous.heartbeatIntervalMs === heartbeatIntervalMs ? previous : { ...previous, heartbeatIntervalMs }
  }
  return { renewTime, observedAtMs: nowMs, durationMs, renewalSeenAtMs: previous ? nowMs : null, heartbeatIntervalMs }
}

/** The declared interval from a Lease's annotations: a whole number of ms, or null when absent or unreadable. */
export function declaredHeartbeatInterval(annotations: Readonly<Record<string, string>>): number | null {
  const text = annotations[HEARTBEAT_INTERVAL_ANNOTATION]
  if (text === undefined || !/^[0-9]{1,6}$/.test(text)) return null
  return Number(text)
}

export interface HeartbeatObservation {
  /** Our monotonic clock (ms) when the node's last heartbeat arrived. */
  readonly heardAtMs: number
  /** Silence longer than this passes the node over (HEARTBEATS_MISSED of its own announced intervals). */
  readonly deadlineMs: number
  readonly kind: HeartbeatKind
  /** Since when (our clock) its heartbeats have said, without a break, that it reaches the API server; null: they do not. */
  readonly reachesApiSinceMs: number | null
}

/** Heartbeats a node may miss before it is passed over (VRRP's master-down interval is 3 adverts too). */
export const HEARTBEATS_MISSED = 3

/** What membership needs of a heartbeat. */
export type HeardHeartbeat = Pick<Heartbeat, 'kind' | 'intervalMs' | 'reachesApi'>

/** Records a heartbeat as it arrives. */
export function observeHeartbeat(previous: HeartbeatObservation | undefined, h: HeardHeartbeat, nowMs: number): HeartbeatObservation {
  const unbroken = previous !== undefined && previous.kind !== 'leaving' && previous.heardAtMs + previous.deadlineMs > nowMs
  const since = unbroken ? previous.reachesApiSinceMs : null
  return {
    heardAtMs: nowMs,
    deadlineMs: HEARTBEATS_MISSED * h.intervalMs,
    kind: h.kind,
    reachesApiSinceMs: h.reachesApi ? (since ?? nowMs) : null,
  }
}

function isFresh(h: HeartbeatObservation, nowMs: number): boolean {
  return h.heardAtMs + h.deadlineMs > nowMs
}

/** What this observer knows of its own listening (null: heartbeats are off, the Leases alone decide). */
export interface Listening {
  /** When it started listening (this process). */
  readonly sinceMs: number
  /** When it last started hearing some peer after hearing none (-Infinity: never deaf since it started). */
  readonly hearingSinceMs: number
  /** Its own interval: the grace given to a node whose Lease does not declare one. */
  readonly ownIntervalMs: number
}

/** What this observer knows of itself. */
export interface SelfObservation {
  readonly name: string
  /** Sent time of its last Lease renewal that succeeded and that its watch has shown; null: none yet. */
  readonly leaseRenewedAtMs: number | null
  readonly leaseDurationMs: number
  /** Since when its renewals have been failing (or timing out) without a break; null: the last one succeeded (or none tried). */
  readonly renewalsFailingSinceMs: number | null
  /** Sent time of its last renewal that succeeded, watch or not; null: none. */
  readonly lastRenewalOkMs: number | null
  /** When its last heartbeat went out; null: it has not joined (or heartbeats are off). */
  readonly heartbeatSentAtMs: number | null
}

export interface MembershipInput {
  readonly nodes: Iterable<NodeView>
  /** The other nodes' Leases, as observed. */
  readonly leases: ReadonlyMap<string, LeaseObservation>
  /** The last heartbeat heard from each other node of the cluster. */
  readonly heard: ReadonlyMap<string, HeartbeatObservation>
  readonly listening: Listening | null
  readonly self: SelfObservation
  readonly nowMs: number
}

/** What this node does: serve (announce what it wins), stand by (alive, announces nothing), or fence itself. */
export type SelfState = 'serving' | 'standby' | 'fenced'

export interface SelfVerdict {
  readonly state: SelfState
  /** Why, in words for the log. */
  readonly reason: string
}

export interface Membership {
  /** The nodes that may announce, this one included when it serves. */
  readonly live: ReadonlySet<string>
  readonly self: SelfVerdict
  /** The earliest moment (our clock) the answer may change without a new observation: re-evaluate then. */
  readonly recheckAtMs: number | null
}

export function liveMembers(input: MembershipInput): Membership {
  const { leases, heard, listening, nowMs } = input
  const selfName = input.self.name
  let recheck: number | null = null
  const wake = (at: number): void => {
    if (at > nowMs && (recheck === null || at < recheck)) recheck = at
  }
  // Do we hear the LAN? Some other node's heartbeat (alive or standby) is fresh.
  let hearing = false
  for (const [node, h] of heard) {
    if (node === selfName || h.kind === 'leaving' || !isFresh(h, nowMs)) continue
    hearing = true
    wake(h.heardAtMs + h.deadlineMs)
  }
  const live = new Set<string>()
  let selfNode: NodeView | undefined
  let otherCandidates = false
  /** Live peers that send heartbeats we do not hear (we are deaf): they do not hear us either, most likely. */
  let unheardLivePeers = 0
  for (const n of input.nodes) {
    if (n.name === selfName) { selfNode = n; continue }
    if (!n.ready || n.excludedFromLoadBalancers) continue
    const lease = leases.get(n.name)
    if (!lease) continue
    otherCandidates = true
    const why = peerLiveBy(lease, heard.get(n.name), listening, hearing, nowMs, wake)
    if (why !== null) live.add(n.name)
    if (why === 'renewal-while-deaf') unheardLivePeers++
  }
  const self = judgeSelf(input, selfNode, hearing, otherCandidates, unheardLivePeers, wake)
  if (self.state === 'serving') live.add(selfName)
  return { live, self, recheckAtMs: recheck }
}

/** Why a peer counts as live: its Lease alone, its heartbeats, or a renewal seen while we hear nobody. */
type LiveBy = 'lease' | 'heartbeat' | 'renewal-while-deaf'

function peerLiveBy(
  lease: LeaseObservation,
  hb: HeartbeatObservation | undefined,
  listening: Listening | null,
  hearing: boolean,
  nowMs: number,
  wake: (at: number) => void,
): LiveBy | null {
  const leaseExpires = lease.observedAtMs + lease.durationMs
  const byLease = (): LiveBy | null => {
    if (leaseExpires <= nowMs) return null
    wake(leaseExpires)
    return 'lease'
  }
  const speaks = listening !== null && (lease.heartbeatIntervalMs !== null ? lease.heartbeatIntervalMs > 0 : hb !== undefined)
  if (!speaks || listening === null) return byLease()
  // Deaf: a renewal witnessed after `since` says the node is alive though we do not hear it.
  const renewedAfter = (since: number): LiveBy | null => {
    const seen = lease.renewalSeenAtMs
    if (hearing || seen === null || seen <= since || seen + lease.durationMs <= nowMs) return null
    wake(seen + lease.durationMs)
    return 'renewal-while-deaf'
  }
  if (hb?.kind === 'leaving') return renewedAfter(hb.heardAtMs)
  if (hb !== undefined && isFresh(hb, nowMs)) {
    wake(hb.heardAtMs + hb.deadlineMs)
    return hb.kind === 'alive' ? 'heartbeat' : null
  }
  const intervalMs = hb ? hb.deadlineMs / HEARTBEATS_MISSED : (lease.heartbeatIntervalMs ?? listening.ownIntervalMs)
  const silentFrom = Math.max(hb?.heardAtMs ?? listening.sinceMs, listening.hearingSinceMs) + HEARTBEATS_MISSED * intervalMs
  if (nowMs < silentFrom) {
    // Not yet silent for long enough to count: a node we have not heard since we (re)started hearing.
    wake(silentFrom)
    return hb?.kind === 'standby' ? null : byLease()
  }
  return renewedAfter(silentFrom)
}

function judgeSelf(
  input: MembershipInput,
  node: NodeView | undefined,
  hearing: boolean,
  otherCandidates: boolean,
  unheardLivePeers: number,
  wake: (at: number) => void,
): SelfVerdict {
  const { self, heard, listening, nowMs } = input
  if (!node) return { state: 'standby', reason: 'this node is not in the Node list' }
  if (!node.ready) return { state: 'standby', reason: 'this node is not Ready' }
  if (node.excludedFromLoadBalancers) return { state: 'standby', reason: 'this node is excluded from load balancers (node.kubernetes.io/exclude-from-external-load-balancers)' }
  if (listening !== null) {
    if (self.heartbeatSentAtMs === null) return { state: 'standby', reason: 'not joined yet' }
    const sendDeadline = self.heartbeatSentAtMs + HEARTBEATS_MISSED * listening.ownIntervalMs
    if (sendDeadline <= nowMs) return { state: 'fenced', reason: 'it cannot send its heartbeats: peers pass it over' }
    wake(sendDeadline)
  }
  if (unheardLivePeers > 0) {
    // Peers renew their Leases but we hear none of them: a split LAN or a cut link, most likely both ways,
    // and they have passed us over. If it is only our receive path, they hear our `standby` and take our
    // IPs. Either way one announcer per IP, also at the moment the LAN is whole again.
    return { state: 'standby', reason: 'it hears no peer though peers renew their Leases: they have taken its IPs over' }
  }
  const leaseGood = self.leaseRenewedAtMs !== null && self.leaseRenewedAtMs + self.leaseDurationMs > nowMs
  if (leaseGood && self.leaseRenewedAtMs !== null) {
    wake(self.leaseRenewedAtMs + self.leaseDurationMs)
    return { state: 'serving', reason: 'it renews its Lease' }
  }
  if (listening === null) return { state: 'fenced', reason: 'it cannot renew its Lease (heartbeats off: peers judge it by the Lease)' }
  if (hearing) {
    // Cut from the API server for two Lease durations since its last good renewal, while a peer it hears has
    // said for a whole Lease duration that it reaches it: stand by. The margins keep an outage for everyone
    // (every node stops reaching it within one renewal interval of the others, and says so within a heartbeat)
    // and its end (every node reaches it again within a few seconds) from moving anything.
    const cutSince = self.renewalsFailingSinceMs === null ? null : (self.lastRenewalOkMs ?? self.renewalsFailingSinceMs)
    for (const h of heard.values()) {
      if (cutSince === null) break
      if (h.kind === 'leaving' || !isFresh(h, nowMs) || h.reachesApiSinceMs === null) continue
      const at = Math.max(cutSince + 2 * self.leaseDurationMs, h.reachesApiSinceMs + self.leaseDurationMs)
      if (at <= nowMs) return { state: 'standby', reason: 'it cannot reach the API server while a peer it hears can: that peer sees what it cannot' }
      wake(at)
    }
    return { state: 'serving', reason: cutSince === null ? 'its Lease is being taken; peers hear it' : 'the API server is away for every peer it hears: heartbeats decide' }
  }
  if (!otherCandidates) return { state: 'serving', reason: 'no other node could take over' }
  return { state: 'fenced', reason: 'it neither renews its Lease nor hears a peer: another node takes over' }
}

export const SPEAKER_LEASE_PREFIX = 'l2lb-speaker-'

export function speakerLeaseName(node: string): string {
  return `${SPEAKER_LEASE_PREFIX}${node}`
}
