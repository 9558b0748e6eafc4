// The Layer-2 responder for one interface and one protocol: the thin shell that ARP (arp-responder.ts)
// and NDP (ndp-responder.ts) share around their pure decisions (core/arp-decision.ts, core/ndp-decision.ts;
// what they return: core/layer2-decision.ts).
// It answers for the IPs it is told to announce, announces an IP when it takes it over (repeated, and
// cancelled when the IP is withdrawn) and again when another host announces it, probes an IP no node of the
// cluster announced before and refuses it when another host answers, joins the multicast groups the protocol
// needs, counts everything (never throws for what arrives on the wire), and reopens its link when the link
// goes deaf or the interface is recreated. Each of those is a piece of its own, composed here:
// link/link-holder.ts (the link, its filter and its reopening), announcement-timers.ts (the timers of
// core/announcement-schedule.ts, and the defence against another announcer), prober.ts (core/probe.ts's
// probes), multicast-groups.ts (group ref-counting), layer2-counters.ts (counts and metric series).
import type { Logger } from 'pino'
import { familyOf, type CanonicalIP, type IPFamily } from '../internal/core/ip.js'
import type { MetricsRegistry } from '../internal/observe/metrics.js'
import { DEFEND_TIMING, type DefendTiming } from './core/announcement-schedule.js'
import type { Clock } from './core/clock.js'
import { formatMac } from './core/ethernet.js'
import { PROBE_TIMING, type ProbeTiming } from './core/probe.js'
import type { ProbeOutcome } from './core/claims.js'
import type { Layer2Context, Layer2Decision } from './core/layer2-decision.js'
import { AnnouncementTimers } from './announcement-timers.js'
import { Layer2Counters, type Layer2Counts } from './layer2-counters.js'
import { REOPEN_BACKOFF, LinkHolder, type ReopenBackoff } from './link/link-holder.js'
import type { FrameLink, OpenLink } from './link/packet-link.js'
import { MulticastGroups, type GroupHooks } from './multicast-groups.js'
import { Prober } from './prober.js'
import { systemClock } from './system-clock.js'

/** Everything that differs between ARP and NDP; the responder does the rest. */
export interface Layer2Protocol<Reason extends string, L extends FrameLink> {
  /** 'ARP' or 'NDP', for logs. */
  readonly name: string
  /** The address family this protocol answers for (ARP: IPv4, NDP: IPv6); addresses of the other are ignored. */
  readonly family: IPFamily
  decide(frame: Buffer, ctx: Layer2Context): Layer2Decision<Reason>
  /** The frames that announce a takeover of `ip`, sent each round. */
  announcements(mac: Buffer, ip: string): Buffer[]
  /** The frames that ask whether another host holds `ip` (an ARP probe, a DAD solicitation), sent each probe. */
  probes(mac: Buffer, ip: string): Buffer[]
  /** Multicast groups an announced IP needs joined for its requests to get past the NIC. */
  groups?: GroupHooks<L>
  /**
   * The kernel filter (assembled classic BPF) passing only what may be answered for `announced` (sorted
   * canonical addresses), so requests for other addresses never reach user space. Attached whenever the
   * set changes, before the new addresses are announced, and on every newly opened link. The filter the
   * link was opened with must pass everything this one ever would: it is what stays in place when
   * attaching fails on a new link.
   */
  filterFor?(announced: readonly CanonicalIP[]): Buffer
  /**
   * A request for `ip` (never sent: only decided, to compile the decision before the first real request;
   * see WARM_UP_DECISIONS).
   */
  warmUpRequest?(): { frame: Buffer; ip: string }
  /** The announcement is repeated `rounds` times, `intervalMs` apart. */
  readonly intervalMs: number
  readonly rounds: number
  /** Every drop reason at 0: a literal in each protocol, so the compiler flags a reason added later. */
  zeroDrops(): Record<Reason, number>
  /** The protocol's own drop family, e.g. l2lb_layer2_arp_dropped{reason}. */
  readonly dropMetric: { name: string; help: string }
}

/**
 * Decisions run on a sample request at start, before any real one: V8 compiles a function to fast code only
 * once it has run often, and a responder answering a few requests a second would otherwise answer them from
 * the interpreter for a long time — the first request after a failover is the one that matters most. A
 * few milliseconds at start, for a reply latency near the kernel's (bench/datapath.ts measures both).
 */
export const WARM_UP_DECISIONS = 5000

export interface Layer2ResponderOptions<L extends FrameLink> {
  /** Interface name in this process's network namespace. */
  interface: string
  log: Logger
  /** When given, the counters are also exported as l2lb_layer2_* series (docs/reference.md, "Metric names"). */
  metrics?: MetricsRegistry
  openLink: OpenLink<L>
  reopen?: Partial<ReopenBackoff>
  defend?: Partial<DefendTiming>
  probe?: Partial<ProbeTiming>
  /** Time for every repeat, probe, defence and reopen; tests pass a manual one. Default: systemClock. */
  clock?: Clock
}

export interface Layer2Stats<Reason extends string> extends Layer2Counts<Reason> {
  interface: string
  /** The interface MAC while the link is open, 'aa:bb:..'. */
  mac: string | null
  /** Canonical addresses answered for, sorted. */
  announced: string[]
  /** Addresses being probed before they are announced, sorted. */
  probing: string[]
  /** Addresses a probe found held by another host, not announced until a later probe finds them free: the holder's MAC. */
  refused: Record<string, string>
  sendErrors: number
  receiveErrors: number
  /** Times the link was closed and opened again after it went deaf or its interface went away. */
  reopens: number
}

export type ResponderErrorCode = 'ERR_RESPONDER_CLOSED'

export class ResponderError extends Error {
  readonly code: ResponderErrorCode
  constructor(code: ResponderErrorCode, message: string) {
    super(message)
    this.name = 'ResponderError'
    this.code = code
  }
}

export class Layer2Responder<Reason extends string, L extends FrameLink = FrameLink> {
  readonly interfaceName: string
  protected readonly log: Logger
  readonly #proto: Layer2Protocol<Reason, L>
  readonly #metrics: MetricsRegistry | undefined
  #started = false
  #closed = false
  /** Canonical addresses answered for; read by every decision, changed in place. */
  readonly #announced = new Set<CanonicalIP>()
  readonly #link: LinkHolder<L>
  readonly #groups: MulticastGroups<L> | undefined
  readonly #timers: AnnouncementTimers
  readonly #prober: Prober<L>
  readonly #counters: Layer2Counters<Reason>
  #probeListener: ((o: ProbeOutcome) => void) | undefined

  constructor(proto: Layer2Protocol<Reason, L>, opts: Layer2ResponderOptions<L>) {
    this.#proto = proto
    this.interfaceName = opts.interface
    this.log = opts.log
    this.#metrics = opts.metrics
    const clock = opts.clock ?? systemClock
    this.#counters = new Layer2Counters(proto.dropMetric)
    this.#groups = proto.groups === undefined ? undefined : new MulticastGroups(proto.groups, opts.log)
    this.#link = new LinkHolder<L>({
      interfaceName: opts.interface,
      name: proto.name,
      log: opts.log,
      clock,
      openLink: opts.openLink,
      backoff: { ...REOPEN_BACKOFF, ...opts.reopen },
      filterFor: proto.filterFor,
      watched: () => this.#watched(),
      receiver: link => this.#receiver(link),
      attached: (link, reopened) => this.#attached(link, reopened),
      lost: () => this.#lost(),
    })
    this.#timers = new AnnouncementTimers({
      clock,
      timing: {
        takeover: { intervalMs: proto.intervalMs, rounds: proto.rounds },
        defend: { ...DEFEND_TIMING, ...opts.defend },
      },
      log: opts.log,
      linkUp: () => this.#link.current !== undefined,
      sendRound: ip => this.#sendRound(ip),
    })
    this.#prober = new Prober<L>({
      log: opts.log,
      clock,
      timing: { ...PROBE_TIMING, ...opts.probe },
      link: this.#link,
      probes: (mac, ip) => proto.probes(mac, ip),
      free: ip => this.#probedFree(ip),
      inUse: (ip, mac) => this.#probedInUse(ip, mac),
      watchedChanged: () => this.#link.refilter(),
    })
  }

  /** Called with the outcome of every probe (one listener: the speaker's). */
  onProbe(listener: (o: ProbeOutcome) => void): void {
    this.#probeListener = listener
  }

  /** The interface MAC while the link is open. */
  get mac(): Buffer | undefined {
    return this.#link.current?.mac
  }

  /**
   * Opens the link and starts answering. Throws the link's Node-style error (ENODEV, EPERM: the speaker
   * needs CAP_NET_RAW). IPs set before start() are joined and announced now.
   */
  start(): void {
    if (this.#closed) throw new ResponderError('ERR_RESPONDER_CLOSED', 'start() after close()')
    if (this.#started) return
    const link = this.#link.open()
    this.#started = true
    if (this.#metrics !== undefined) this.#counters.register(this.#metrics)
    this.#warmUp(link.mac)
    this.#link.attach(link)
    this.log.info({ mac: formatMac(link.mac), ifindex: link.ifindex }, `${this.#proto.name} responder started`)
  }

  /**
   * The full set of IPs to answer for on this interface (canonical already: views.ts made them so);
   * addresses of the other family are ignored. A removed IP stops being answered (or probed) at once, its repeats are
   * cancelled, its group is left when no other announced IP shares it, and its per-IP counters and series
   * are dropped (so they do not grow without bound). An added one is announced right away, its group
   * joined — unless it is in `fresh` (no node of the cluster announced it before: core/claims.ts), then it
   * is probed first and announced only if no other host answers (core/probe.ts). An IP already probing or
   * refused stays so whatever `fresh` says now: the probe's answer is the newer fact.
   */
  setAnnounced(ips: Iterable<CanonicalIP>, fresh: ReadonlySet<CanonicalIP> = new Set()): void {
    if (this.#closed) return
    const next = new Set<CanonicalIP>()
    for (const ip of ips) if (familyOf(ip) === this.#proto.family) next.add(ip)
    const probeFirst = new Set<CanonicalIP>()
    for (const ip of fresh) if (familyOf(ip) === this.#proto.family) probeFirst.add(ip)
    for (const ip of [...this.#announced]) {
      if (next.has(ip)) continue
      this.#announced.delete(ip)
      this.#timers.remove(ip)
      const link = this.#link.current
      if (link !== undefined) this.#groups?.leave(link, ip)
      this.#counters.forget(ip)
      this.log.info({ ip }, 'stopped announcing')
    }
    for (const ip of this.#prober.addresses()) {
      if (next.has(ip)) continue
      if (this.#prober.withdraw(ip) === 'probing') this.log.info({ ip }, 'stopped probing')
      this.#counters.forget(ip)
    }
    const added = [...next].filter(ip => !this.#announced.has(ip) && !this.#prober.has(ip))
    for (const ip of added) {
      if (probeFirst.has(ip)) this.#prober.add(ip)
      else this.#announced.add(ip)
    }
    // Widened before the new IPs are announced or probed, so the requests an announcement prompts and the
    // answers a probe prompts get in.
    this.#link.refilter()
    for (const ip of added) {
      if (this.#prober.probing.has(ip)) this.#prober.start(ip)
      else this.#announce(ip)
    }
  }

  stats(): Layer2Stats<Reason> {
    const link = this.#link.current
    const c = this.#counters.counts(this.#proto.zeroDrops())
    return {
      interface: this.interfaceName,
      mac: link === undefined ? null : formatMac(link.mac),
      announced: [...this.#announced].sort(),
      requestsReceived: c.requestsReceived,
      responsesSent: c.responsesSent,
      gratuitousSent: c.gratuitousSent,
      conflictsSeen: c.conflictsSeen,
      probing: [...this.#prober.probing].sort(),
      refused: this.#prober.refused(),
      addressInUse: c.addressInUse,
      drops: c.drops,
      sendErrors: this.#link.sendErrors,
      receiveErrors: this.#link.receiveErrors,
      reopens: this.#link.reopens,
    }
  }

  /** Groups joined, '33:33:ff:..', sorted, with how many announced addresses share each. */
  protected groupStats(): Record<string, number> {
    return this.#groups?.counts() ?? {}
  }

  /** Failed joins or leaves of a multicast group. */
  protected get membershipErrors(): number {
    return this.#groups?.errors ?? 0
  }

  /** Stops answering, cancels every pending repeat or reopen and closes the link (which leaves every group). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#timers.close()
    this.#prober.close()
    this.#announced.clear()
    this.#groups?.clear()
    if (this.#link.close()) this.log.info(`${this.#proto.name} responder closed`)
  }

  /** Starts answering for `ip` (if it did not already) and announces it (the repeats of a takeover). */
  #announce(ip: CanonicalIP): void {
    this.#announced.add(ip)
    this.log.info({ ip }, 'announcing')
    // Read each time: a fatal send error while announcing the previous IP may have replaced the link.
    const link = this.#link.current
    if (link !== undefined) this.#takeOver(link, ip)
  }

  /** Joins `ip`'s group on `link`, then starts its takeover rounds. */
  #takeOver(link: L, ip: CanonicalIP): void {
    // Join first, so a request prompted by the announcement is already let in.
    this.#groups?.join(link, ip)
    this.#timers.takeover(ip)
  }

  /** What the filter lets in: the announced addresses and those being probed (refused ones are not watched). */
  #watched(): CanonicalIP[] {
    return [...this.#announced, ...this.#prober.probing].sort()
  }

  /** A new link is current: join the groups of every announced IP and announce each, then probe again. */
  #attached(link: L, reopened: boolean): void {
    this.#announceAll(link)
    // Probes cut short by a lost link start over on the new one.
    this.#prober.startAll(link)
    if (reopened) {
      this.log.info({ mac: formatMac(link.mac), ifindex: link.ifindex, announced: this.#announced.size }, `${this.#proto.name} link reopened`)
    }
  }

  #announceAll(link: L): void {
    for (const ip of this.#announced) {
      if (this.#link.current !== link) return // a fatal send error while announcing: a new link is on its way
      this.#takeOver(link, ip)
    }
  }

  /** The link is gone (its socket's groups go with it): takeovers and probes on it stop. */
  #lost(): void {
    this.#timers.linkLost()
    this.#prober.linkLost()
    this.#groups?.clear()
  }

  #receiver(link: L): (frame: Buffer) => void {
    const ctx: Layer2Context = { mac: link.mac, announced: this.#announced, probing: this.#prober.probing }
    return frame => this.#onFrame(link, ctx, frame)
  }

  #onFrame(link: L, ctx: Layer2Context, frame: Buffer): void {
    const d = this.#proto.decide(frame, ctx)
    if (d.kind === 'conflict') {
      this.#counters.conflict(d.ip)
      if (this.#announced.has(d.ip)) this.#timers.defend(d.ip, d.from)
      return
    }
    if (d.kind === 'in-use') {
      this.#prober.refuse(d.ip, d.from)
      return
    }
    if (d.kind === 'drop') {
      this.#counters.drop(d.reason)
      if (d.error !== undefined) this.log.debug({ code: d.error.code, len: frame.length }, `malformed ${this.#proto.name} frame`)
      return
    }
    // The answer first: the asker is waiting for it, the counters are not.
    const sent = this.#link.send(link, d.frame, d.ip)
    this.#counters.request(d.ip)
    if (sent) this.#counters.response(d.ip)
  }

  /** One round of the protocol's announcement frames for `ip`, on the current link if there is one. */
  #sendRound(ip: CanonicalIP): void {
    const link = this.#link.current
    if (link === undefined) return
    for (const frame of this.#proto.announcements(link.mac, ip)) {
      if (this.#link.send(link, frame, ip)) this.#counters.gratuitous(ip)
      // A fatal send error replaced the link; the reopened one announces from its first round.
      if (this.#link.current !== link) return
    }
  }

  #probedFree(ip: CanonicalIP): void {
    this.#announce(ip)
    this.#probeListener?.({ ip, interface: this.interfaceName, result: 'free' })
  }

  /** Another host answered the probe for `ip`: refused (prober.ts), counted, reported. */
  #probedInUse(ip: CanonicalIP, mac: string): void {
    this.#counters.inUse(ip)
    this.#link.refilter()
    this.#probeListener?.({ ip, interface: this.interfaceName, result: 'in-use', mac })
  }

  #warmUp(mac: Buffer): void {
    const sample = this.#proto.warmUpRequest?.()
    if (sample === undefined) return
    const ctx: Layer2Context = { mac, announced: new Set([sample.ip]), probing: new Set() }
    const miss: Layer2Context = { mac, announced: new Set(), probing: new Set() }
    for (let i = 0; i < WARM_UP_DECISIONS; i++) {
      this.#proto.decide(sample.frame, ctx)
      this.#proto.decide(sample.frame, miss)
    }
  }
}
