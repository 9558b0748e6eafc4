// The real clock (core/clock.ts): performance.now, monotonic, and Node's timers.
import { performance } from 'node:perf_hooks'
import type { Clock, TimerHandle } from './core/clock.js'

/**
 * The timers are unref'd: a pending repeat, probe or reopen must not keep a process alive on its own; what
 * keeps the speaker running is its API watches and sockets.
 */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return timer as unknown as TimerHandle
  },
  clearTimeout(handle) {
    if (handle !== undefined) clearTimeout(handle as unknown as NodeJS.Timeout)
  },
}
