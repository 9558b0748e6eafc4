// When an announced IP's announcements go out, pure: the repeated rounds of a takeover, and the round that
// answers another host announcing the IP (a conflict). The shell (speaker/announcement-timers.ts) keeps one schedule per
// announced IP, feeds it what happened and when, asks for a round when told to, and arms one timer for the
// moment the step names. What a round is (gratuitous ARP, unsolicited NA) is the protocol's business.

/** A takeover is announced in `rounds` rounds, `intervalMs` apart (arp-responder.ts, ndp-responder.ts say why). */
export interface TakeoverTiming {
  intervalMs: number
  rounds: number
}

/**
 * Announcing an IP again after another host announced it (RFC 5227 §2.4 (b)): once that host has been quiet
 * for `quietMs` — a node that took the IP over while we still held it stops within a Lease renewal, and our
 * announcement must come after its last one to win the clients back — but no later than `maxWaitMs` after
 * the first conflict, and at most once per `intervalMs` (RFC 5227's DEFEND_INTERVAL, 10 s) per IP.
 */
export interface DefendTiming {
  quietMs: number
  maxWaitMs: number
  intervalMs: number
}
export const DEFEND_TIMING: DefendTiming = { quietMs: 2000, maxWaitMs: 10_000, intervalMs: 10_000 }

export interface ScheduleTiming {
  takeover: TakeoverTiming
  defend: DefendTiming
}

/** One IP's schedule; all times on the shell's monotonic clock (core/clock.ts), in ms. */
export interface AnnouncementSchedule {
  /** The takeover's next round (0 is the first) and when it is due; null when no takeover round is left. */
  readonly takeover: { readonly round: number; readonly atMs: number } | null
  /** A conflict not answered yet: when the first of it was seen, and when our answer is due. */
  readonly contest: { readonly sinceMs: number; readonly dueMs: number } | null
  /** When a contest was last answered; null: never since the IP was announced. */
  readonly defendedAtMs: number | null
}

export const NOTHING_SCHEDULED: AnnouncementSchedule = { takeover: null, contest: null, defendedAtMs: null }

export type AnnouncementEvent =
  /** The IP is taken over on a link (announced, or announced again on a reopened link): a round goes out now. */
  | { readonly kind: 'takeover' }
  /** Another host announced the IP. */
  | { readonly kind: 'conflict' }
  /** The link went away: the takeover stops (the next link's takeover starts over); a contest stays. */
  | { readonly kind: 'link-lost' }
  /** The time the last step named has come; `linkUp` false when there is no link to send on. */
  | { readonly kind: 'due'; readonly linkUp: boolean }

export interface AnnouncementStep {
  readonly schedule: AnnouncementSchedule
  /** Send one round now. */
  readonly send: boolean
  /** When to step again with `due`; null: not until something happens. */
  readonly nextAtMs: number | null
}

/** What to send now and when to look again, after `event` at `nowMs`. */
export function stepAnnouncement(s: AnnouncementSchedule, event: AnnouncementEvent, nowMs: number, t: ScheduleTiming): AnnouncementStep {
  switch (event.kind) {
    case 'takeover':
      return step({ ...s, takeover: afterRound(0, nowMs, t.takeover) }, true)
    case 'conflict': {
      const sinceMs = s.contest?.sinceMs ?? nowMs
      const dueMs = Math.max(
        Math.min(nowMs + t.defend.quietMs, sinceMs + t.defend.maxWaitMs),
        (s.defendedAtMs ?? -Infinity) + t.defend.intervalMs,
      )
      return step({ ...s, contest: { sinceMs, dueMs } }, false)
    }
    case 'link-lost':
      return step({ ...s, takeover: null }, false)
    case 'due': {
      let next = s
      let send = false
      if (s.takeover !== null && s.takeover.atMs <= nowMs) {
        next = { ...next, takeover: afterRound(s.takeover.round, nowMs, t.takeover) }
        send = true
      }
      if (s.contest !== null && s.contest.dueMs <= nowMs) {
        // Without a link nothing answers the contest, so it does not count against the defend interval.
        next = { ...next, contest: null, defendedAtMs: event.linkUp ? nowMs : s.defendedAtMs }
        // A takeover round still to come answers it, after the other host's last announcement as it must be;
        // one round sent at this moment answers it too.
        if (event.linkUp && next.takeover === null) send = true
      }
      return step(next, send && event.linkUp)
    }
  }
}

/** The takeover after round `round` went out at `nowMs`: the next round, or null after the last. */
function afterRound(round: number, nowMs: number, t: TakeoverTiming): AnnouncementSchedule['takeover'] {
  return round + 1 < t.rounds ? { round: round + 1, atMs: nowMs + t.intervalMs } : null
}

function step(schedule: AnnouncementSchedule, send: boolean): AnnouncementStep {
  const times = [schedule.takeover?.atMs, schedule.contest?.dueMs].filter((at): at is number => at !== undefined)
  return { schedule, send, nextAtMs: times.length === 0 ? null : Math.min(...times) }
}
