// The NDP responder for one interface: the IPv6 counterpart of arp-responder.ts, a thin shell around the
// pure decision in core/ndp-responder.ts. It joins the solicited-node group of every address it announces,
// answers Neighbor Solicitations for them, sends unsolicited Neighbor Advertisements when it takes an
// address over, and counts everything (never throws for what arrives on the wire).
import type { Logger } from 'pino'
import type { MetricsRegistry, MetricFamily } from '../controller/observe/metrics.js'
import { formatMac } from './core/ethernet.js'
import { canonicalIpv6, solicitedNodeMac } from './core/ipv6.js'
import { unsolicitedAdvertisement } from './core/ndp.js'
import { decideNdp, type NdpDropReason, type NdpResponderContext } from './core/ndp-responder.js'
import { openNdpLink, type NdpLink, type OpenNdpLink } from './link/ndp-link.js'

/**
 * RFC 4861 §7.2.6: a node that takes an address over MAY send up to MAX_NEIGHBOR_ADVERTISEMENT (3)
 * unsolicited advertisements, separated by at least RetransTimer (RETRANS_TIMER, 1 s; §10). Repeating
 * covers a lost frame; unlike ARP there is no Linux locktime to wait out (REFERENCE.md §4).
 */
export const UNSOLICITED_NA_INTERVAL_MS = 1000
export const UNSOLICITED_NA_ROUNDS = 3

export interface NdpResponderOptions {
  /** Interface name in this process's network namespace. */
  interface: string
  log: Logger
  /** When given, counters are also exported as the l2lb_layer2_* series shared with the ARP responder. */
  metrics?: MetricsRegistry
  /** How to open the link; tests pass a fake. Default: an AF_PACKET socket (openNdpLink). */
  openLink?: OpenNdpLink
  unsolicited?: { intervalMs?: number; rounds?: number }
}

export interface NdpResponderStats {
  interface: string
  /** The interface MAC once started, 'aa:bb:..'. */
  mac: string | null
  /** Canonical IPv6 addresses answered for, sorted. */
  announced: string[]
  /** Solicited-node groups joined, '33:33:ff:..', sorted, with how many announced addresses share each. */
  groups: Record<string, number>
  /** Solicitations received for each announced IP (MetalLB's layer2_requests_received{ip}). */
  requestsReceived: Record<string, number>
  /** Advertisements sent in answer, per IP (layer2_responses_sent{ip}). */
  responsesSent: Record<string, number>
  /** Unsolicited advertisements sent per IP (layer2_gratuitous_sent{ip}). */
  gratuitousSent: Record<string, number>
  drops: Record<NdpDropReason, number>
  sendErrors: number
  receiveErrors: number
  /** Failed joins or leaves of a multicast group (logged; answering goes on where the NIC lets frames in). */
  membershipErrors: number
}

export type NdpResponderErrorCode = 'ERR_RESPONDER_CLOSED'

export class NdpResponderError extends Error {
  readonly code: NdpResponderErrorCode
  constructor(code: NdpResponderErrorCode, message: string) {
    super(message)
    this.name = 'NdpResponderError'
    this.code = code
  }
}

interface Counters {
  requests: MetricFamily
  responses: MetricFamily
  gratuitous: MetricFamily
  drops: MetricFamily
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

export class NdpResponder {
  readonly interfaceName: string
  readonly #log: Logger
  readonly #openLink: OpenNdpLink
  readonly #metrics: MetricsRegistry | undefined
  readonly #intervalMs: number
  readonly #rounds: number
  #counters: Counters | undefined
  #link: NdpLink | undefined
  #closed = false
  /** Canonical IPv6 addresses answered for; read by every decision, changed in place. */
  readonly #announced = new Set<string>()
  /** Solicited-node groups (MAC as hex): how many announced addresses map to each, and whether the join worked. */
  readonly #groups = new Map<string, { count: number; joined: boolean }>()
  /** Pending unsolicited repeats per IP; cleared when the IP is withdrawn. */
  readonly #repeats = new Map<string, NodeJS.Timeout>()
  readonly #requests = new Map<string, number>()
  readonly #responses = new Map<string, number>()
  readonly #gratuitous = new Map<string, number>()
  readonly #drops = new Map<NdpDropReason, number>()
  #sendErrors = 0
  #receiveErrors = 0
  #membershipErrors = 0

  constructor(opts: NdpResponderOptions) {
    this.interfaceName = opts.interface
    this.#log = opts.log
    this.#openLink = opts.openLink ?? openNdpLink
    this.#metrics = opts.metrics
    this.#intervalMs = opts.unsolicited?.intervalMs ?? UNSOLICITED_NA_INTERVAL_MS
    this.#rounds = opts.unsolicited?.rounds ?? UNSOLICITED_NA_ROUNDS
  }

  /** The interface MAC once started. */
  get mac(): Buffer | undefined {
    return this.#link?.mac
  }

  /**
   * Opens the link and starts answering. Throws the link's Node-style error (ENODEV, EPERM: the speaker
   * needs CAP_NET_RAW). IPs set before start() are joined and announced now.
   */
  start(): void {
    if (this.#closed) throw new NdpResponderError('ERR_RESPONDER_CLOSED', 'start() after close()')
    if (this.#link !== undefined) return
    const link = this.#openLink(this.interfaceName)
    this.#link = link
    if (this.#metrics !== undefined) {
      const m = this.#metrics
      // The same families as the ARP responder's (the first to register sets the help text), so one
      // series per IP whichever protocol announces it; drops get a family of their own per protocol.
      this.#counters = {
        requests: m.counter('l2lb_layer2_requests_received', 'ARP requests and NDP solicitations received for announced IPs'),
        responses: m.counter('l2lb_layer2_responses_sent', 'ARP replies and NDP advertisements sent in answer'),
        gratuitous: m.counter('l2lb_layer2_gratuitous_sent', 'Gratuitous ARP frames and unsolicited NDP advertisements sent'),
        drops: m.counter('l2lb_layer2_ndp_dropped', 'NDP frames received and not answered, by reason'),
      }
    }
    const ctx: NdpResponderContext = { mac: link.mac, announced: this.#announced }
    link.subscribe(
      frame => this.#onFrame(link, ctx, frame),
      err => {
        this.#receiveErrors++
        this.#log.warn({ err }, 'NDP receive error')
      },
    )
    this.#log.info({ mac: formatMac(link.mac), ifindex: link.ifindex }, 'NDP responder started')
    for (const ip of this.#announced) {
      this.#join(link, ip)
      this.#startUnsolicited(ip)
    }
  }

  /**
   * The full set of IPs to answer for on this interface. IPv4 addresses (ARP's business) and anything
   * that is not an address are ignored. A removed IP stops being answered at once, its unsolicited
   * repeats are cancelled and its group left when no other announced IP shares it; an added one has its
   * group joined and is announced with an unsolicited advertisement right away.
   */
  setAnnounced(ips: Iterable<string>): void {
    if (this.#closed) return
    const next = new Set<string>()
    for (const ip of ips) {
      const v6 = canonicalIpv6(ip)
      if (v6 !== undefined) next.add(v6)
    }
    const link = this.#link
    for (const ip of [...this.#announced]) {
      if (next.has(ip)) continue
      this.#announced.delete(ip)
      this.#stopUnsolicited(ip)
      if (link !== undefined) this.#leave(link, ip)
      this.#log.info({ ip }, 'stopped announcing')
    }
    for (const ip of next) {
      if (this.#announced.has(ip)) continue
      this.#announced.add(ip)
      this.#log.info({ ip }, 'announcing')
      if (link === undefined) continue
      // Join first, so a solicitation prompted by the advertisement is already let in.
      this.#join(link, ip)
      this.#startUnsolicited(ip)
    }
  }

  stats(): NdpResponderStats {
    const drops = zeroDrops()
    for (const [reason, n] of this.#drops) drops[reason] = n
    const groups: Record<string, number> = {}
    for (const hex of [...this.#groups.keys()].sort()) groups[formatMac(Buffer.from(hex, 'hex'))] = this.#groups.get(hex)?.count ?? 0
    return {
      interface: this.interfaceName,
      mac: this.#link === undefined ? null : formatMac(this.#link.mac),
      announced: [...this.#announced].sort(),
      groups,
      requestsReceived: Object.fromEntries(this.#requests),
      responsesSent: Object.fromEntries(this.#responses),
      gratuitousSent: Object.fromEntries(this.#gratuitous),
      drops,
      sendErrors: this.#sendErrors,
      receiveErrors: this.#receiveErrors,
      membershipErrors: this.#membershipErrors,
    }
  }

  /** Stops answering, cancels every pending repeat and closes the link (which leaves every group). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const timer of this.#repeats.values()) clearTimeout(timer)
    this.#repeats.clear()
    this.#announced.clear()
    this.#groups.clear()
    const link = this.#link
    this.#link = undefined
    if (link !== undefined) {
      link.close()
      this.#log.info('NDP responder closed')
    }
  }

  #onFrame(link: NdpLink, ctx: NdpResponderContext, frame: Buffer): void {
    if (this.#closed) return
    const d = decideNdp(frame, ctx)
    if (d.kind === 'drop') {
      bump(this.#drops, d.reason)
      this.#counters?.drops.inc({ reason: d.reason })
      if (d.reason === 'malformed') this.#log.debug({ code: d.error?.code, len: frame.length }, 'malformed NDP frame')
      return
    }
    bump(this.#requests, d.ip)
    this.#counters?.requests.inc({ ip: d.ip })
    if (this.#send(link, d.frame, d.ip)) {
      bump(this.#responses, d.ip)
      this.#counters?.responses.inc({ ip: d.ip })
    }
  }

  #send(link: NdpLink, frame: Buffer, ip: string): boolean {
    try {
      link.send(frame)
      return true
    } catch (err) {
      // e.g. ENETDOWN while the interface is down, ENOBUFS under pressure: count it, keep going.
      this.#sendErrors++
      this.#log.warn({ err, ip }, 'NDP send failed')
      return false
    }
  }

  // Several addresses share a solicited-node group (same low 24 bits): join on the first, leave after the
  // last. The kernel counts per socket too, but keeping our own count makes the intent visible in stats.
  #join(link: NdpLink, ip: string): void {
    const group = solicitedNodeMac(ip)
    const key = group.toString('hex')
    const g = this.#groups.get(key)
    if (g !== undefined) {
      g.count++
      return
    }
    let joined = true
    try {
      link.addMembership(group)
    } catch (err) {
      // Counted anyway, so that the address still shares the group; a NIC without the filter entry may
      // still let the solicitation in (promiscuous, or another listener joined it).
      joined = false
      this.#membershipErrors++
      this.#log.warn({ err, ip, group: formatMac(group) }, 'joining the solicited-node group failed')
    }
    this.#groups.set(key, { count: 1, joined })
  }

  #leave(link: NdpLink, ip: string): void {
    const group = solicitedNodeMac(ip)
    const key = group.toString('hex')
    const g = this.#groups.get(key)
    if (g === undefined) return
    if (--g.count > 0) return
    this.#groups.delete(key)
    if (!g.joined) return
    try {
      link.dropMembership(group)
    } catch (err) {
      this.#membershipErrors++
      this.#log.warn({ err, ip, group: formatMac(group) }, 'leaving the solicited-node group failed')
    }
  }

  #startUnsolicited(ip: string): void {
    this.#stopUnsolicited(ip)
    this.#unsolicitedRound(ip, 0)
  }

  #unsolicitedRound(ip: string, round: number): void {
    this.#repeats.delete(ip)
    const link = this.#link
    if (link === undefined || !this.#announced.has(ip)) return
    if (this.#send(link, unsolicitedAdvertisement(link.mac, ip), ip)) {
      bump(this.#gratuitous, ip)
      this.#counters?.gratuitous.inc({ ip })
    }
    if (round + 1 >= this.#rounds) return
    const timer = setTimeout(() => this.#unsolicitedRound(ip, round + 1), this.#intervalMs)
    // The open socket keeps the process alive while the responder runs; the repeats need not.
    timer.unref()
    this.#repeats.set(ip, timer)
  }

  #stopUnsolicited(ip: string): void {
    const timer = this.#repeats.get(ip)
    if (timer !== undefined) clearTimeout(timer)
    this.#repeats.delete(ip)
  }
}

// A literal rather than a loop over NDP_DROP_REASONS so that the compiler flags a reason added there.
function zeroDrops(): Record<NdpDropReason, number> {
  return { malformed: 0, 'own-frame': 0, 'not-solicitation': 0, 'wrong-destination': 0, 'not-announced': 0 }
}
