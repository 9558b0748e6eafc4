// Time as the pure core and its shells see it: one monotonic clock and one-shot timers, injected, so that a
// test drives time by hand (test/lib/manual-clock.ts) instead of sleeping, and so that wall-clock steps (NTP,
// an operator setting the date) never stretch or cut short an interval. The real one is speaker/system-clock.ts.

declare const timerHandle: unique symbol
/** What setTimeout returns: opaque, good only for clearTimeout on the clock that made it. */
export interface TimerHandle {
  readonly [timerHandle]: true
}

export interface Clock {
  /** Monotonic milliseconds from an arbitrary origin (never goes back; not a date). */
  now(): number
  /** Calls `fn` once, `ms` from now (at the earliest: a timer is never early, may be late). */
  setTimeout(fn: () => void, ms: number): TimerHandle
  /** Cancels a timer that has not fired; nothing for one that has, or for undefined. */
  clearTimeout(handle: TimerHandle | undefined): void
}
