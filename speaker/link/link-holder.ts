// The packet link a Layer-2 responder (layer2-responder.ts) runs on, through its life: opened at start, its
// kernel filter kept to what may be answered, replaced after a backoff when it goes deaf, its interface is
// re-created, or its filter cannot be narrowed, and closed at the end. Which errors mean a lost link is
// packet-link.ts's call; what the responder does on a new link (join groups, announce, probe) is its own.
import type { Logger } from 'pino'
import type { Clock, TimerHandle } from '../core/clock.js'
import { isInterfaceGoneError, isReceiveStoppedError, type FrameLink, type OpenLink } from './packet-link.js'
import type { CanonicalIP } from '../../internal/core/ip.js'

/** How long to wait before reopening a lost link: doubling from `initialMs`, capped at `maxMs`. */
export interface ReopenBackoff {
  initialMs: number
  maxMs: number
}
export const REOPEN_BACKOFF: ReopenBackoff = { initialMs: 100, maxMs: 5000 }

export interface LinkHolderOptions<L extends FrameLink> {
  /** Interface name in this process's network namespace. */
  interfaceName: string
  /** 'ARP' or 'NDP', for logs. */
  name: string
  log: Logger
  clock: Clock
  openLink: OpenLink<L>
  backoff: ReopenBackoff
  /**
   * The kernel filter passing only what may be answered for `ips` (sorted); none: the link keeps the filter
   * it was opened with, which must pass everything this one ever would.
   */
  filterFor?: ((ips: readonly CanonicalIP[]) => Buffer) | undefined
  /** The addresses the filter must let in now, sorted. */
  watched(): CanonicalIP[]
  /** What receives `link`'s frames; called only while `link` is the current one. */
  receiver(link: L): (frame: Buffer) => void
  /** `link` is current, filtered and subscribed: join, announce and probe on it. */
  attached(link: L, reopened: boolean): void
  /** The current link is lost (already not current, not yet closed): stop using it. */
  lost(): void
}

export class LinkHolder<L extends FrameLink> {
  readonly #opts: LinkHolderOptions<L>
  #link: L | undefined
  #closed = false
  /** The addresses the link's filter was last built for, sorted and joined: refiltered only on a change. */
  #filteredFor: string | undefined
  #reopenTimer: TimerHandle | undefined
  #reopenDelayMs: number
  #openedAt = 0
  #sendErrors = 0
  #receiveErrors = 0
  #reopens = 0

  constructor(opts: LinkHolderOptions<L>) {
    this.#opts = opts
    this.#reopenDelayMs = opts.backoff.initialMs
  }

  /** The open link; undefined before open, while a lost one waits to be reopened, and after close. */
  get current(): L | undefined {
    return this.#link
  }

  get sendErrors(): number {
    return this.#sendErrors
  }

  get receiveErrors(): number {
    return this.#receiveErrors
  }

  /** Times the link was closed and opened again after it went deaf or its interface went away. */
  get reopens(): number {
    return this.#reopens
  }

  /** Opens a link (not yet current: attach() makes it so); throws the link's Node-style error (ENODEV, EPERM). */
  open(): L {
    return this.#opts.openLink(this.#opts.interfaceName)
  }

  /**
   * Makes `link` current: narrows its filter to the watched addresses, subscribes, then hands it to
   * `attached`.
   */
  attach(link: L, reopened = false): void {
    this.#link = link
    this.#openedAt = this.#opts.clock.now()
    this.#filteredFor = undefined
    this.#filter(link, this.#opts.watched())
    const receive = this.#opts.receiver(link)
    link.subscribe(
      frame => {
        if (this.#link === link) receive(frame)
      },
      err => this.#onReceiveError(link, err),
    )
    this.#opts.attached(link, reopened)
  }

  /**
   * Re-attaches the filter for a changed watched set. If that fails the old filter may keep out requests for
   * the new IPs, so the link is replaced: a new one starts from the open filter, which passes them.
   */
  refilter(): void {
    const link = this.#link
    if (link === undefined) return
    const ips = this.#opts.watched()
    if (ips.join(',') === this.#filteredFor) return
    if (!this.#filter(link, ips)) this.#lose(link, 'filter not attached')
  }

  /** Sends `frame` (about `ip`, for logs) on `link`; false when it failed (counted, logged, never thrown). */
  send(link: L, frame: Buffer, ip: string): boolean {
    try {
      link.send(frame)
      return true
    } catch (err) {
      // e.g. ENETDOWN while the interface is down, ENOBUFS under pressure: count it, keep going.
      this.#sendErrors++
      this.#opts.log.warn({ err, ip }, `${this.#opts.name} send failed`)
      if (isInterfaceGoneError(err)) this.#lose(link, 'interface gone')
      return false
    }
  }

  /** Cancels a pending reopen and closes the link; true when there was one to close. Idempotent. */
  close(): boolean {
    this.#closed = true
    this.#opts.clock.clearTimeout(this.#reopenTimer)
    this.#reopenTimer = undefined
    const link = this.#link
    this.#link = undefined
    if (link === undefined) return false
    link.close()
    return true
  }

  /**
   * Attaches the protocol's filter for `ips` to `link`; SO_ATTACH_FILTER replaces the previous program in
   * one step (the kernel swaps the socket's filter pointer), so no frame ever meets an unfiltered socket.
   * False when attaching failed (logged).
   */
  #filter(link: L, ips: readonly CanonicalIP[]): boolean {
    const filterFor = this.#opts.filterFor
    if (filterFor === undefined) return true
    try {
      link.setFilter(filterFor(ips))
      this.#filteredFor = ips.join(',')
      return true
    } catch (err) {
      // On a fresh link the filter it was opened with stays, which passes a superset: still correct.
      this.#opts.log.warn({ err }, `${this.#opts.name} filter not attached`)
      return false
    }
  }

  #onReceiveError(link: L, err: Error): void {
    if (this.#link !== link) return
    this.#receiveErrors++
    this.#opts.log.warn({ err }, `${this.#opts.name} receive error`)
    // ENETDOWN alone is a flap the kernel recovers from (it re-hooks the socket when the interface comes
    // back up), unless the interface was deleted: then the socket stays unbound for good.
    if (isReceiveStoppedError(err)) this.#lose(link, 'receive stopped')
    else if (link.interfaceGone()) this.#lose(link, 'interface gone')
  }

  /**
   * The link can no longer do its job: close it (the old socket's groups go with it) and open a new one
   * after a backoff, so the node never keeps claiming IPs with a deaf or orphaned socket. The delay
   * doubles while reopened links keep failing soon after opening, and starts over after a quiet spell.
   */
  #lose(link: L, why: string): void {
    if (this.#link !== link || this.#closed) return
    this.#link = undefined
    this.#opts.lost()
    link.close()
    const { backoff, clock } = this.#opts
    if (clock.now() - this.#openedAt > backoff.maxMs) this.#reopenDelayMs = backoff.initialMs
    this.#opts.log.warn({ why, retryInMs: this.#reopenDelayMs }, `${this.#opts.name} link lost; reopening`)
    this.#scheduleReopen()
  }

  #scheduleReopen(): void {
    const delay = this.#reopenDelayMs
    this.#reopenDelayMs = Math.min(delay * 2, this.#opts.backoff.maxMs)
    this.#reopenTimer = this.#opts.clock.setTimeout(() => this.#reopen(), delay)
  }

  #reopen(): void {
    this.#reopenTimer = undefined
    if (this.#closed) return
    let link: L
    try {
      link = this.open()
    } catch (err) {
      this.#opts.log.warn({ err, retryInMs: this.#reopenDelayMs }, `${this.#opts.name} reopen failed`)
      this.#scheduleReopen()
      return
    }
    this.#reopens++
    this.attach(link, true)
  }
}
