// Probing an address before a Layer-2 responder (layer2-responder.ts) claims it: sends the protocol's probes
// (an ARP probe from 0.0.0.0, RFC 5227 §2.1.1; a DAD solicitation from ::, RFC 4862 §5.4) on core/probe.ts's
// schedule, on the injected clock, and says whether the address is free or held by another host. A held
// address is refused and probed again later (core/probe.ts's retryAfterMs). Which addresses are probed at
// all is core/claims.ts's decision; what a decision `in-use` is, the protocol's (core/arp-decision.ts,
// core/ndp-decision.ts), read through `probing`.
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from './core/clock.js'
import { formatMac } from './core/ethernet.js'
import { probePlan, retryAfterMs, type ProbeTiming } from './core/probe.js'
import type { FrameLink } from './link/packet-link.js'
import type { LinkHolder } from './link/link-holder.js'
import type { CanonicalIP } from '../internal/core/ip.js'

export interface ProberOptions<L extends FrameLink> {
  log: Logger
  clock: Clock
  timing: ProbeTiming
  /** Where probes go out: the current link, and sending on it (errors counted there). */
  link: Pick<LinkHolder<L>, 'current' | 'send'>
  /** The frames of one probe for `ip` from `mac`. */
  probes(mac: Buffer, ip: CanonicalIP): Buffer[]
  /** No other host answered the probe: `ip` may be announced. */
  free(ip: CanonicalIP): void
  /** A host (`mac`) answered the probe: `ip` is refused until a later probe finds it free. */
  inUse(ip: CanonicalIP, mac: string): void
  /** A refused address is probed again: the filter must let its answers in. */
  watchedChanged(): void
}

export class Prober<L extends FrameLink> {
  readonly #opts: ProberOptions<L>
  /** Addresses being probed: read by every decision, changed in place. */
  readonly probing = new Set<CanonicalIP>()
  /** The timers of each probe on the current link. */
  readonly #timers = new Map<CanonicalIP, TimerHandle[]>()
  /** Addresses a probe found held, with the holder and the timer of the next probe. */
  readonly #refused = new Map<CanonicalIP, { mac: string; timer: TimerHandle }>()
  /** Refusals in a row per address, until a probe finds it free or the address is withdrawn. */
  readonly #refusalsInRow = new Map<CanonicalIP, number>()
  #closed = false

  constructor(opts: ProberOptions<L>) {
    this.#opts = opts
  }

  /** Whether `ip` is being probed or refused. */
  has(ip: CanonicalIP): boolean {
    return this.probing.has(ip) || this.#refused.has(ip)
  }

  /** Marks `ip` for probing; start() sends the probes (after the filter lets their answers in). */
  add(ip: CanonicalIP): void {
    this.probing.add(ip)
  }

  /**
   * Sends the probes for `ip` on the current link on core/probe.ts's schedule; the address counts as free at
   * its end unless refuse() came first. Without a link the probe waits for the next one (startAll).
   */
  start(ip: CanonicalIP): void {
    this.#clearTimers(ip)
    const { clock, log } = this.#opts
    const link = this.#opts.link.current
    if (link === undefined) return
    const plan = probePlan(this.#opts.timing)
    const timers = plan.sendAtMs.map(at => clock.setTimeout(() => {
      if (this.#opts.link.current !== link || !this.probing.has(ip)) return
      for (const frame of this.#opts.probes(link.mac, ip)) this.#opts.link.send(link, frame, ip)
    }, at))
    timers.push(clock.setTimeout(() => this.#free(ip, link), plan.decideAtMs))
    this.#timers.set(ip, timers)
    log.info({ ip, forMs: plan.decideAtMs }, `probing ${ip} before announcing it: no node of this cluster announced it before`)
  }

  /** A new link: probes cut short by the lost one start over on it. */
  startAll(link: L): void {
    for (const ip of this.probing) if (this.#opts.link.current === link) this.start(ip)
  }

  /** The link is lost: the probes on it stop (the addresses stay under probe). */
  linkLost(): void {
    for (const ip of [...this.#timers.keys()]) this.#clearTimers(ip)
  }

  /** Another host (`from`) answered the probe for `ip`: refuse it and probe again later. */
  refuse(ip: CanonicalIP, from: Buffer): void {
    if (!this.probing.has(ip)) return
    this.#stop(ip)
    const mac = formatMac(from)
    const refusals = (this.#refusalsInRow.get(ip) ?? 0) + 1
    this.#refusalsInRow.set(ip, refusals)
    const retryMs = retryAfterMs(refusals, this.#opts.timing)
    const timer = this.#opts.clock.setTimeout(() => this.#retry(ip), retryMs)
    this.#refused.set(ip, { mac, timer })
    this.#opts.log.warn({ ip, holder: mac, retryInMs: retryMs }, `${ip} is held by another host (${mac}): not announcing it (RFC 5227 §2.1.1); probing again in ${retryMs / 1000} s`)
    this.#opts.inUse(ip, mac)
  }

  /** `ip` is withdrawn: its probe or retry is cancelled; what it was, undefined when neither. */
  withdraw(ip: CanonicalIP): 'probing' | 'refused' | undefined {
    this.#refusalsInRow.delete(ip)
    if (this.probing.has(ip)) {
      this.#stop(ip)
      return 'probing'
    }
    const r = this.#refused.get(ip)
    if (r === undefined) return undefined
    this.#opts.clock.clearTimeout(r.timer)
    this.#refused.delete(ip)
    return 'refused'
  }

  /** Addresses under probe or refused, in that order. */
  addresses(): CanonicalIP[] {
    return [...this.probing, ...this.#refused.keys()]
  }

  /** Refused addresses with the holder's MAC. */
  refused(): Record<string, string> {
    return Object.fromEntries([...this.#refused].map(([ip, r]) => [ip, r.mac]))
  }

  /** Cancels every probe and retry. */
  close(): void {
    this.#closed = true
    for (const ip of [...this.#timers.keys()]) this.#clearTimers(ip)
    this.probing.clear()
    for (const r of this.#refused.values()) this.#opts.clock.clearTimeout(r.timer)
    this.#refused.clear()
  }

  #free(ip: CanonicalIP, link: L): void {
    if (this.#opts.link.current !== link || !this.probing.has(ip)) return
    this.#timers.delete(ip)
    this.probing.delete(ip)
    this.#refusalsInRow.delete(ip)
    this.#opts.log.info({ ip }, 'no other host answered the probe')
    this.#opts.free(ip)
  }

  #retry(ip: CanonicalIP): void {
    if (this.#closed || !this.#refused.has(ip)) return
    this.#refused.delete(ip)
    this.probing.add(ip)
    this.#opts.watchedChanged()
    this.start(ip)
  }

  #stop(ip: CanonicalIP): void {
    this.#clearTimers(ip)
    this.probing.delete(ip)
  }

  #clearTimers(ip: CanonicalIP): void {
    for (const timer of this.#timers.get(ip) ?? []) this.#opts.clock.clearTimeout(timer)
    this.#timers.delete(ip)
  }
}
