// The peer-heartbeat shell: on every interface the speaker answers on, listen to the heartbeat group from
// the start and hand every heartbeat heard from another node to the speaker; once the speaker joins, send
// one every interval saying what the speaker says of itself (alive or standby, and whether it reaches the API
// server), and say `leaving` on close. The frames are in core/peer-heartbeat.ts, the rules in
// core/membership.ts.
//
// An interface where the socket cannot be opened, or where a send fails, is retried every few intervals;
// meanwhile peers that hear nothing from this node pass it over, and it takes itself out when no send at all
// has gone out for HEARTBEATS_MISSED intervals (core/membership.ts).
//
// Every frame heard is decoded, checked against the cluster name and keys, and against the last frame taken
// from its node (the replay rule, core/peer-heartbeat.ts); one that fails is dropped and counted, never
// thrown on: l2lb_speaker_heartbeats_dropped_total{reason} for a frame that is not a readable heartbeat of
// another node (the codec's code, SAME_NODE_NAME, OWN_FRAME, DUPLICATE), ..._rejected_total{reason} for a
// readable one that is not trusted (other_cluster, unsigned, unknown_key, bad_mac, replay).
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { MetricFamily, MetricsRegistry } from '../internal/observe/metrics.js'
import { assembleBpf } from './core/bpf.js'
import type { Clock, TimerHandle } from './core/clock.js'
import { PacketError } from './core/ethernet.js'
import {
  ETHERTYPE_L2LB_HEARTBEAT, HEARTBEAT_GROUP_MAC, REJECT_REASONS, decodeHeartbeat, encodeHeartbeat, heartbeatFilter,
  judgeFreshness, senderRecord, verifyHeartbeat,
  type DecodedHeartbeat, type HeartbeatTrust, type ReceivedHeartbeat, type SenderRecord,
} from './core/peer-heartbeat.js'
import { isInterfaceGoneError, isReceiveStoppedError, openPacketLink, type MulticastLink, type OpenLink } from './link/packet-link.js'
import { systemClock } from './system-clock.js'

/** What this node says of itself in each heartbeat (core/membership.ts decides it). */
export interface OwnStatus {
  readonly kind: 'alive' | 'standby'
  readonly reachesApi: boolean
}

/** What the speaker needs of a heartbeat source (tests drive it by hand). */
export interface PeerHeartbeatSource {
  /** The interval this node sends at (and announces). */
  readonly intervalMs: number
  /** Opens the sockets and hands every heartbeat heard from another node to onHeartbeat; sends nothing yet. */
  listen(onHeartbeat: (h: ReceivedHeartbeat) => void): void
  /** Starts sending: one heartbeat now, then one every interval, saying what status() says at that moment. */
  join(status: () => OwnStatus): void
  /** Sends one heartbeat now, out of turn (the status changed: peers should know at once). */
  sendNow(): void
  /** When (on the speaker's clock) a heartbeat last went out on some interface; null before the first. */
  lastSentMs(): number | null
  /** Says `leaving` where it can (once joined), then stops. */
  close(): void
}

export interface PeerHeartbeatOptions {
  readonly node: string
  readonly interfaces: readonly string[]
  /** How often to send; peers pass this node over after HEARTBEATS_MISSED intervals of silence. */
  readonly intervalMs: number
  readonly log: Logger
  readonly metrics?: MetricsRegistry
  readonly openLink?: OpenLink<MulticastLink>
  /**
   * The interval timer and the time lastSentMs() reports: the speaker's clock (it compares the two), so main.ts
   * hands both the same one; tests pass a manual one. Default: systemClock.
   */
  readonly clock?: Clock
  /**
   * The cluster name and keys (README, "Heartbeat authentication"); by default unnamed and without keys:
   * frames unsigned and every frame of the cluster taken, which start() warns about.
   */
  readonly trust?: HeartbeatTrust
  /** This process's boot id (64 bits); random by default. */
  readonly bootId?: bigint
  /**
   * The sent-at clock in ms, a wall clock apart from `clock` (a receiver compares a sender's sent-at across
   * its restarts, which a monotonic clock with an arbitrary origin cannot serve): wall-clock time at process
   * start plus monotonic time since (never steps back while the process runs), by default.
   */
  readonly sentAtClock?: () => number
}

const UNNAMED_UNAUTHENTICATED: HeartbeatTrust = { cluster: '', keys: [] }

/** How many sending nodes the replay rule remembers (the least recently heard is forgotten first). */
export const SENDERS_REMEMBERED = 4096

function newBootId(): bigint {
  return randomBytes(8).readBigUInt64BE(0)
}

function processClockMs(): number {
  return Math.floor(performance.timeOrigin + performance.now())
}

const openHeartbeatLink: OpenLink<MulticastLink> = name =>
  openPacketLink(name, ETHERTYPE_L2LB_HEARTBEAT, assembleBpf(heartbeatFilter()))

/** Intervals between attempts to open (again) an interface's heartbeat socket. */
const REOPEN_EVERY_INTERVALS = 10

/** The socket is lost for good, on send or receive alike: the interface is gone or native stopped polling. */
function isLinkLost(err: unknown): boolean {
  return isInterfaceGoneError(err) || isReceiveStoppedError(err)
}

interface Slot {
  readonly name: string
  link: MulticastLink | null
  /** Ticks until the next attempt to open; counts down while link is null. */
  retryIn: number
}

export class PeerHeartbeats implements PeerHeartbeatSource {
  readonly #o: PeerHeartbeatOptions
  readonly #clock: Clock
  #slots: Slot[] = []
  /** The next tick; null before listen() and after close(). */
  #timer: TimerHandle | null = null
  #sequence = 0
  #bootId: bigint
  readonly #trust: HeartbeatTrust
  /** The last frame taken from each node, least recently heard first (the replay rule). */
  readonly #senders = new Map<string, SenderRecord>()
  #closed = false
  #onHeartbeat: (h: ReceivedHeartbeat) => void = () => {}
  #sent: MetricFamily | null = null
  #dropped: MetricFamily | null = null
  #rejected: MetricFamily | null = null
  #reopened: MetricFamily | null = null
  /** Interfaces whose last send failed: logged once per failure streak, not every interval. */
  #failing = new Set<string>()
  #sameNameWarned = false
  #lastSent: number | null = null
  /** Set by join(): what to say in each heartbeat; null while only listening. */
  #status: (() => OwnStatus) | null = null

  constructor(opts: PeerHeartbeatOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? systemClock
    this.#trust = opts.trust ?? UNNAMED_UNAUTHENTICATED
    this.#bootId = opts.bootId ?? newBootId()
  }

  get intervalMs(): number {
    return this.#o.intervalMs
  }

  lastSentMs(): number | null {
    return this.#lastSent
  }

  listen(onHeartbeat: (h: ReceivedHeartbeat) => void): void {
    if (this.#closed || this.#timer !== null) return
    const { metrics } = this.#o
    this.#onHeartbeat = onHeartbeat
    this.#sent = metrics?.counter('l2lb_speaker_heartbeats_sent_total', 'Peer heartbeats sent, per interface') ?? null
    this.#dropped = metrics?.counter('l2lb_speaker_heartbeats_dropped_total', 'Frames of the heartbeat EtherType dropped, per reason') ?? null
    this.#reopened = metrics?.counter('l2lb_speaker_heartbeat_socket_opens_total', 'Heartbeat sockets opened again after one was lost, per interface') ?? null
    this.#rejected = metrics?.counter('l2lb_speaker_heartbeats_rejected_total', 'Peer heartbeats refused, per reason: other_cluster, unsigned, unknown_key, bad_mac, replay') ?? null
    for (const reason of REJECT_REASONS) this.#rejected?.inc({ reason }, 0)
    const { cluster, keys } = this.#trust
    metrics?.gauge('l2lb_speaker_heartbeat_auth_enabled_bool', '1 when peer heartbeats are signed and checked (L2LB_HEARTBEAT_KEYS); 0 when any host on the LAN can forge them')
      .set({}, keys.length > 0 ? 1 : 0)
    if (keys.length > 0) {
      this.#o.log.info({ cluster, signingKey: keys[0]?.id, keys: keys.map(k => k.id) }, 'peer heartbeats are signed and checked')
    } else {
      this.#o.log.warn({ cluster }, 'peer heartbeats are NOT authenticated: any host on the LAN can forge or replay one (a forged `leaving` moves a node\'s IPs away). Set L2LB_HEARTBEAT_KEYS from the Secret l2lb-heartbeat-key (README, "Heartbeat authentication")')
    }
    this.#slots = this.#o.interfaces.map(name => ({ name, link: null, retryIn: 0 }))
    for (const slot of this.#slots) this.#open(slot, false)
    this.#armTick()
  }

  /**
   * One tick every interval, armed again as each one starts (what Node's setInterval does: the next is due one
   * interval after this one began), so the Clock needs one-shot timers only.
   */
  #armTick(): void {
    this.#timer = this.#clock.setTimeout(() => this.#tick(), this.#o.intervalMs)
  }

  join(status: () => OwnStatus): void {
    if (this.#closed || this.#status !== null) return
    this.#status = status
    this.#send(status())
  }

  sendNow(): void {
    if (this.#closed || this.#status === null) return
    this.#send(this.#status())
  }

  #open(slot: Slot, again: boolean): void {
    const open = this.#o.openLink ?? openHeartbeatLink
    let link: MulticastLink | null = null
    try {
      link = open(slot.name)
      link.addMembership(Buffer.from(HEARTBEAT_GROUP_MAC))
      const opened = link
      opened.subscribe(frame => this.#receive(frame), err => {
        if (isLinkLost(err)) this.#lose(slot, opened, err)
        else this.#o.log.warn({ interface: slot.name, err }, 'peer heartbeat receive error')
      })
      slot.link = opened
      if (again) {
        this.#reopened?.inc({ interface: slot.name })
        this.#o.log.info({ interface: slot.name }, 'peer heartbeat socket open again')
      }
    } catch (err) {
      link?.close()
      slot.retryIn = REOPEN_EVERY_INTERVALS
      if (!again) this.#o.log.warn({ interface: slot.name, err }, 'peer heartbeats unavailable on this interface for now: failover there waits for the Lease')
    }
  }

  #lose(slot: Slot, link: MulticastLink, why: unknown): void {
    if (slot.link !== link) return
    link.close()
    slot.link = null
    slot.retryIn = 1
    this.#o.log.warn({ interface: slot.name, err: why }, 'peer heartbeat socket lost: opening it again')
  }

  #tick(): void {
    this.#armTick()
    for (const slot of this.#slots) {
      if (slot.link !== null) {
        // A socket bound to an interface that was deleted (and maybe re-created) never receives again.
        if (slot.link.interfaceGone()) this.#lose(slot, slot.link, 'interface gone')
        continue
      }
      if (--slot.retryIn <= 0) this.#open(slot, true)
    }
    if (this.#status !== null) this.#send(this.#status())
  }

  #receive(frame: Buffer): void {
    let h: DecodedHeartbeat
    try {
      h = decodeHeartbeat(frame)
    } catch (err) {
      this.#dropped?.inc({ reason: err instanceof PacketError ? err.code : 'ERROR' })
      return
    }
    const refused = verifyHeartbeat(h, this.#trust)
    if (refused !== null) {
      this.#rejected?.inc({ reason: refused })
      return
    }
    if (h.node === this.#o.node) {
      // A link never delivers its own sends, but another interface on the same LAN hears them: our boot id.
      if (h.bootId === this.#bootId) {
        this.#dropped?.inc({ reason: 'OWN_FRAME' })
        return
      }
      // Another host uses our node name.
      this.#dropped?.inc({ reason: 'SAME_NODE_NAME' })
      if (!this.#sameNameWarned) {
        this.#sameNameWarned = true
        this.#o.log.warn({ src: h.src.toString('hex') }, 'a peer heartbeat carries this node\'s own name: two speakers run with the same NODE_NAME')
      }
      return
    }
    const freshness = judgeFreshness(this.#senders.get(h.node), h)
    if (freshness === 'replay') {
      this.#rejected?.inc({ reason: 'replay' })
      return
    }
    if (freshness === 'duplicate') {
      this.#dropped?.inc({ reason: 'DUPLICATE' })
      return
    }
    this.#senders.delete(h.node)
    this.#senders.set(h.node, senderRecord(h))
    if (this.#senders.size > SENDERS_REMEMBERED) {
      const oldest = this.#senders.keys().next()
      if (oldest.done !== true) this.#senders.delete(oldest.value)
    }
    const heard: ReceivedHeartbeat = { node: h.node, kind: h.kind, intervalMs: h.intervalMs, sequence: h.sequence, reachesApi: h.reachesApi, src: h.src }
    this.#onHeartbeat(heard)
  }

  #send(status: OwnStatus | { readonly kind: 'leaving'; readonly reachesApi: boolean }): void {
    const frame = {
      node: this.#o.node, kind: status.kind, reachesApi: status.reachesApi, intervalMs: this.#o.intervalMs, sequence: this.#sequence, cluster: this.#trust.cluster,
      bootId: this.#bootId, sentAtMs: (this.#o.sentAtClock ?? processClockMs)(),
    }
    // After 2^32 frames (27 years at 200 ms, 2.7 at the shortest interval, 20 ms) the sequence would wrap and
    // read as a replay: carry on as a new process would, with a new boot id (its sent-at is later).
    if (this.#sequence === 0xffffffff) {
      this.#bootId = newBootId()
      this.#sequence = 0
    } else {
      this.#sequence++
    }
    const key = this.#trust.keys[0] ?? null
    for (const slot of this.#slots) {
      const { name, link } = slot
      if (link === null) continue
      try {
        link.send(encodeHeartbeat(link.mac, frame, key))
        this.#sent?.inc({ interface: name })
        this.#lastSent = this.#clock.now()
        if (this.#failing.delete(name)) this.#o.log.info({ interface: name }, 'peer heartbeats are sent again')
      } catch (err) {
        if (isLinkLost(err)) {
          this.#lose(slot, link, err)
          continue
        }
        if (!this.#failing.has(name)) {
          this.#failing.add(name)
          this.#o.log.warn({ interface: name, err }, 'peer heartbeat send failed: peers will judge this node by its Lease')
        }
      }
    }
  }

  close(): void {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer !== null) this.#clock.clearTimeout(this.#timer)
    this.#timer = null
    if (this.#status !== null) this.#send({ kind: 'leaving', reachesApi: this.#status().reachesApi })
    for (const slot of this.#slots) slot.link?.close()
    this.#slots = []
  }
}
