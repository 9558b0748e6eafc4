// What a probe found, written where users and the other speakers see it (the shell around core/claims.ts):
// the Service's `l2lb.dev/announced-ips` / `l2lb.dev/address-in-use` annotations, and for a refused IP a
// Warning Event naming the MAC that holds it. Writes carry the Service's uid and resourceVersion (a merge
// patch with preconditions): two speakers recording different IPs of one Service at once cannot lose each
// other's entry; the loser re-reads and tries again.
import type { CoreV1Api } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { classifyApiError, mergePatch } from '../internal/kube/kube-client.js'
import type { EventRecorder } from '../internal/kube/event-recorder.js'
import { toServiceView, type ServiceView } from '../internal/core/views.js'
import { claimPatch, type ProbeOutcome } from './core/claims.js'

export interface ClaimRecorderOptions {
  readonly api: CoreV1Api
  readonly events: EventRecorder
  readonly log: Logger
  readonly nodeName: string
  /** The Service that has `ip` as this node announces it (from the speaker's informer), or null. */
  readonly serviceOf: (ip: string) => ServiceView | null
}

/** Writes that lost to a concurrent one are retried this many times, each from a fresh read. */
const CONFLICT_RETRIES = 3

/** The Event reason for an IP a probe found held by another host. */
export const ADDRESS_IN_USE_REASON = 'AddressInUse'

export class ClaimRecorder {
  readonly #o: ClaimRecorderOptions

  constructor(opts: ClaimRecorderOptions) {
    this.#o = opts
  }

  /** Records one probe's outcome; never throws (failures are logged: the next probe or takeover tries again). */
  async record(outcome: ProbeOutcome): Promise<void> {
    const { log, nodeName } = this.#o
    let svc = this.#o.serviceOf(outcome.ip)
    if (svc === null) return
    const ref = { kind: 'Service', apiVersion: 'v1', namespace: svc.namespace, name: svc.name, uid: svc.uid }
    if (outcome.result === 'in-use') {
      void this.#o.events.record(ref, 'Warning', ADDRESS_IN_USE_REASON,
        `${outcome.ip} is held by another host (MAC ${outcome.mac}), seen by node ${nodeName} on ${outcome.interface}: not announced. Free the address on that host or take it out of the pool; l2lb probes again from time to time and announces it once it is free`)
    }
    for (let attempt = 0; attempt <= CONFLICT_RETRIES; attempt++) {
      const patch = claimPatch(svc.annotations, svc.ingressIPs, outcome)
      if (patch === null) return
      try {
        await this.#o.api.patchNamespacedService({
          name: svc.name, namespace: svc.namespace,
          body: { metadata: { uid: svc.uid, resourceVersion: svc.resourceVersion, annotations: patch } },
        }, mergePatch())
        return
      } catch (err) {
        const c = classifyApiError(err)
        if (c.outcome === 'notFound') return
        if (c.outcome !== 'conflict' || attempt === CONFLICT_RETRIES) {
          log.warn({ service: `${svc.namespace}/${svc.name}`, ip: outcome.ip, error: c.message }, 'could not record the probe outcome on the Service')
          return
        }
        try {
          const fresh = toServiceView(await this.#o.api.readNamespacedService({ name: svc.name, namespace: svc.namespace }))
          if (fresh.uid !== svc.uid) return // deleted and re-created: not the Service the probe was for
          svc = fresh
        } catch (readErr) {
          log.warn({ service: `${svc.namespace}/${svc.name}`, error: classifyApiError(readErr).message }, 'could not re-read the Service')
          return
        }
      }
    }
  }
}
