// A keyed, de-duplicating work queue in the manner of client-go's: a key is queued at most once, is never
// processed by two workers at once, and a key added while it is processed runs again afterwards. Failed keys
// come back after a per-key exponential backoff; success forgets the failures.
export type WorkResult = 'ok' | 'retry' | 'reprocessAll' | 'giveUp'

export interface WorkQueueOptions {
  readonly process: (key: string) => Promise<WorkResult>
  /** Called for 'reprocessAll'; should add every key it knows. */
  readonly onReprocessAll: () => void
  readonly onGiveUp?: (key: string, attempts: number) => void
  readonly baseDelayMs?: number
  readonly maxDelayMs?: number
  readonly maxAttempts?: number
  /**
   * Keys processed at once (default 1). Each key is still processed by one worker at a time; the gain is
   * that one Service's API writes no longer wait for another's (10000 Services in bench/controller.ts).
   */
  readonly workers?: number
}

export class WorkQueue {
  readonly #opts: WorkQueueOptions
  readonly #queue: string[] = []
  readonly #queued = new Set<string>()
  readonly #processing = new Set<string>()
  readonly #dirty = new Set<string>()
  readonly #failures = new Map<string, number>()
  readonly #timers = new Map<string, NodeJS.Timeout>()
  /** Drain loops running (at most `workers`). */
  #running = 0
  #closed = false
  #idleWaiters: Array<() => void> = []

  constructor(opts: WorkQueueOptions) {
    this.#opts = opts
  }

  add(key: string): void {
    if (this.#closed) return
    if (this.#processing.has(key)) { this.#dirty.add(key); return }
    if (this.#queued.has(key)) return
    this.#queued.add(key)
    this.#queue.push(key)
    this.#kick()
  }

  get length(): number {
    return this.#queue.length + this.#processing.size
  }

  /** Resolves when nothing is queued or processing (timers for retries may still be pending). */
  idle(): Promise<void> {
    if (this.length === 0) return Promise.resolve()
    return new Promise(resolve => this.#idleWaiters.push(resolve))
  }

  #kick(): void {
    // One more loop per queued key, up to the worker limit: a loop that finds the queue empty just ends.
    if (this.#queue.length === 0 || this.#running >= Math.max(1, this.#opts.workers ?? 1)) return
    this.#running++
    setImmediate(() => void this.#drain())
  }

  async #drain(): Promise<void> {
    while (!this.#closed) {
      const key = this.#queue.shift()
      if (key === undefined) break
      this.#queued.delete(key)
      this.#processing.add(key)
      if (this.#queue.length > 0) this.#kick()
      let result: WorkResult
      try {
        result = await this.#opts.process(key)
      } catch {
        result = 'retry'
      }
      this.#processing.delete(key)
      this.#settle(key, result)
      if (this.#dirty.delete(key)) this.add(key)
    }
    this.#running--
    if (this.length === 0 && this.#running === 0) {
      const waiters = this.#idleWaiters
      this.#idleWaiters = []
      for (const w of waiters) w()
    }
  }

  #settle(key: string, result: WorkResult): void {
    if (result === 'ok') { this.#failures.delete(key); return }
    if (result === 'reprocessAll') { this.#failures.delete(key); this.#opts.onReprocessAll(); return }
    const attempts = (this.#failures.get(key) ?? 0) + 1
    if (result === 'giveUp' || attempts >= (this.#opts.maxAttempts ?? 15)) {
      this.#failures.delete(key)
      this.#opts.onGiveUp?.(key, attempts)
      return
    }
    this.#failures.set(key, attempts)
    const base = this.#opts.baseDelayMs ?? 50
    const delay = Math.min(base * 2 ** (attempts - 1), this.#opts.maxDelayMs ?? 30_000)
    if (this.#timers.has(key)) return
    this.#timers.set(key, setTimeout(() => { this.#timers.delete(key); this.add(key) }, delay))
  }

  close(): void {
    this.#closed = true
    for (const t of this.#timers.values()) clearTimeout(t)
    this.#timers.clear()
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }
}
