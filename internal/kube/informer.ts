// A list+watch cache that survives: client-node's ListWatch stops for good on any watch error other than
// 410, so this wrapper restarts it with capped exponential backoff (410 already re-lists inside ListWatch).
// Objects are converted to views once, here, at the boundary.
//
// ListWatch.start() resolves even when its list fails (it reports the failure through its 'error'
// callbacks instead), so success is judged by whether an error arrived during the attempt: start() resolves
// only after a list really succeeded. The controller relies on that: it claims existing assignments back from
// the synced cache, and an empty cache mistaken for a synced one would hand out IPs that are already taken.
import { ListWatch, Watch, type KubeConfig, type KubernetesObject, type KubernetesListObject } from '@kubernetes/client-node'
import type { Logger } from 'pino'

export interface InformerOptions<T extends KubernetesObject, V> {
  readonly kubeConfig: KubeConfig
  /** Watch path, e.g. `/api/v1/services` or `/api/v1/namespaces/l2lb-system/configmaps`. */
  readonly path: string
  readonly list: () => Promise<KubernetesListObject<T>>
  readonly toView: (obj: T) => V
  readonly fieldSelector?: string
  readonly labelSelector?: string
  readonly log: Logger
  /** Called with a view on add and update, and with (key, last view) on delete. */
  readonly onChange: (key: string, view: V | null, previous: V | null) => void
  /** Reports whether the cache currently mirrors the server (false between a failure and the next list). */
  readonly onHealth?: (healthy: boolean) => void
}

export function objectKey(obj: KubernetesObject): string {
  const ns = obj.metadata?.namespace
  const name = obj.metadata?.name ?? ''
  return ns ? `${ns}/${name}` : name
}

export class Informer<T extends KubernetesObject, V> {
  readonly #opts: InformerOptions<T, V>
  readonly #views = new Map<string, V>()
  #listWatch: ListWatch<T> | null = null
  #retryTimer: NodeJS.Timeout | null = null
  #failures = 0
  /** Errors reported by the ListWatch so far: an attempt succeeded if none arrived while it ran. */
  #errors = 0
  #lastError: unknown = null
  /** True while start() drives attempts itself; errors then must not schedule a second restart. */
  #starting = false
  #closed = false

  constructor(opts: InformerOptions<T, V>) {
    this.#opts = opts
  }

  /** Lists, fills the cache and starts watching; resolves once the cache is synced. */
  async start(): Promise<void> {
    const o = this.#opts
    const lw = new ListWatch<T>(o.path, new Watch(o.kubeConfig), o.list, false, o.labelSelector, o.fieldSelector)
    this.#listWatch = lw
    const upsert = (obj: T): void => {
      const key = objectKey(obj)
      const previous = this.#views.get(key) ?? null
      const view = o.toView(obj)
      this.#views.set(key, view)
      o.onChange(key, view, previous)
    }
    lw.on('add', upsert)
    lw.on('update', upsert)
    lw.on('delete', obj => {
      const key = objectKey(obj)
      const previous = this.#views.get(key) ?? null
      this.#views.delete(key)
      o.onChange(key, null, previous)
    })
    lw.on('connect', () => {
      if (this.#failures > 0) o.log.info({ path: o.path }, 'watch reconnected')
    })
    lw.on('error', err => {
      this.#errors++
      this.#lastError = err
      if (!this.#starting) this.#scheduleRestart(err)
    })
    await this.#startWithRetry()
  }

  /** One list+watch attempt; true when no error was reported while it ran. */
  async #attempt(lw: ListWatch<T>): Promise<boolean> {
    const before = this.#errors
    try {
      await lw.start()
    } catch (err) {
      this.#errors++
      this.#lastError = err
    }
    return this.#errors === before
  }

  async #startWithRetry(): Promise<void> {
    // The first list must succeed before start() resolves: nothing may be decided on an empty cache.
    this.#starting = true
    try {
      for (;;) {
        const lw = this.#listWatch
        if (this.#closed || !lw) return
        if (await this.#attempt(lw)) {
          this.#failures = 0
          this.#opts.onHealth?.(true)
          return
        }
        this.#failures++
        this.#opts.onHealth?.(false)
        this.#opts.log.warn({ path: this.#opts.path, err: errorText(this.#lastError) }, 'initial list failed; retrying')
        await new Promise<void>(resolve => { this.#retryTimer = setTimeout(() => { this.#retryTimer = null; resolve() }, this.#backoffMs()) })
      }
    } finally {
      this.#starting = false
    }
  }

  #backoffMs(): number {
    return Math.min(200 * 2 ** Math.min(this.#failures, 8), 30_000)
  }

  #scheduleRestart(err: unknown): void {
    if (this.#closed || this.#retryTimer) return
    this.#failures++
    this.#opts.onHealth?.(false)
    const delay = this.#backoffMs()
    this.#opts.log.warn({ path: this.#opts.path, err: errorText(err), retryInMs: delay }, 'watch failed; restarting')
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = null
      const lw = this.#listWatch
      if (this.#closed || !lw) return
      // A failed attempt reports through 'error', which schedules the next one with a longer delay.
      void this.#attempt(lw).then(ok => {
        if (ok) { this.#failures = 0; this.#opts.onHealth?.(true) }
      })
    }, delay)
  }

  get(key: string): V | null {
    return this.#views.get(key) ?? null
  }

  list(): V[] {
    return [...this.#views.values()]
  }

  keys(): string[] {
    return [...this.#views.keys()]
  }

  async close(): Promise<void> {
    this.#closed = true
    if (this.#retryTimer) clearTimeout(this.#retryTimer)
    this.#retryTimer = null
    await this.#listWatch?.stop()
  }
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
