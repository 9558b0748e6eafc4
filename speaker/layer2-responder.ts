// The Layer-2 responder for one interface and one protocol: the thin shell that ARP (arp-responder.ts)
// and NDP (ndp-responder.ts) share around their pure decisions (core/arp-decision.ts, core/ndp-decision.ts;
// what they return: core/layer2-decision.ts).
// It answers for the IPs it is told to announce, announces an IP when it takes it over (repeated, and
// cancelled when the IP is withdrawn) and again when another host announces it (when: core/announcement-schedule.ts), probes an IP no node of the cluster announced before and refuses it
// when another host answers (RFC 5227 §2.1.1, RFC 4862 §5.4; core/probe.ts), joins the multicast groups the protocol needs, counts everything
// (never throws for what arrives on the wire), and reopens its link when the link goes deaf or the
// interface is recreated.
import type { Logger } from 'pino'
import type { CanonicalIP } from '../internal/core/ip.js'
import type { MetricsRegistry, MetricFamily } from '../internal/observe/metrics.js'
import {
  DEFEND_TIMING, NOTHING_SCHEDULED, stepAnnouncement, type AnnouncementEvent, type AnnouncementSchedule, type DefendTiming,
  type ScheduleTiming,
} from './core/announcement-schedule.js'
import type { Clock, TimerHandle } from './core/clock.js'
import { formatMac } from './core/ethernet.js'
import { PROBE_TIMING, probePlan, retryAfterMs, type ProbeTiming } from './core/probe.js'
import type { ProbeOutcome } from './core/claims.js'
import type { Layer2Context, Layer2Decision } from './core/layer2-decision.js'
import { isInterfaceGoneError, isReceiveStoppedError, type FrameLink, type OpenLink } from './link/packet-link.js'
import { systemClock } from './system-clock.js'

/** Multicast groups an announced IP needs joined for its requests to get past the NIC. */
export interface GroupHooks<L extends FrameLink> {
  /** The group's Ethernet address for `ip` (several IPs may share one). */
  groupOf(ip: string): Buffer
  join(link: L, group: Buffer): void
  leave(link: L, group: Buffer): void
}

/** Everything that differs between ARP and NDP; the responder does the rest. */
export interface Layer2Protocol<Reason extends string, L extends FrameLink> {
  /** 'ARP' or 'NDP', for logs. */
  readonly name: string
  /** The canonical text of an address this protocol answers for, undefined for any other (family filter). */
  canonical(ip: CanonicalIP): CanonicalIP | undefined
  decide(frame: Buffer, ctx: Layer2Context): Layer2Decision<Reason>
  /** The frames that announce a takeover of `ip`, sent each round. */
  announcements(mac: Buffer, ip: string): Buffer[]
  /** The frames that ask whether another host holds `ip` (an ARP probe, a DAD solicitation), sent each probe. */
  probes(mac: Buffer, ip: string): Buffer[]
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

/** How long to wait before reopening a lost link: doubling from `initialMs`, capped at `maxMs`. */
export interface ReopenBackoff {
  initialMs: number
  maxMs: number
}
export const REOPEN_BACKOFF: ReopenBackoff = { initialMs: 100, maxMs: 5000 }

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

export interface Layer2Stats<Reason extends string> {
  interface: string
  /** The interface MAC while the link is open, 'aa:bb:..'. */
  mac: string | null
  /** Canonical addresses answered for, sorted. */
  announced: string[]
  /** Requests received for each announced IP (MetalLB's layer2_requests_received{ip}). */
  requestsReceived: Record<string, number>
  /** Answers sent per IP (layer2_responses_sent{ip}). */
  responsesSent: Record<string, number>
  /** Announcement frames sent per IP (layer2_gratuitous_sent{ip}). */
  gratuitousSent: Record<string, number>
  /** Announcements of our IPs by other hosts, per IP (RFC 5227 conflicts). */
  conflictsSeen: Record<string, number>
  /** Addresses being probed before they are announced, sorted. */
  probing: string[]
  /** Addresses a probe found held by another host, not announced until a later probe finds them free: the holder's MAC. */
  refused: Record<string, string>
  /** Probes that found the address held by another host, per IP. */
  addressInUse: Record<string, number>
  drops: Record<Reason, number>
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

interface Counters {
  requests: MetricFamily
  responses: MetricFamily
  gratuitous: MetricFamily
  conflicts: MetricFamily
  inUse: MetricFamily
  drops: MetricFamily
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

export class Layer2Responder<Reason extends string, L extends FrameLink = FrameLink> {
  readonly interfaceName: string
  protected readonly log: Logger
  readonly #proto: Layer2Protocol<Reason, L>
  readonly #openLink: OpenLink<L>
  readonly #metrics: MetricsRegistry | undefined
  readonly #backoff: ReopenBackoff
  readonly #clock: Clock
  #counters: Counters | undefined
  #link: L | undefined
  #started = false
  #closed = false
  /** Canonical addresses answered for; read by every decision, changed in place. */
  readonly #announced = new Set<CanonicalIP>()
  /** Groups joined on the current link (key: MAC hex): how many announced IPs share each, and whether the join worked. */
  readonly #groups = new Map<string, { group: Buffer; count: number; joined: boolean }>()
  /**
   * Each announced IP's announcement schedule (core/announcement-schedule.ts: takeover repeats, the answer to
   * a conflict) and the timer armed for its next step; dropped when the IP is withdrawn.
   */
  readonly #schedules = new Map<string, { schedule: AnnouncementSchedule; timer: TimerHandle | undefined }>()
  readonly #timing: ScheduleTiming
  readonly #conflicts = new Map<string, number>()
  /** Addresses being probed (read by every decision), and the timers of each probe on the current link. */
  readonly #probing = new Set<CanonicalIP>()
  readonly #probeTimers = new Map<string, TimerHandle[]>()
  /** Addresses a probe found held, with the holder, the refusals in a row, and the timer of the next probe. */
  readonly #refused = new Map<CanonicalIP, { mac: string; refusals: number; timer: TimerHandle }>()
  readonly #inUse = new Map<string, number>()
  /** Refusals in a row per address, until a probe finds it free or the address is withdrawn. */
  readonly #refusalsInRow = new Map<string, number>()
  readonly #probe: ProbeTiming
  #probeListener: ((o: ProbeOutcome) => void) | undefined
  /** The addresses the link's filter was last built for, sorted and joined: refiltered only on a change. */
  #filteredFor: string | undefined
  #reopenTimer: TimerHandle | undefined
  #reopenDelayMs: number
  #openedAt = 0
  readonly #requests = new Map<string, number>()
  readonly #responses = new Map<string, number>()
  readonly #gratuitous = new Map<string, number>()
  readonly #drops = new Map<Reason, number>()
  #sendErrors = 0
  #receiveErrors = 0
  #reopens = 0
  protected membershipErrors = 0

  constructor(proto: Layer2Protocol<Reason, L>, opts: Layer2ResponderOptions<L>) {
    this.#proto = proto
    this.interfaceName = opts.interface
    this.log = opts.log
    this.#openLink = opts.openLink
    this.#metrics = opts.metrics
    this.#backoff = { ...REOPEN_BACKOFF, ...opts.reopen }
    this.#clock = opts.clock ?? systemClock
    this.#reopenDelayMs = this.#backoff.initialMs
    this.#timing = {
      takeover: { intervalMs: proto.intervalMs, rounds: proto.rounds },
      defend: { ...DEFEND_TIMING, ...opts.defend },
    }
    this.#probe = { ...PROBE_TIMING, ...opts.probe }
  }

  /** Called with the outcome of every probe (one listener: the speaker's). */
  onProbe(listener: (o: ProbeOutcome) => void): void {
    this.#probeListener = listener
  }

  /** The interface MAC while the link is open. */
  get mac(): Buffer | undefined {
    return this.#link?.mac
  }

  /**
   * Opens the link and starts answering. Throws the link's Node-style error (ENODEV, EPERM: the speaker
   * needs CAP_NET_RAW). IPs set before start() are joined and announced now.
   */
  start(): void {
    if (this.#closed) throw new ResponderError('ERR_RESPONDER_CLOSED', 'start() after close()')
    if (this.#started) return
    const link = this.#openLink(this.interfaceName)
    this.#started = true
    if (this.#metrics !== undefined) {
      const m = this.#metrics
      // One family per counter for ARP and NDP alike (the first to register sets the help text), so one
      // series per IP whichever protocol announces it; drops get a family of their own per protocol.
      this.#counters = {
        requests: m.counter('l2lb_layer2_requests_received', 'ARP requests and NDP solicitations received for announced IPs'),
        responses: m.counter('l2lb_layer2_responses_sent', 'ARP replies and NDP advertisements sent in answer'),
        gratuitous: m.counter('l2lb_layer2_gratuitous_sent', 'Gratuitous ARP frames and unsolicited NDP advertisements sent'),
        conflicts: m.counter('l2lb_layer2_conflicts_seen', 'Announcements by another host of an IP this node announces (RFC 5227 conflicts)'),
        inUse: m.counter('l2lb_layer2_address_in_use', 'Probes before claiming an IP that found it held by another host (RFC 5227 §2.1.1, RFC 4862 §5.4): the IP is not announced'),
        drops: m.counter(this.#proto.dropMetric.name, this.#proto.dropMetric.help),
      }
    }
    this.#warmUp(link.mac)
    this.#attach(link)
    this.log.info({ mac: formatMac(link.mac), ifindex: link.ifindex }, `${this.#proto.name} responder started`)
  }

  /**
   * The full set of IPs to answer for on this interface; addresses of the other family and anything that
   * is not an address are ignored. A removed IP stops being answered (or probed) at once, its repeats are
   * cancelled, its group is left when no other announced IP shares it, and its per-IP counters and series
   * are dropped (so they do not grow without bound). An added one is announced right away, its group
   * joined — unless it is in `fresh` (no node of the cluster announced it before: core/claims.ts), then it
   * is probed first and announced only if no other host answers (core/probe.ts). An IP already probing or
   * refused stays so whatever `fresh` says now: the probe's answer is the newer fact.
   */
  setAnnounced(ips: Iterable<CanonicalIP>, fresh: ReadonlySet<CanonicalIP> = new Set()): void {
    if (this.#closed) return
    const next = new Set<CanonicalIP>()
    for (const ip of ips) {
      const c = this.#proto.canonical(ip)
      if (c !== undefined) next.add(c)
    }
    const probeFirst = new Set<CanonicalIP>()
    for (const ip of fresh) {
      const c = this.#proto.canonical(ip)
      if (c !== undefined) probeFirst.add(c)
    }
    for (const ip of [...this.#announced]) {
      if (next.has(ip)) continue
      this.#announced.delete(ip)
      this.#unschedule(ip)
      const link = this.#link
      if (link !== undefined) this.#leave(link, ip)
      this.#forget(ip)
      this.log.info({ ip }, 'stopped announcing')
    }
    for (const ip of [...this.#probing]) {
      if (next.has(ip)) continue
      this.#stopProbe(ip)
      this.#forget(ip)
      this.log.info({ ip }, 'stopped probing')
    }
    for (const [ip, r] of [...this.#refused]) {
      if (next.has(ip)) continue
      this.#clock.clearTimeout(r.timer)
      this.#refused.delete(ip)
      this.#forget(ip)
    }
    const added = [...next].filter(ip => !this.#announced.has(ip) && !this.#probing.has(ip) && !this.#refused.has(ip))
    for (const ip of added) {
      if (probeFirst.has(ip)) this.#probing.add(ip)
      else this.#announced.add(ip)
    }
    // Widened before the new IPs are announced or probed, so the requests an announcement prompts and the
    // answers a probe prompts get in.
    this.#refilter()
    for (const ip of added) {
      if (this.#probing.has(ip)) this.#startProbe(ip)
      else this.#announce(ip)
    }
  }

  /** Starts answering for `ip` (if it did not already) and announces it (the repeats of a takeover). */
  #announce(ip: CanonicalIP): void {
    this.#announced.add(ip)
    this.log.info({ ip }, 'announcing')
    // Read each time: a fatal send error while announcing the previous IP may have replaced the link.
    const link = this.#link
    if (link === undefined) return
    // Join first, so a request prompted by the announcement is already let in.
    this.#join(link, ip)
    this.#schedule(ip, { kind: 'takeover' })
  }

  /**
   * Sends the probes for `ip` on the current link on core/probe.ts's schedule; the address counts as free
   * at its end unless a decision said `in-use` first (#onInUse). Without a link the probe waits for the
   * next one (#attach starts it again).
   */
  #startProbe(ip: CanonicalIP): void {
    this.#clearProbeTimers(ip)
    const link = this.#link
    if (link === undefined) return
    const plan = probePlan(this.#probe)
    const timers = plan.sendAtMs.map(at => this.#clock.setTimeout(() => {
      if (this.#link !== link || !this.#probing.has(ip)) return
      for (const frame of this.#proto.probes(link.mac, ip)) this.#send(link, frame, ip)
    }, at))
    timers.push(this.#clock.setTimeout(() => this.#probeFree(ip, link), plan.decideAtMs))
    this.#probeTimers.set(ip, timers)
    this.log.info({ ip, forMs: plan.decideAtMs }, `probing ${ip} before announcing it: no node of this cluster announced it before`)
  }

  #probeFree(ip: CanonicalIP, link: L): void {
    if (this.#link !== link || !this.#probing.has(ip)) return
    this.#probeTimers.delete(ip)
    this.#probing.delete(ip)
    this.#refusalsInRow.delete(ip)
    this.log.info({ ip }, 'no other host answered the probe')
    this.#announce(ip)
    this.#probeListener?.({ ip, interface: this.interfaceName, result: 'free' })
  }

  /** Another host answered the probe for `ip`: refuse it, tell the speaker, probe again later. */
  #onInUse(ip: CanonicalIP, from: Buffer): void {
    if (!this.#probing.has(ip)) return
    this.#stopProbe(ip)
    const mac = formatMac(from)
    const refusals = (this.#refusalsInRow.get(ip) ?? 0) + 1
    this.#refusalsInRow.set(ip, refusals)
    const retryMs = retryAfterMs(refusals, this.#probe)
    const timer = this.#clock.setTimeout(() => this.#retryProbe(ip), retryMs)
    this.#refused.set(ip, { mac, refusals, timer })
    bump(this.#inUse, ip)
    this.#counters?.inUse.inc({ ip })
    this.log.warn({ ip, holder: mac, retryInMs: retryMs }, `${ip} is held by another host (${mac}): not announcing it (RFC 5227 §2.1.1); probing again in ${retryMs / 1000} s`)
    this.#refilter()
    this.#probeListener?.({ ip, interface: this.interfaceName, result: 'in-use', mac })
  }

  #retryProbe(ip: CanonicalIP): void {
    if (this.#closed || !this.#refused.has(ip)) return
    this.#refused.delete(ip)
    this.#probing.add(ip)
    this.#refilter()
    this.#startProbe(ip)
  }

  #stopProbe(ip: CanonicalIP): void {
    this.#clearProbeTimers(ip)
    this.#probing.delete(ip)
  }

  #clearProbeTimers(ip: string): void {
    for (const timer of this.#probeTimers.get(ip) ?? []) this.#clock.clearTimeout(timer)
    this.#probeTimers.delete(ip)
  }

  stats(): Layer2Stats<Reason> {
    const drops = this.#proto.zeroDrops()
    for (const [reason, n] of this.#drops) drops[reason] = n
    return {
      interface: this.interfaceName,
      mac: this.#link === undefined ? null : formatMac(this.#link.mac),
      announced: [...this.#announced].sort(),
      requestsReceived: Object.fromEntries(this.#requests),
      responsesSent: Object.fromEntries(this.#responses),
      gratuitousSent: Object.fromEntries(this.#gratuitous),
      conflictsSeen: Object.fromEntries(this.#conflicts),
      probing: [...this.#probing].sort(),
      refused: Object.fromEntries([...this.#refused].map(([ip, r]) => [ip, r.mac])),
      addressInUse: Object.fromEntries(this.#inUse),
      drops,
      sendErrors: this.#sendErrors,
      receiveErrors: this.#receiveErrors,
      reopens: this.#reopens,
    }
  }

  /** Groups joined, '33:33:ff:..', sorted, with how many announced addresses share each. */
  protected groupStats(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const key of [...this.#groups.keys()].sort()) {
      const g = this.#groups.get(key)
      if (g !== undefined) out[formatMac(g.group)] = g.count
    }
    return out
  }

  /** Stops answering, cancels every pending repeat or reopen and closes the link (which leaves every group). Idempotent. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    for (const ip of [...this.#schedules.keys()]) this.#unschedule(ip)
    for (const ip of [...this.#probeTimers.keys()]) this.#clearProbeTimers(ip)
    this.#probing.clear()
    for (const r of this.#refused.values()) this.#clock.clearTimeout(r.timer)
    this.#refused.clear()
    this.#clock.clearTimeout(this.#reopenTimer)
    this.#reopenTimer = undefined
    this.#announced.clear()
    this.#groups.clear()
    const link = this.#link
    this.#link = undefined
    if (link !== undefined) {
      link.close()
      this.log.info(`${this.#proto.name} responder closed`)
    }
  }

  /**
   * Makes `link` current: narrows its filter to the announced IPs, subscribes, joins the groups of every
   * announced IP and announces each.
   */
  #attach(link: L): void {
    this.#link = link
    this.#openedAt = this.#clock.now()
    this.#filteredFor = undefined
    this.#filter(link, this.#watched())
    const ctx: Layer2Context = { mac: link.mac, announced: this.#announced, probing: this.#probing }
    link.subscribe(
      frame => this.#onFrame(link, ctx, frame),
      err => this.#onReceiveError(link, err),
    )
    for (const ip of this.#announced) {
      if (this.#link !== link) return // a fatal send error while announcing: a new link is on its way
      this.#join(link, ip)
      this.#schedule(ip, { kind: 'takeover' })
    }
    // Probes cut short by a lost link start over on the new one.
    for (const ip of this.#probing) if (this.#link === link) this.#startProbe(ip)
  }

  /** What the filter lets in: the announced addresses and those being probed (refused ones are not watched). */
  #watched(): CanonicalIP[] {
    return [...this.#announced, ...this.#probing].sort()
  }

  /**
   * Attaches the protocol's filter for `ips` to `link`; SO_ATTACH_FILTER replaces the previous program in
   * one step (the kernel swaps the socket's filter pointer), so no frame ever meets an unfiltered socket.
   * False when attaching failed (logged).
   */
  #filter(link: L, ips: readonly CanonicalIP[]): boolean {
    const filterFor = this.#proto.filterFor
    if (filterFor === undefined) return true
    try {
      link.setFilter(filterFor(ips))
      this.#filteredFor = ips.join(',')
      return true
    } catch (err) {
      // On a fresh link the filter it was opened with stays, which passes a superset: still correct.
      this.log.warn({ err }, `${this.#proto.name} filter not attached`)
      return false
    }
  }

  /**
   * Re-attaches the filter for a changed set. If that fails the old filter may keep out requests for the
   * new IPs, so the link is replaced: a new one starts from the open filter, which passes them.
   */
  #refilter(): void {
    const link = this.#link
    if (link === undefined) return
    const ips = this.#watched()
    if (ips.join(',') === this.#filteredFor) return
    if (!this.#filter(link, ips)) this.#lose(link, 'filter not attached')
  }

  #onFrame(link: L, ctx: Layer2Context, frame: Buffer): void {
    if (this.#link !== link) return
    const d = this.#proto.decide(frame, ctx)
    if (d.kind === 'conflict') {
      this.#onConflict(d.ip, d.from)
      return
    }
    if (d.kind === 'in-use') {
      this.#onInUse(d.ip, d.from)
      return
    }
    if (d.kind === 'drop') {
      bump(this.#drops, d.reason)
      this.#counters?.drops.inc({ reason: d.reason })
      if (d.error !== undefined) this.log.debug({ code: d.error.code, len: frame.length }, `malformed ${this.#proto.name} frame`)
      return
    }
    // The answer first: the asker is waiting for it, the counters are not.
    const sent = this.#send(link, d.frame, d.ip)
    bump(this.#requests, d.ip)
    this.#counters?.requests.inc({ ip: d.ip })
    if (sent) {
      bump(this.#responses, d.ip)
      this.#counters?.responses.inc({ ip: d.ip })
    }
  }

  #onReceiveError(link: L, err: Error): void {
    if (this.#link !== link) return
    this.#receiveErrors++
    this.log.warn({ err }, `${this.#proto.name} receive error`)
    // ENETDOWN alone is a flap the kernel recovers from (it re-hooks the socket when the interface comes
    // back up), unless the interface was deleted: then the socket stays unbound for good.
    if (isReceiveStoppedError(err)) this.#lose(link, 'receive stopped')
    else if (link.interfaceGone()) this.#lose(link, 'interface gone')
  }

  #send(link: L, frame: Buffer, ip: string): boolean {
    try {
      link.send(frame)
      return true
    } catch (err) {
      // e.g. ENETDOWN while the interface is down, ENOBUFS under pressure: count it, keep going.
      this.#sendErrors++
      this.log.warn({ err, ip }, `${this.#proto.name} send failed`)
      if (isInterfaceGoneError(err)) this.#lose(link, 'interface gone')
      return false
    }
  }

  /**
   * The link can no longer do its job: close it (the old socket's groups go with it) and open a new one
   * after a backoff, so the node never keeps claiming IPs with a deaf or orphaned socket. The delay
   * doubles while reopened links keep failing soon after opening, and starts over after a quiet spell.
   */
  #lose(link: L, why: string): void {
    if (this.#link !== link || this.#closed) return
    this.#link = undefined
    for (const ip of [...this.#schedules.keys()]) this.#schedule(ip, { kind: 'link-lost' })
    for (const ip of [...this.#probeTimers.keys()]) this.#clearProbeTimers(ip)
    this.#groups.clear()
    link.close()
    if (this.#clock.now() - this.#openedAt > this.#backoff.maxMs) this.#reopenDelayMs = this.#backoff.initialMs
    this.log.warn({ why, retryInMs: this.#reopenDelayMs }, `${this.#proto.name} link lost; reopening`)
    this.#scheduleReopen()
  }

  #scheduleReopen(): void {
    const delay = this.#reopenDelayMs
    this.#reopenDelayMs = Math.min(delay * 2, this.#backoff.maxMs)
    this.#reopenTimer = this.#clock.setTimeout(() => this.#reopen(), delay)
  }

  #reopen(): void {
    this.#reopenTimer = undefined
    if (this.#closed) return
    let link: L
    try {
      link = this.#openLink(this.interfaceName)
    } catch (err) {
      this.log.warn({ err, retryInMs: this.#reopenDelayMs }, `${this.#proto.name} reopen failed`)
      this.#scheduleReopen()
      return
    }
    this.#reopens++
    this.#attach(link)
    this.log.info({ mac: formatMac(link.mac), ifindex: link.ifindex, announced: this.#announced.size }, `${this.#proto.name} link reopened`)
  }

  /**
   * Drops the per-IP counters and series of a withdrawn IP, so that they do not grow with every IP ever
   * announced. The series carry no interface label: where another interface still announces the IP, its
   * responder's next count starts the series again.
   */
  #forget(ip: string): void {
    this.#requests.delete(ip)
    this.#responses.delete(ip)
    this.#gratuitous.delete(ip)
    this.#conflicts.delete(ip)
    this.#inUse.delete(ip)
    this.#refusalsInRow.delete(ip)
    const c = this.#counters
    if (c === undefined) return
    c.requests.remove({ ip })
    c.responses.remove({ ip })
    c.gratuitous.remove({ ip })
    c.conflicts.remove({ ip })
    c.inUse.remove({ ip })
  }

  // Several addresses may share a group (NDP: same low 24 bits): join on the first, leave after the last.
  // The kernel counts per socket too, but keeping our own count makes the intent visible in stats.
  #join(link: L, ip: string): void {
    const hooks = this.#proto.groups
    if (hooks === undefined) return
    const group = hooks.groupOf(ip)
    const key = group.toString('hex')
    const g = this.#groups.get(key)
    if (g !== undefined) {
      g.count++
      return
    }
    let joined = true
    try {
      hooks.join(link, group)
    } catch (err) {
      // Counted anyway, so that the address still shares the group; a NIC without the filter entry may
      // still let the request in (promiscuous, or another listener joined it).
      joined = false
      this.membershipErrors++
      this.log.warn({ err, ip, group: formatMac(group) }, 'joining the multicast group failed')
    }
    this.#groups.set(key, { group, count: 1, joined })
  }

  #leave(link: L, ip: string): void {
    const hooks = this.#proto.groups
    if (hooks === undefined) return
    const key = hooks.groupOf(ip).toString('hex')
    const g = this.#groups.get(key)
    if (g === undefined) return
    if (--g.count > 0) return
    this.#groups.delete(key)
    if (!g.joined) return
    try {
      hooks.leave(link, g.group)
    } catch (err) {
      this.membershipErrors++
      this.log.warn({ err, ip, group: formatMac(g.group) }, 'leaving the multicast group failed')
    }
  }

  /**
   * Steps `ip`'s schedule with `event` and arms the timer for its next step; sends a round when the step says
   * so. The new schedule is stored before anything is sent: a fatal send error steps it again (#lose).
   */
  #schedule(ip: string, event: AnnouncementEvent): void {
    const now = this.#clock.now()
    const entry = this.#schedules.get(ip)
    this.#clock.clearTimeout(entry?.timer)
    const step = stepAnnouncement(entry?.schedule ?? NOTHING_SCHEDULED, event, now, this.#timing)
    const timer = step.nextAtMs === null ? undefined : this.#clock.setTimeout(() => this.#due(ip), step.nextAtMs - now)
    this.#schedules.set(ip, { schedule: step.schedule, timer })
    const link = this.#link
    if (step.send && link !== undefined) this.#sendRound(link, ip)
  }

  #due(ip: string): void {
    const entry = this.#schedules.get(ip)
    if (entry === undefined) return
    entry.timer = undefined
    const answering = entry.schedule.contest !== null && entry.schedule.takeover === null
    this.#schedule(ip, { kind: 'due', linkUp: this.#link !== undefined })
    if (answering && this.#schedules.get(ip)?.schedule.contest === null && this.#link !== undefined) {
      this.log.info({ ip }, 'announced again after a conflicting announcement')
    }
  }

  #unschedule(ip: string): void {
    this.#clock.clearTimeout(this.#schedules.get(ip)?.timer)
    this.#schedules.delete(ip)
  }

  /** One round of the protocol's announcement frames for `ip`. */
  #sendRound(link: L, ip: string): void {
    for (const frame of this.#proto.announcements(link.mac, ip)) {
      if (this.#send(link, frame, ip)) {
        bump(this.#gratuitous, ip)
        this.#counters?.gratuitous.inc({ ip })
      }
      // A fatal send error replaced the link; the reopened one announces from its first round.
      if (this.#link !== link) return
    }
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

  #onConflict(ip: CanonicalIP, from: Buffer): void {
    bump(this.#conflicts, ip)
    this.#counters?.conflicts.inc({ ip })
    if (!this.#announced.has(ip)) return
    if (!this.#schedules.get(ip)?.schedule.contest) {
      this.log.warn({ ip, from: formatMac(from) }, `another host announced ${ip}, which this node announces: announcing it again once that host is quiet (RFC 5227 §2.4)`)
    }
    this.#schedule(ip, { kind: 'conflict' })
  }
}
