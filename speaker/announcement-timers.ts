// The timers of every announced IP's announcement schedule, for a Layer-2 responder (layer2-responder.ts):
// core/announcement-schedule.ts decides when a round goes out (a takeover's repeats, the answer to another
// host announcing the IP: RFC 5227 §2.4 (b)); this keeps each IP's schedule, feeds it what happened, arms one
// timer on the injected clock for the moment the step names, and asks for a round when the step says so.
import type { Logger } from 'pino'
import {
  NOTHING_SCHEDULED, stepAnnouncement, type AnnouncementEvent, type AnnouncementSchedule, type ScheduleTiming,
} from './core/announcement-schedule.js'
import type { Clock, TimerHandle } from './core/clock.js'
import { formatMac } from './core/ethernet.js'
import type { CanonicalIP } from '../internal/core/ip.js'

export interface AnnouncementTimersOptions {
  clock: Clock
  timing: ScheduleTiming
  log: Logger
  /** Whether there is a link to send on now. */
  linkUp(): boolean
  /** Send one round of `ip`'s announcement frames now, if there is a link. */
  sendRound(ip: CanonicalIP): void
}

export class AnnouncementTimers {
  readonly #opts: AnnouncementTimersOptions
  /** Each announced IP's schedule and the timer armed for its next step; dropped when the IP is withdrawn. */
  readonly #schedules = new Map<CanonicalIP, { schedule: AnnouncementSchedule; timer: TimerHandle | undefined }>()

  constructor(opts: AnnouncementTimersOptions) {
    this.#opts = opts
  }

  /** `ip` is taken over on the current link: a round now, then the takeover's repeats. */
  takeover(ip: CanonicalIP): void {
    this.#step(ip, { kind: 'takeover' })
  }

  /** Another host announced `ip`, which we announce (from `from`): answered once it is quiet. */
  defend(ip: CanonicalIP, from: Buffer): void {
    if (!this.#schedules.get(ip)?.schedule.contest) {
      this.#opts.log.warn({ ip, from: formatMac(from) }, `another host announced ${ip}, which this node announces: announcing it again once that host is quiet (RFC 5227 §2.4)`)
    }
    this.#step(ip, { kind: 'conflict' })
  }

  /** The link went away: every takeover stops (the next link's starts over); contests stay. */
  linkLost(): void {
    for (const ip of [...this.#schedules.keys()]) this.#step(ip, { kind: 'link-lost' })
  }

  /** `ip` is withdrawn: its timer is cancelled and its schedule forgotten. */
  remove(ip: CanonicalIP): void {
    this.#opts.clock.clearTimeout(this.#schedules.get(ip)?.timer)
    this.#schedules.delete(ip)
  }

  /** Cancels every timer. */
  close(): void {
    for (const ip of [...this.#schedules.keys()]) this.remove(ip)
  }

  /**
   * Steps `ip`'s schedule with `event` and arms the timer for its next step; sends a round when the step says
   * so. The new schedule is stored before anything is sent: a fatal send error steps it again (linkLost).
   */
  #step(ip: CanonicalIP, event: AnnouncementEvent): void {
    const clock = this.#opts.clock
    const now = clock.now()
    const entry = this.#schedules.get(ip)
    clock.clearTimeout(entry?.timer)
    const step = stepAnnouncement(entry?.schedule ?? NOTHING_SCHEDULED, event, now, this.#opts.timing)
    const timer = step.nextAtMs === null ? undefined : clock.setTimeout(() => this.#due(ip), step.nextAtMs - now)
    this.#schedules.set(ip, { schedule: step.schedule, timer })
    if (step.send) this.#opts.sendRound(ip)
  }

  #due(ip: CanonicalIP): void {
    const entry = this.#schedules.get(ip)
    if (entry === undefined) return
    entry.timer = undefined
    const answering = entry.schedule.contest !== null && entry.schedule.takeover === null
    this.#step(ip, { kind: 'due', linkUp: this.#opts.linkUp() })
    if (answering && this.#schedules.get(ip)?.schedule.contest === null && this.#opts.linkUp()) {
      this.#opts.log.info({ ip }, 'announced again after a conflicting announcement')
    }
  }
}
