// The peer-heartbeat shell: on every interface the speaker answers on, send an `alive` heartbeat every
// interval to the heartbeat group, hand every heartbeat heard from another node to the speaker, and say
// `leaving` on close. The frames and the rules are in core/peer-heartbeat.ts and core/membership.ts.
//
// Heartbeats are an accelerator, never a requirement: an interface where the socket cannot be opened, a send
// that fails, a LAN that drops the group — each leaves the Leases to decide, as without heartbeats.
import type { Logger } from 'pino'
import type { MetricFamily, MetricsRegistry } from '../controller/observe/metrics.js'
import { assembleBpf } from './core/bpf.js'
import { PacketError } from './core/ethernet.js'
import {
  ETHERTYPE_L2LB_HEARTBEAT, HEARTBEAT_GROUP_MAC, decodeHeartbeat, encodeHeartbeat, heartbeatFilter,
  type HeartbeatKind, type ReceivedHeartbeat,
} from './core/peer-heartbeat.js'
import { openPacketLink, type MulticastLink, type OpenLink } from './link/packet-link.js'

/** What the speaker needs of a heartbeat source (tests drive it by hand). */
export interface PeerHeartbeatSource {
  /** The interval this node sends at (and announces). */
  readonly intervalMs: number
  start(onHeartbeat: (h: ReceivedHeartbeat) => void): void
  /** When (on the speaker's clock) a heartbeat last went out on some interface; null before the first. */
  lastSentMs(): number | null
  /** Says `leaving` where it can, then stops. */
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
  /** Monotonic clock in ms, the speaker's; performance.now by default. */
  readonly now?: () => number
}

const openHeartbeatLink: OpenLink<MulticastLink> = name =>
  openPacketLink(name, ETHERTYPE_L2LB_HEARTBEAT, assembleBpf(heartbeatFilter()))

export class PeerHeartbeats implements PeerHeartbeatSource {
  readonly #o: PeerHeartbeatOptions
  #links: { readonly name: string; readonly link: MulticastLink }[] = []
  #timer: NodeJS.Timeout | null = null
  #sequence = 0
  #closed = false
  #sent: MetricFamily | null = null
  #dropped: MetricFamily | null = null
  /** Interfaces whose last send failed: logged once per failure streak, not every interval. */
  #failing = new Set<string>()
  #sameNameWarned = false
  #lastSent: number | null = null

  constructor(opts: PeerHeartbeatOptions) {
    this.#o = opts
  }

  get intervalMs(): number {
    return this.#o.intervalMs
  }

  lastSentMs(): number | null {
    return this.#lastSent
  }

  start(onHeartbeat: (h: ReceivedHeartbeat) => void): void {
    if (this.#closed || this.#timer !== null) return
    const { log, metrics } = this.#o
    this.#sent = metrics?.counter('l2lb_speaker_heartbeats_sent_total', 'Peer heartbeats sent, per interface') ?? null
    this.#dropped = metrics?.counter('l2lb_speaker_heartbeats_dropped_total', 'Frames of the heartbeat EtherType dropped, per reason') ?? null
    const open = this.#o.openLink ?? openHeartbeatLink
    for (const name of this.#o.interfaces) {
      let link: MulticastLink | null = null
      try {
        link = open(name)
        link.addMembership(Buffer.from(HEARTBEAT_GROUP_MAC))
        link.subscribe(frame => this.#receive(frame, onHeartbeat), err => log.warn({ interface: name, err }, 'peer heartbeat receive error'))
        this.#links.push({ name, link })
      } catch (err) {
        link?.close()
        log.warn({ interface: name, err }, 'peer heartbeats unavailable on this interface: failover there waits for the Lease')
      }
    }
    this.#send('alive')
    this.#timer = setInterval(() => this.#send('alive'), this.#o.intervalMs)
    this.#timer.unref()
  }

  #receive(frame: Buffer, onHeartbeat: (h: ReceivedHeartbeat) => void): void {
    let h: ReceivedHeartbeat
    try {
      h = decodeHeartbeat(frame)
    } catch (err) {
      this.#dropped?.inc({ reason: err instanceof PacketError ? err.code : 'ERROR' })
      return
    }
    if (h.node === this.#o.node) {
      // Not our own frame (the link never delivers our sends): another host uses our node name.
      this.#dropped?.inc({ reason: 'SAME_NODE_NAME' })
      if (!this.#sameNameWarned) {
        this.#sameNameWarned = true
        this.#o.log.warn({ src: h.src.toString('hex') }, 'a peer heartbeat carries this node\'s own name: two speakers run with the same NODE_NAME')
      }
      return
    }
    onHeartbeat(h)
  }

  #send(kind: HeartbeatKind): void {
    const sequence = this.#sequence
    this.#sequence = (this.#sequence + 1) >>> 0
    for (const { name, link } of this.#links) {
      try {
        link.send(encodeHeartbeat(link.mac, { node: this.#o.node, kind, intervalMs: this.#o.intervalMs, sequence }))
        this.#sent?.inc({ interface: name })
        this.#lastSent = this.#o.now ? this.#o.now() : performance.now()
        if (this.#failing.delete(name)) this.#o.log.info({ interface: name }, 'peer heartbeats are sent again')
      } catch (err) {
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
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#send('leaving')
    for (const { link } of this.#links) link.close()
    this.#links = []
  }
}
