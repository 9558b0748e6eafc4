// Parses pool ConfigMaps on a thread of their own (config-parse-worker.ts), so that the responders on the main
// thread keep answering while a large one is read (issue 8: a valid 1 MiB config took 0.8-1.3 s of the
// speaker's only thread, and ARP went unanswered that long). The thread also bounds what one config can cost:
// its heap is capped (MAX_HEAP_MB) and a parse that runs past PARSE_DEADLINE_MS is stopped; either way the
// config is refused with a message and the speaker keeps its last good one. Only the newest text is parsed:
// texts that arrive while one is being read replace each other. The thread lives only while there is
// something to parse (a few tens of ms to start), so the speaker pays nothing for it at rest.
import { Worker } from 'node:worker_threads'
import type { ConfigError } from '../internal/core/pool-config.js'
import type { PoolIndex } from './core/advertisement.js'
import type { Clock } from './core/clock.js'
import { systemClock } from './system-clock.js'

/** A config read and indexed for lookups, or why it was refused. */
export type IndexedConfigResult =
  | { readonly ok: true; readonly index: PoolIndex }
  | { readonly ok: false; readonly errors: readonly ConfigError[] }

/** Far above what the largest valid config needs (bench/config.ts), far below the speaker's memory limit. */
export const MAX_HEAP_MB = 64
/** Far above what the largest valid config takes (about 1 s of CPU on a busy 2-core machine). */
export const PARSE_DEADLINE_MS = 10_000

// Runs as .js when compiled (what ships) and as .ts under tsx (tests, benches): the worker file has the same
// extension, and a .ts worker registers tsx first (tsx's loader does not follow `--import tsx` into workers).
const FROM_SOURCE = import.meta.url.endsWith('.ts')
const WORKER_URL = new URL(`./config-parse-worker${FROM_SOURCE ? '.ts' : '.js'}`, import.meta.url)

function refused(message: string, fix: string): IndexedConfigResult {
  return { ok: false, errors: [{ path: 'config', message, fix }] }
}

export interface ConfigParserOptions {
  readonly maxHeapMb?: number
  readonly deadlineMs?: number
  /** A compiled worker to run instead of the one beside this file (bench/lib/config-child.ts: the shipped bundle). */
  readonly workerUrl?: URL
  /** Times the deadline; system-clock.ts by default. */
  readonly clock?: Clock
}

export class ConfigParser {
  readonly #maxHeapMb: number
  readonly #deadlineMs: number
  readonly #workerUrl: URL | null
  readonly #clock: Clock
  #worker: Worker | null = null
  #busy = false
  #pending: { text: string; resolve: (r: IndexedConfigResult | null) => void } | null = null
  #closed = false

  constructor(opts: ConfigParserOptions = {}) {
    this.#maxHeapMb = opts.maxHeapMb ?? MAX_HEAP_MB
    this.#deadlineMs = opts.deadlineMs ?? PARSE_DEADLINE_MS
    this.#workerUrl = opts.workerUrl ?? null
    this.#clock = opts.clock ?? systemClock
  }

  /** Parses text off the main thread. A text superseded by a newer one before its turn resolves to null. */
  parse(text: string): Promise<IndexedConfigResult | null> {
    if (this.#closed) return Promise.resolve(null)
    return new Promise(resolve => {
      this.#pending?.resolve(null)
      this.#pending = { text, resolve }
      this.#next()
    })
  }

  #spawn(): Worker {
    const resourceLimits = { maxOldGenerationSizeMb: this.#maxHeapMb }
    // A compiled worker takes none of the main thread's node options: a `--import tsx` (benches, tests) would
    // load a TypeScript compiler into it, 170 ms of CPU and 10 MiB a shipped speaker never pays. V8's flags
    // (config/default's --max-semi-space-size=1) are the process's and hold for this thread all the same.
    const w = this.#workerUrl !== null ? new Worker(this.#workerUrl, { resourceLimits, execArgv: [] })
      : FROM_SOURCE
      ? new Worker(`import(${JSON.stringify(import.meta.resolve('tsx/esm/api'))}).then(tsx => { tsx.register(); return import(${JSON.stringify(WORKER_URL.href)}) })`, { eval: true, resourceLimits })
      : new Worker(WORKER_URL, { resourceLimits, execArgv: [] })
    w.unref()
    return w
  }

  #next(): void {
    if (this.#busy || this.#pending === null || this.#closed) return
    const { text, resolve } = this.#pending
    this.#pending = null
    this.#busy = true
    const worker = this.#worker ?? (this.#worker = this.#spawn())
    const finish = (r: IndexedConfigResult): void => {
      this.#clock.clearTimeout(timer)
      worker.off('message', onMessage)
      worker.off('error', onError)
      worker.off('exit', onExit)
      this.#busy = false
      worker.unref()
      resolve(r)
      // Configs change rarely: a thread kept between them would cost the speaker its heap at rest.
      if (this.#pending === null && this.#worker === worker) {
        this.#worker = null
        void worker.terminate()
      }
      this.#next()
    }
    const lose = (r: IndexedConfigResult): void => {
      // The thread is spent (out of memory, stopped, crashed): the next parse starts a fresh one.
      if (this.#worker === worker) this.#worker = null
      void worker.terminate()
      finish(r)
    }
    const onMessage = (r: IndexedConfigResult): void => finish(r)
    const onError = (err: Error): void => {
      const oom = (err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY'
      lose(oom
        ? refused(`reading the pool config took more than ${this.#maxHeapMb} MiB`, 'split it, or use ranges and CIDRs instead of single addresses')
        : refused(`reading the pool config failed: ${err.message}`, 'check the YAML'))
    }
    const onExit = (): void => lose(refused('the config reader stopped', 'apply the config again'))
    const timer = this.#clock.setTimeout(() => lose(refused(`reading the pool config took more than ${this.#deadlineMs / 1000} s`, 'split it, or use ranges and CIDRs instead of single addresses')), this.#deadlineMs)
    worker.on('message', onMessage)
    worker.on('error', onError)
    worker.on('exit', onExit)
    // A parse under way keeps the process alive, as a pending request would; an idle thread does not.
    worker.ref()
    worker.postMessage(text)
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#pending?.resolve(null)
    this.#pending = null
    const w = this.#worker
    this.#worker = null
    if (w) await w.terminate()
  }
}
