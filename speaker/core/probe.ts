// Probing an address before claiming it, pure: when the probes go out, when the address counts as free, and
// when a refused address is probed again. RFC 5227 §2.1.1 (IPv4 ARP probes) and RFC 4862 §5.4 (IPv6
// duplicate address detection) describe the probe; the shell (speaker/prober.ts) sends the frames the
// protocol builds (an ARP request from 0.0.0.0, a Neighbor Solicitation from ::) on this schedule, and the
// decisions (core/arp-decision.ts, core/ndp-decision.ts) say `in-use` when another host answers.
//
// Only an address no node of this cluster announced before is probed (speaker/core/claims.ts says which):
// a takeover after a failover skips it, so the probe never slows failover down.

/** The probe's timing, all in milliseconds. */
export interface ProbeTiming {
  /** Probes sent (RFC 5227 PROBE_NUM 3; RFC 4862 DupAddrDetectTransmits 1). */
  probes: number
  /** Between probes (RFC 5227: random in PROBE_MIN 1 s .. PROBE_MAX 2 s). */
  intervalMs: number
  /** After the last probe, before the address counts as free (RFC 5227 ANNOUNCE_WAIT 2 s; RFC 4862 RetransTimer 1 s). */
  waitMs: number
  /** Before a refused address is probed again (RFC 5227 §2.1.1 leaves retrying to the host). */
  retryMs: number
  /** Refusals in a row after which retries slow down (RFC 5227 MAX_CONFLICTS 10). */
  maxConflicts: number
  /** The slower retry (RFC 5227 RATE_LIMIT_INTERVAL 60 s). */
  rateLimitedRetryMs: number
}

/**
 * RFC 5227's probe takes 1-3 s of waiting plus 3 probes 1-2 s apart plus 2 s: 4-9 s. Its random initial wait
 * (PROBE_WAIT) keeps hosts that power up together from probing in step; here only the node the election
 * picked probes an address, so there is nothing to spread, and the first probe goes at once. Its spacing
 * and final wait are sized for hosts that answer late or not at all while busy: a host that holds an address
 * answers a probe from its kernel within a millisecond on a LAN (Linux answers ARP probes in arp_process and
 * DAD solicitations in ndisc_recv_ns, both in softirq). l2lb keeps three probes, to outlast the loss of
 * one or two frames, 200 ms apart, and waits 400 ms after the last: 800 ms, about RFC 4862's DAD (one
 * solicitation, then RetransTimer 1 s) and the order NetworkManager's `ipv4.dad-timeout` is commonly set to.
 * It is paid once per address, when a Service first gets it, never on failover.
 */
export const PROBE_TIMING: ProbeTiming = {
  probes: 3,
  intervalMs: 200,
  waitMs: 400,
  retryMs: 10_000,
  maxConflicts: 10,
  rateLimitedRetryMs: 60_000,
}

export interface ProbePlan {
  /** When each probe goes out, from the start of the probe. */
  readonly sendAtMs: readonly number[]
  /** When the address counts as free if nobody answered. */
  readonly decideAtMs: number
}

export function probePlan(t: ProbeTiming): ProbePlan {
  const sendAtMs = Array.from({ length: Math.max(1, t.probes) }, (_, i) => i * t.intervalMs)
  return { sendAtMs, decideAtMs: (sendAtMs[sendAtMs.length - 1] ?? 0) + t.waitMs }
}

/**
 * How long after its `refusals`-th refusal in a row (1 = the first) an address is probed again: retryMs,
 * then rateLimitedRetryMs from maxConflicts on (RFC 5227 §2.1.1: after MAX_CONFLICTS conflicts, at most one
 * attempt per RATE_LIMIT_INTERVAL). The address stays unannounced in between.
 */
export function retryAfterMs(refusals: number, t: ProbeTiming): number {
  return refusals >= t.maxConflicts ? t.rateLimitedRetryMs : t.retryMs
}
