// Keeps this speaker's per-node Lease fresh (one Lease per node, so API writes do not grow with
// the number of Services). Renews every quarter of the lease duration; deletes the Lease on close so that peers
// take the node's IPs over as soon as the deletion reaches them instead of after a lease duration.
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { classifyApiError, mergePatch } from '../internal/kube/kube-client.js'
import type { Clock, TimerHandle } from './core/clock.js'
import { HEARTBEAT_INTERVAL_ANNOTATION, speakerLeaseName } from './core/membership.js'
import { systemClock } from './system-clock.js'

export const SPEAKER_LEASE_LABELS = { 'app.kubernetes.io/name': 'l2lb', 'app.kubernetes.io/component': 'speaker' } as const

export interface LeaseHeartbeatOptions {
  readonly api: CoordinationV1Api
  readonly namespace: string
  readonly node: string
  readonly durationSeconds: number
  /** Peer heartbeat interval (0: off), declared on the Lease so that peers know to expect heartbeats. */
  readonly heartbeatIntervalMs: number
  readonly log: Logger
  /**
   * The renewal timer, the renewal deadline and the send times handed to onRenewed / onFailed: the speaker's
   * clock (it compares those times with its own). Default: systemClock.
   */
  readonly clock?: Clock
  /** Called after each successful renewal with the time the request was sent (conservative for fencing). */
  readonly onRenewed: (sentAtMs: number) => void
  /** Called after a renewal failed, with the send time of the first failure of the streak. */
  readonly onFailed?: (failingSinceMs: number) => void
}

export class LeaseHeartbeat {
  readonly #o: LeaseHeartbeatOptions
  readonly #clock: Clock
  #timer: TimerHandle | undefined = undefined
  #closed = false
  #failingSince: number | null = null

  constructor(opts: LeaseHeartbeatOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? systemClock
  }

  get name(): string {
    return speakerLeaseName(this.#o.node)
  }

  get renewIntervalMs(): number {
    return Math.max(100, (this.#o.durationSeconds * 1000) / 4)
  }

  /** Takes the Lease (creating it if needed) and starts renewing. A failure here is retried on the next tick. */
  async start(): Promise<void> {
    await this.#renew()
    this.#schedule()
  }

  #schedule(): void {
    if (this.#closed) return
    this.#timer = this.#clock.setTimeout(() => { void this.#renew().finally(() => this.#schedule()) }, this.renewIntervalMs)
  }

  #annotations(): Record<string, string> {
    return { [HEARTBEAT_INTERVAL_ANNOTATION]: String(this.#o.heartbeatIntervalMs) }
  }

  #body(at: V1MicroTime): V1Lease {
    return {
      metadata: {
        name: this.name, namespace: this.#o.namespace, labels: { ...SPEAKER_LEASE_LABELS, 'l2lb.dev/node': this.#o.node },
        annotations: this.#annotations(),
      },
      spec: { holderIdentity: this.#o.node, leaseDurationSeconds: this.#o.durationSeconds, renewTime: at },
    }
  }

  async #renew(): Promise<void> {
    if (this.#closed) return
    const { log } = this.#o
    const sentAt = this.#clock.now()
    // spec.renewTime is a MicroTime: the real API server refuses anything but six fractional digits (400 on
    // create, 422 on patch); V1MicroTime serialises exactly that, a plain Date only three.
    const at = new V1MicroTime()
    try {
      await this.#withinDeadline(this.#write(at))
      if (this.#closed) return
      if (this.#failingSince !== null) log.info({ lease: this.name }, 'lease renewed again')
      this.#failingSince = null
      this.#o.onRenewed(sentAt)
    } catch (err) {
      // Logged once per streak (an outage fails every 0.75 s); the end of the streak is logged above.
      if (this.#failingSince === null) {
        this.#failingSince = sentAt
        log.warn({ lease: this.name, err: classifyApiError(err).message }, 'lease renewal failed; retrying every renewal interval')
      }
      if (!this.#closed) this.#o.onFailed?.(this.#failingSince)
    }
  }

  /**
   * A renewal that hangs (the API server stalled, its packets dropped) is a failed one after two renewal
   * intervals: otherwise the speaker would go on saying it reaches the API server, and stop renewing.
   */
  #withinDeadline(p: Promise<void>): Promise<void> {
    let timer: TimerHandle | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = this.#clock.setTimeout(() => reject(new Error(`no answer within ${2 * this.renewIntervalMs} ms`)), 2 * this.renewIntervalMs)
    })
    p.catch(() => undefined)
    return Promise.race([p, deadline]).finally(() => this.#clock.clearTimeout(timer))
  }

  async #write(at: V1MicroTime): Promise<void> {
    const { api, namespace } = this.#o
    try {
      await api.patchNamespacedLease({
        name: this.name, namespace,
        body: {
          metadata: { annotations: this.#annotations() },
          spec: { holderIdentity: this.#o.node, leaseDurationSeconds: this.#o.durationSeconds, renewTime: at },
        },
      }, mergePatch())
    } catch (err) {
      if (classifyApiError(err).outcome !== 'notFound') throw err
      await api.createNamespacedLease({ namespace, body: this.#body(at) })
    }
  }

  /** Stops renewing and deletes the Lease (best effort), so peers take over at once. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
    try {
      await this.#o.api.deleteNamespacedLease({ name: this.name, namespace: this.#o.namespace })
    } catch (err) {
      const e = classifyApiError(err)
      if (e.outcome !== 'notFound') this.#o.log.warn({ lease: this.name, err: e.message }, 'could not delete lease on stop; peers take over when it expires')
    }
  }
}
