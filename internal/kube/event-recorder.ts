// Records core/v1 Events on objects, as client-go's recorder does, so `kubectl describe` shows them.
// Identical events (same object, reason and message) within a short window are folded into one with a count,
// which keeps a flapping condition from flooding the API server.
import { randomBytes } from 'node:crypto'
import type { CoreV1Api, CoreV1Event } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { classifyApiError, mergePatch } from './kube-client.js'

export interface ObjectRef {
  readonly kind: string
  readonly apiVersion: string
  readonly namespace: string
  readonly name: string
  readonly uid: string
  readonly resourceVersion?: string
}

export interface EventRecorderOptions {
  readonly api: CoreV1Api
  /** source.component, e.g. `l2lb-controller` or `l2lb-speaker`. */
  readonly component: string
  /** source.host / reportingInstance: the node or pod name. */
  readonly instance: string
  readonly log: Logger
  readonly now?: () => Date
  /** Asked right before each write; false: the Event is dropped (Events are best effort). */
  readonly mayWrite?: () => boolean
}

interface Recent { name: string; count: number; first: string; at: number }

const FOLD_WINDOW_MS = 10 * 60_000

export class EventRecorder {
  readonly #o: EventRecorderOptions
  readonly #recent = new Map<string, Recent>()

  constructor(opts: EventRecorderOptions) {
    this.#o = opts
  }

  async record(ref: ObjectRef, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    if (this.#o.mayWrite !== undefined && !this.#o.mayWrite()) return
    const now = (this.#o.now ?? (() => new Date()))()
    const stamp = now.toISOString().replace(/\.\d+Z$/, 'Z')
    const foldKey = `${ref.uid}|${type}|${reason}|${message}`
    const recent = this.#recent.get(foldKey)
    try {
      if (recent && now.getTime() - recent.at < FOLD_WINDOW_MS) {
        recent.count++
        recent.at = now.getTime()
        await this.#o.api.patchNamespacedEvent(
          { name: recent.name, namespace: ref.namespace, body: { count: recent.count, lastTimestamp: stamp } },
          mergePatch(),
        )
        return
      }
      const name = `${ref.name}.${randomBytes(8).toString('hex')}`
      const body: CoreV1Event = {
        metadata: { name, namespace: ref.namespace },
        involvedObject: {
          kind: ref.kind, apiVersion: ref.apiVersion, namespace: ref.namespace, name: ref.name, uid: ref.uid,
          ...(ref.resourceVersion ? { resourceVersion: ref.resourceVersion } : {}),
        },
        reason, message, type,
        source: { component: this.#o.component, host: this.#o.instance },
        reportingComponent: this.#o.component,
        reportingInstance: this.#o.instance,
        firstTimestamp: new Date(stamp), lastTimestamp: new Date(stamp), count: 1,
      }
      await this.#o.api.createNamespacedEvent({ namespace: ref.namespace, body })
      this.#recent.set(foldKey, { name, count: 1, first: stamp, at: now.getTime() })
      this.#prune(now.getTime())
    } catch (err) {
      // An Event is best effort: losing one must never stop a reconcile.
      this.#recent.delete(foldKey)
      this.#o.log.warn({ reason, object: `${ref.namespace}/${ref.name}`, err: classifyApiError(err).message }, 'recording event failed')
    }
  }

  #prune(nowMs: number): void {
    if (this.#recent.size < 1000) return
    for (const [k, v] of this.#recent) if (nowMs - v.at >= FOLD_WINDOW_MS) this.#recent.delete(k)
  }
}
