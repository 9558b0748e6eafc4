// Writes what reconcile decided back to the API server: status.loadBalancer.ingress through the status
// subresource, the pool annotation through the main resource, Events through the recorder. Each write is a
// JSON merge patch carrying the Service's uid, so a Service deleted and re-created under the same name is
// never given its predecessor's IP: kube-apiserver 1.32 refuses a patch that would change metadata.uid with
// 422 Invalid naming `metadata.uid`, which classifyApiError counts as a conflict — the view was of an object
// that no longer exists.
import type { CoreV1Api } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import type { ServiceView } from '../../internal/core/views.js'
import type { CanonicalIP } from '../../internal/core/ip.js'
import type { ServiceWriter, WriteOutcome } from '../core/reconcile.js'
import { ALLOCATED_FROM_POOL } from '../../internal/core/annotations.js'
import { classifyApiError, mergePatch } from '../../internal/kube/kube-client.js'
import type { EventRecorder } from '../../internal/kube/event-recorder.js'

export class KubeServiceWriter implements ServiceWriter {
  readonly #api: CoreV1Api
  readonly #events: EventRecorder
  readonly #log: Logger
  readonly #mayWrite: () => boolean

  /** `mayWrite` is asked right before each write; false: nothing is sent and the write counts as failed. */
  constructor(api: CoreV1Api, events: EventRecorder, log: Logger, mayWrite: () => boolean = () => true) {
    this.#api = api
    this.#events = events
    this.#log = log
    this.#mayWrite = mayWrite
  }

  async #patch(svc: ServiceView, what: string, call: () => Promise<unknown>): Promise<WriteOutcome> {
    if (!this.#mayWrite()) {
      this.#log.debug({ service: svc.key }, `not writing ${what}: not sure this replica still leads`)
      return 'failed'
    }
    try {
      await call()
      return 'ok'
    } catch (err) {
      const e = classifyApiError(err)
      this.#log.warn({ service: svc.key, status: e.status, err: e.message }, `writing ${what} failed`)
      return e.outcome === 'conflict' ? 'conflict' : e.outcome === 'notFound' ? 'notFound' : 'failed'
    }
  }

  updateIngress(svc: ServiceView, ips: readonly CanonicalIP[]): Promise<WriteOutcome> {
    const body = {
      metadata: { uid: svc.uid },
      status: { loadBalancer: { ingress: ips.map(ip => ({ ip })) } },
    }
    return this.#patch(svc, 'status', () =>
      this.#api.patchNamespacedServiceStatus({ name: svc.name, namespace: svc.namespace, body, fieldManager: 'l2lb-controller' }, mergePatch()))
  }

  setAllocatedPool(svc: ServiceView, pool: string | null): Promise<WriteOutcome> {
    const body = { metadata: { uid: svc.uid, annotations: { [ALLOCATED_FROM_POOL]: pool } } }
    return this.#patch(svc, 'pool annotation', () =>
      this.#api.patchNamespacedService({ name: svc.name, namespace: svc.namespace, body, fieldManager: 'l2lb-controller' }, mergePatch()))
  }

  recordEvent(svc: ServiceView, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void> {
    return this.#events.record(
      { kind: 'Service', apiVersion: 'v1', namespace: svc.namespace, name: svc.name, uid: svc.uid, resourceVersion: svc.resourceVersion },
      type, reason, message,
    )
  }
}
