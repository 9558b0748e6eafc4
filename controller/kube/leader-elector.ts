// Runs the pure leadership rules (controller/core/leadership.ts) against a Lease: one controller replica
// allocates, the others stand by and take over when the leader stops renewing (docs/architecture.md). Writes use the
// Lease's resourceVersion, so two candidates racing for an expired Lease cannot both win (409 for the loser).
import { V1MicroTime, type CoordinationV1Api, type V1Lease } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { decide, mustStepDown, observe, type LeaseRecord, type Observed } from '../core/leadership.js'
import { toLeaseView } from '../../internal/core/views.js'
import { classifyApiError } from '../../internal/kube/kube-client.js'

export interface LeaderElectorOptions {
  readonly api: CoordinationV1Api
  readonly namespace: string
  readonly name: string
  readonly identity: string
  /** client-go's defaults: 15 s lease, 10 s renew deadline, 2 s retry period. */
  readonly leaseDurationMs?: number
  readonly renewDeadlineMs?: number
  readonly retryPeriodMs?: number
  readonly log: Logger
  readonly now: () => number
  readonly onStartedLeading: () => void
  /** Another replica holds the Lease now (or close() released it): this one must stop for good. */
  readonly onStoppedLeading: () => void
  /**
   * The renew deadline passed without a renewal (the API server is away, or this process was paused): from
   * now on `certain` is false and the leader must write nothing, but it keeps its state and keeps trying. If
   * its next renewal succeeds nobody took over (a takeover is a write of the Lease, which it would have
   * read), and onRegainedCertainty follows; if another holder shows up, onStoppedLeading.
   */
  readonly onLostCertainty?: () => void
  readonly onRegainedCertainty?: () => void
}

export class LeaderElector {
  readonly #o: LeaderElectorOptions
  #seen: Observed | null = null
  #leading = false
  #lastRenewMs = 0
  #timer: NodeJS.Timeout | null = null
  /** The step running now, if any: close() lets it finish before releasing. */
  #inflight: Promise<void> | null = null
  #closed = false
  #uncertain = false

  constructor(opts: LeaderElectorOptions) {
    this.#o = opts
  }

  get leading(): boolean {
    return this.#leading
  }

  /**
   * Whether this replica may write: it leads and renewed within the renew deadline, on the monotonic clock,
   * checked at the moment of asking. A process that wakes from a pause (SIGSTOP, a long GC or VM stall) is
   * uncertain before any timer of its own has run, so the watch events it had buffered cannot lead to a write.
   */
  get certain(): boolean {
    return this.#leading && !mustStepDown(this.#lastRenewMs, this.#deadlineMs, this.#o.now())
  }

  get #durationMs(): number { return this.#o.leaseDurationMs ?? 15_000 }
  get #deadlineMs(): number { return this.#o.renewDeadlineMs ?? 10_000 }
  get #retryMs(): number { return this.#o.retryPeriodMs ?? 2_000 }

  start(): void {
    this.#run()
  }

  #run(): void {
    this.#inflight = this.#tick()
  }

  async #tick(): Promise<void> {
    if (this.#closed) return
    try {
      await this.#step()
    } catch (err) {
      this.#o.log.warn({ lease: this.#o.name, err: classifyApiError(err).message }, 'leader election step failed')
      // A replica that could not see the Lease cannot tell that its holder stopped renewing: it watches for a
      // whole lease duration again from its next good read. Without this, a standby cut off by the same API
      // outage as the leader would take over the moment both are back, for a leader that was never gone.
      this.#seen = null
    }
    if (this.#leading && !this.#uncertain && mustStepDown(this.#lastRenewMs, this.#deadlineMs, this.#o.now())) {
      this.#uncertain = true
      this.#o.log.warn({ lease: this.#o.name }, 'renew deadline passed: writing nothing until the Lease is renewed again')
      this.#o.onLostCertainty?.()
    }
    if (!this.#closed) this.#timer = setTimeout(() => this.#run(), this.#retryMs)
  }

  #body(resourceVersion: string | undefined, transitions: number, acquired: boolean): V1Lease {
    // renewTime/acquireTime are MicroTime: the real API server takes exactly six fractional digits, which
    // V1MicroTime writes and a plain Date (three) does not.
    const now = new V1MicroTime()
    return {
      metadata: { name: this.#o.name, namespace: this.#o.namespace, ...(resourceVersion ? { resourceVersion } : {}) },
      spec: {
        holderIdentity: this.#o.identity,
        leaseDurationSeconds: Math.ceil(this.#durationMs / 1000),
        renewTime: now,
        ...(acquired ? { acquireTime: now } : {}),
        leaseTransitions: transitions,
      },
    }
  }

  async #read(): Promise<LeaseRecord | null> {
    try {
      const v = toLeaseView(await this.#o.api.readNamespacedLease({ name: this.#o.name, namespace: this.#o.namespace }))
      return {
        holder: v.holderIdentity ?? '', renewTime: v.renewTime, durationMs: (v.leaseDurationSeconds ?? 15) * 1000,
        transitions: v.leaseTransitions, resourceVersion: v.resourceVersion,
      }
    } catch (err) {
      if (classifyApiError(err).outcome === 'notFound') return null
      throw err
    }
  }

  async #step(): Promise<void> {
    const { api, namespace, name } = this.#o
    const sentAt = this.#o.now()
    const record = await this.#read()
    this.#seen = record === null ? null : observe(this.#seen, record, sentAt)
    const d = decide(this.#o.identity, this.#seen, sentAt)
    try {
      if (d.action === 'create') {
        await api.createNamespacedLease({ namespace, body: this.#body(undefined, 0, true) })
      } else if (d.action === 'renew' || d.action === 'takeOver') {
        const rec = this.#seen?.record
        const transitions = (rec?.transitions ?? 0) + (d.action === 'takeOver' ? 1 : 0)
        await api.replaceNamespacedLease({ name, namespace, body: this.#body(rec?.resourceVersion, transitions, d.action === 'takeOver') })
      } else {
        if (this.#leading) this.#stepDown(`the Lease is held by ${d.holder}`)
        return
      }
    } catch (err) {
      // 409: someone else wrote the Lease first (a racing candidate, or the holder renewing); look again later.
      if (classifyApiError(err).outcome === 'conflict') return
      throw err
    }
    this.#lastRenewMs = sentAt
    if (this.#closed) return // close() ran while this step was in flight: never start leading after it
    if (this.#uncertain) {
      this.#uncertain = false
      this.#o.log.info({ lease: this.#o.name }, 'Lease renewed again after the renew deadline: nobody took over, writing again')
      this.#o.onRegainedCertainty?.()
    }
    if (!this.#leading) {
      this.#leading = true
      this.#o.log.info({ lease: `${namespace}/${name}`, identity: this.#o.identity }, 'became leader')
      this.#o.onStartedLeading()
    }
  }

  #stepDown(reason: string): void {
    this.#leading = false
    this.#uncertain = false
    this.#o.log.warn({ lease: this.#o.name, reason }, 'stopped leading')
    this.#o.onStoppedLeading()
  }

  /** Stops; a leader releases the Lease (empty holder) so a standby takes over at once, as client-go's ReleaseOnCancel. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#timer) clearTimeout(this.#timer)
    // A renewal in flight would land after the release's read, and the release then fail with 409: the
    // standby would wait out a whole lease duration instead of taking over at once.
    await this.#inflight
    if (!this.#leading) return
    this.#leading = false
    try {
      const rec = await this.#read()
      if (rec && rec.holder === this.#o.identity) {
        await this.#o.api.replaceNamespacedLease({
          name: this.#o.name, namespace: this.#o.namespace,
          body: { metadata: { name: this.#o.name, namespace: this.#o.namespace, resourceVersion: rec.resourceVersion },
            spec: { holderIdentity: '', leaseDurationSeconds: 1, renewTime: new V1MicroTime(), leaseTransitions: rec.transitions } },
        })
      }
    } catch (err) {
      this.#o.log.warn({ lease: this.#o.name, err: classifyApiError(err).message }, 'could not release the Lease; a standby takes over when it expires')
    }
  }
}
