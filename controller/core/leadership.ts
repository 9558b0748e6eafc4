// Leader election for controller replicas, decided purely (two replicas, one active through a Lease:
// docs/architecture.md). The rules are client-go's: a holder renews every retry period; a candidate may take
// the Lease only after it has seen the same renewTime for a whole lease duration on its own clock (no
// cross-machine clock comparison); a leader that has not renewed within the renew deadline (shorter than the
// lease duration) stops leading before anyone else can take over, so two leaders never overlap.
export interface LeaseRecord {
  readonly holder: string
  readonly renewTime: string
  readonly durationMs: number
  readonly transitions: number
  readonly resourceVersion: string
}

export interface Observed {
  readonly record: LeaseRecord
  /** Our monotonic ms when this record's renewTime was first seen. */
  readonly observedAtMs: number
}

export function observe(prev: Observed | null, record: LeaseRecord, nowMs: number): Observed {
  if (prev && prev.record.renewTime === record.renewTime && prev.record.holder === record.holder) {
    return { record, observedAtMs: prev.observedAtMs }
  }
  return { record, observedAtMs: nowMs }
}

export type Decision =
  | { readonly action: 'create' }
  | { readonly action: 'renew' }
  | { readonly action: 'takeOver' }
  | { readonly action: 'wait'; readonly holder: string; readonly untilMs: number }

/** What a candidate (or the current holder) should do with the Lease as last observed. */
export function decide(me: string, seen: Observed | null, nowMs: number): Decision {
  if (seen === null) return { action: 'create' }
  const { record } = seen
  if (record.holder === me) return { action: 'renew' }
  if (record.holder === '') return { action: 'takeOver' } // released on a graceful stop
  const expires = seen.observedAtMs + record.durationMs
  return nowMs >= expires ? { action: 'takeOver' } : { action: 'wait', holder: record.holder, untilMs: expires }
}

/** A leader must step down when its last successful renewal is older than the renew deadline. */
export function mustStepDown(lastRenewMs: number, renewDeadlineMs: number, nowMs: number): boolean {
  return nowMs - lastRenewMs >= renewDeadlineMs
}
