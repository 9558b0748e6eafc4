// The ARP responder for one interface: the thin shell around the pure decision in core/responder.ts.
// It answers requests for the IPs it is told to announce, sends gratuitous ARP when it takes an IP over,
// and counts everything (never throws for what arrives on the wire).
import type { Logger } from 'pino'
import type { MetricsRegistry, MetricFamily } from '../controller/observe/metrics.js'
import { formatMac } from './core/ethernet.js'
import { canonicalIpv4, gratuitousReply, gratuitousRequest } from './core/arp.js'
import { decideArp, type DropReason } from './core/responder.js'
import { openArpLink, type FrameLink, type OpenLink } from './link/arp-link.js'

/**
 * Gratuitous ARP is repeated because Linux ignores an ARP update for a neighbour entry changed less than
 * `locktime` (1 s) ago unless it arrives as a gratuitous frame it recognises; MetalLB repeats every 1.1 s
 * for 5 s (MetalLB #172, REFERENCE.md §4): rounds at 0, 1.1, 2.2, 3.3 and 4.4 s.
 */
export const GRATUITOUS_INTERVAL_MS = 1100
export const GRATUITOUS_ROUNDS = 5

export interface ArpResponderOptions {
  /** Interface name in this process's network namespace. */
  interface: string
  log: Logger
  /** When given, the counters are also exported as l2lb_layer2_* series (REFERENCE.md §6). */
  metrics?: MetricsRegistry
  /** How to open the link; tests pass a fake. Default: an AF_PACKET socket (openArpLink). */
  openLink?: OpenLink
  gratuitous?: { intervalMs?: number; rounds?: number }
}

export interface ArpResponderStats {
  interface: string
  /** The interface MAC once started, 'aa:bb:..'. */
  mac: string | null
  announced: string[]
  /** Requests received for each announced IP (MetalLB's layer2_requests_received{ip}). */
  requestsReceived: Record<string, number>
  /** Replies sent per IP (layer2_responses_sent{ip}). */
  responsesSent: Record<string, number>
  /** Gratuitous frames sent per IP, each request and each reply counted (layer2_gratuitous_sent{ip}). */
  gratuitousSent: Record<string, number>
  drops: Record<DropReason, number>
  sendErrors: number
  receiveErrors: number
}

export type ArpResponderErrorCode = 'ERR_RESPONDER_CLOSED'

export class ArpResponderError extends Error {
  readonly code: ArpResponderErrorCode
  constructor(code: ArpResponderErrorCode, message: string) {
    super(message)
    this.name = 'ArpResponderError'
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

export class ArpResponder {
  readonly interfaceName: string
  readonly #log: Logger
  readonly #openLink: OpenLink
  readonly #metrics: MetricsRegistry | undefined
  readonly #intervalMs: number
  readonly #rounds: number
  #counters: Counters | undefined
  #link: FrameLink | undefined
  #closed = false
  /** Canonical IPv4 addresses answered for; read by every decision, changed in place. */
  readonly #announced = new Set<string>()
  /** Pending gratuitous repeats per IP; cleared when the IP is withdrawn. */
  readonly #repeats = new Map<string, NodeJS.Timeout>()
  readonly #requests = new Map<string, number>()
  readonly #responses = new Map<string, number>()
  readonly #gratuitous = new Map<string, number>()
  readonly #drops = new Map<DropReason, number>()
  #sendErrors = 0
  #receiveErrors = 0

  constructor(opts: ArpResponderOptions) {
    this.interfaceName = opts.interface
    this.#log = opts.log
    this.#openLink = opts.openLink ?? openArpLink
    this.#metrics = opts.metrics
    this.#intervalMs = opts.gratuitous?.intervalMs ?? GRATUITOUS_INTERVAL_MS
    this.#rounds = opts.gratuitous?.rounds ?? GRATUITOUS_ROUNDS
  }

  /** The interface MAC once started. */
  get mac(): Buffer | undefined {
    return this.#link?.mac
  }

  /**
   * Opens the link and starts answering. Throws the link's Node-style error (ENODEV, EPERM: the speaker
   * needs CAP_NET_RAW). IPs set before start() are announced now.
   */
  start(): void {
    if (this.#closed) throw new ArpResponderError('ERR_RESPONDER_CLOSED', 'start() after close()')
    if (this.#link !== undefined) return
    const link = this.#openLink(this.interfaceName)
    this.#link = link
    if (this.#metrics !== undefined) {
      const m = this.#metrics
      this.#counters = {
        requests: m.counter('l2lb_layer2_requests_received', 'ARP requests received for announced IPs'),
        responses: m.counter('l2lb_layer2_responses_sent', 'ARP replies sent'),
        gratuitous: m.counter('l2lb_layer2_gratuitous_sent', 'Gratuitous ARP frames sent'),
        drops: m.counter('l2lb_layer2_arp_dropped', 'ARP frames received and not answered, by reason'),
      }
    }
    const ctx = { mac: link.mac, announced: this.#announced }
    link.subscribe(
      frame => this.#onFrame(link, ctx, frame),
      err => {
        this.#receiveErrors++
        this.#log.warn({ err }, 'ARP receive error')
      },
    )
    this.#log.info({ mac: formatMac(link.mac), ifindex: link.ifindex }, 'ARP responder started')
    for (const ip of this.#announced) this.#startGratuitous(ip)
  }

  /**
   * The full set of IPs to answer for on this interface. IPv6 addresses are ignored here (NDP answers
   * them). A removed IP stops being answered at once and its gratuitous repeats are cancelled; an added
   * one is announced with gratuitous ARP right away.
   */
  setAnnounced(ips: Iterable<string>): void {
    if (this.#closed) return
    const next = new Set<string>()
    for (const ip of ips) {
      const v4 = canonicalIpv4(ip)
      if (v4 !== undefined) next.add(v4)
    }
    for (const ip of [...this.#announced]) {
      if (next.has(ip)) continue
      this.#announced.delete(ip)
      this.#stopGratuitous(ip)
      this.#log.info({ ip }, 'stopped announcing')
    }
    for (const ip of next) {
      if (this.#announced.has(ip)) continue
      this.#announced.add(ip)
      this.#log.info({ ip }, 'announcing')
      if (this.#link !== undefined) this.#startGratuitous(ip)
    }
  }

  stats(): ArpResponderStats {
    const drops = zeroDrops()
    for (const [reason, n] of this.#drops) drops[reason] = n
    return {
      interface: this.interfaceName,
      mac: this.#link === undefined ? null : formatMac(this.#link.mac),
      announced: [...this.#announced].sort(),
      requestsReceived: Object.fromEntries(this.#requests),
      responsesSent: Object.fromEntries(this.#responses),
      gratuitousSent: Object.fromEntries(this.#gratuitous),
      drops,
      sendErrors: this.#sendErrors,
      receiveErrors: this.#receiveErrors,
    }
  }

  /** Stops answering, cancels every pending gratuitous repeat and closes the link. Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const timer of this.#repeats.values()) clearTimeout(timer)
    this.#repeats.clear()
    this.#announced.clear()
    const link = this.#link
    this.#link = undefined
    if (link !== undefined) {
      link.close()
      this.#log.info('ARP responder closed')
    }
  }

  #onFrame(link: FrameLink, ctx: { mac: Buffer; announced: ReadonlySet<string> }, frame: Buffer): void {
    if (this.#closed) return
    const d = decideArp(frame, ctx)
    if (d.kind === 'drop') {
      this.#drops.set(d.reason, (this.#drops.get(d.reason) ?? 0) + 1)
      this.#counters?.drops.inc({ reason: d.reason })
      if (d.reason === 'malformed') this.#log.debug({ code: d.error?.code, len: frame.length }, 'malformed ARP frame')
      return
    }
    bump(this.#requests, d.ip)
    this.#counters?.requests.inc({ ip: d.ip })
    if (this.#send(link, d.frame, d.ip)) {
      bump(this.#responses, d.ip)
      this.#counters?.responses.inc({ ip: d.ip })
    }
  }

  #send(link: FrameLink, frame: Buffer, ip: string): boolean {
    try {
      link.send(frame)
      return true
    } catch (err) {
      // e.g. ENETDOWN while the interface is down, ENOBUFS under pressure: count it, keep going.
      this.#sendErrors++
      this.#log.warn({ err, ip }, 'ARP send failed')
      return false
    }
  }

  #startGratuitous(ip: string): void {
    this.#stopGratuitous(ip)
    this.#gratuitousRound(ip, 0)
  }

  #gratuitousRound(ip: string, round: number): void {
    this.#repeats.delete(ip)
    const link = this.#link
    if (link === undefined || !this.#announced.has(ip)) return
    // Both forms: Junos learns from the RFC 5227 request, Linux from a reply with THA = SHA (REFERENCE.md §4).
    for (const frame of [gratuitousRequest(link.mac, ip), gratuitousReply(link.mac, ip)]) {
      if (this.#send(link, frame, ip)) {
        bump(this.#gratuitous, ip)
        this.#counters?.gratuitous.inc({ ip })
      }
    }
    if (round + 1 >= this.#rounds) return
    const timer = setTimeout(() => this.#gratuitousRound(ip, round + 1), this.#intervalMs)
    // The open socket keeps the process alive while the responder runs; the repeats need not.
    timer.unref()
    this.#repeats.set(ip, timer)
  }

  #stopGratuitous(ip: string): void {
    const timer = this.#repeats.get(ip)
    if (timer !== undefined) clearTimeout(timer)
    this.#repeats.delete(ip)
  }
}

// A literal rather than a loop over DROP_REASONS so that the compiler flags a reason added there.
function zeroDrops(): Record<DropReason, number> {
  return { malformed: 0, 'own-frame': 0, 'wrong-destination': 0, 'not-request': 0, 'not-announced': 0 }
}
