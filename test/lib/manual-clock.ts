// A clock the test moves by hand (speaker/core/clock.ts's Clock): nothing fires until advance(), which runs
// the timers due within the step in time order, so a test of a schedule states the times it means instead of
// sleeping for them and hoping the machine keeps up.
import type { Clock, TimerHandle } from '../../speaker/core/clock.js'

interface Pending {
  readonly at: number
  /** Creation order: timers due at the same moment fire in the order they were set, as Node's do. */
  readonly seq: number
  readonly fn: () => void
}

/** Promise callbacks queued by a timer (an awaited send, a .then) run before the next timer fires. */
const MICROTASK_TURNS = 20

async function settle(): Promise<void> {
  for (let i = 0; i < MICROTASK_TURNS; i++) await Promise.resolve()
}

export class ManualClock implements Clock {
  #now: number
  #seq = 0
  readonly #timers = new Map<object, Pending>()

  constructor(startMs = 1000) {
    this.#now = startMs
  }

  now(): number {
    return this.#now
  }

  /** As Node does, a delay below 1 ms (or not a number) counts as 1 ms: a timer never fires in the call that set it. */
  setTimeout(fn: () => void, ms: number): TimerHandle {
    const handle = {}
    const delay = Number.isFinite(ms) && ms >= 1 ? ms : 1
    this.#timers.set(handle, { at: this.#now + delay, seq: this.#seq++, fn })
    return handle as TimerHandle
  }

  clearTimeout(handle: TimerHandle | undefined): void {
    if (handle !== undefined) this.#timers.delete(handle)
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size
  }

  /**
   * Moves time forward by `ms`, firing every timer due by then (those the fired ones set too) in order of
   * due time, with now() reading each one's due time while it runs, and letting promise callbacks run after
   * each. An exception from a timer propagates, as an uncaught one would fail the test.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0)) throw new RangeError(`advance(${ms}): time only moves forward, by a number of ms >= 0`)
    const end = this.#now + ms
    await settle()
    for (;;) {
      const next = this.#next(end)
      if (next === undefined) break
      this.#timers.delete(next[0])
      this.#now = next[1].at
      next[1].fn()
      await settle()
    }
    this.#now = end
  }

  /** Advances to the next pending timer and fires it (and any due at the same moment); false when none is pending. */
  async next(): Promise<boolean> {
    const next = this.#next(Infinity)
    if (next === undefined) return false
    await this.advance(next[1].at - this.#now)
    return true
  }

  #next(until: number): [object, Pending] | undefined {
    let best: [object, Pending] | undefined
    for (const entry of this.#timers) {
      const p = entry[1]
      if (p.at > until) continue
      if (best === undefined || p.at < best[1].at || (p.at === best[1].at && p.seq < best[1].seq)) best = entry
    }
    return best
  }
}
