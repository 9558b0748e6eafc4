// What a Layer-2 responder (layer2-responder.ts) counts per announced IP and per drop reason, kept in maps for
// its stats() and, once registered, exported as the l2lb_layer2_* series (docs/reference.md, "Metric names").
import type { MetricsRegistry, MetricFamily } from '../internal/observe/metrics.js'

interface Families {
  requests: MetricFamily
  responses: MetricFamily
  gratuitous: MetricFamily
  conflicts: MetricFamily
  inUse: MetricFamily
  drops: MetricFamily
}

/** The per-IP counts and the drops, as stats() shows them. */
export interface Layer2Counts<Reason extends string> {
  requestsReceived: Record<string, number>
  responsesSent: Record<string, number>
  gratuitousSent: Record<string, number>
  conflictsSeen: Record<string, number>
  addressInUse: Record<string, number>
  drops: Record<Reason, number>
}

function bump<K>(map: Map<K, number>, key: K): void {
  map.set(key, (map.get(key) ?? 0) + 1)
}

export class Layer2Counters<Reason extends string> {
  readonly #dropMetric: { name: string; help: string }
  #families: Families | undefined
  readonly #requests = new Map<string, number>()
  readonly #responses = new Map<string, number>()
  readonly #gratuitous = new Map<string, number>()
  readonly #conflicts = new Map<string, number>()
  readonly #inUse = new Map<string, number>()
  readonly #drops = new Map<Reason, number>()

  /** `dropMetric`: the protocol's own drop family, e.g. l2lb_layer2_arp_dropped{reason}. */
  constructor(dropMetric: { name: string; help: string }) {
    this.#dropMetric = dropMetric
  }

  /** From now on every count is exported in `metrics` too (only counts made after this call). */
  register(metrics: MetricsRegistry): void {
    const m = metrics
    // One family per counter for ARP and NDP alike (the first to register sets the help text), so one
    // series per IP whichever protocol announces it; drops get a family of their own per protocol.
    this.#families = {
      requests: m.counter('l2lb_layer2_requests_received', 'ARP requests and NDP solicitations received for announced IPs'),
      responses: m.counter('l2lb_layer2_responses_sent', 'ARP replies and NDP advertisements sent in answer'),
      gratuitous: m.counter('l2lb_layer2_gratuitous_sent', 'Gratuitous ARP frames and unsolicited NDP advertisements sent'),
      conflicts: m.counter('l2lb_layer2_conflicts_seen', 'Announcements by another host of an IP this node announces (RFC 5227 conflicts)'),
      inUse: m.counter('l2lb_layer2_address_in_use', 'Probes before claiming an IP that found it held by another host (RFC 5227 §2.1.1, RFC 4862 §5.4): the IP is not announced'),
      drops: m.counter(this.#dropMetric.name, this.#dropMetric.help),
    }
  }

  /** A request for an announced IP (MetalLB's layer2_requests_received{ip}). */
  request(ip: string): void {
    bump(this.#requests, ip)
    this.#families?.requests.inc({ ip })
  }

  /** An answer sent (layer2_responses_sent{ip}). */
  response(ip: string): void {
    bump(this.#responses, ip)
    this.#families?.responses.inc({ ip })
  }

  /** An announcement frame sent (layer2_gratuitous_sent{ip}). */
  gratuitous(ip: string): void {
    bump(this.#gratuitous, ip)
    this.#families?.gratuitous.inc({ ip })
  }

  /** Another host announced one of our IPs (RFC 5227 conflict). */
  conflict(ip: string): void {
    bump(this.#conflicts, ip)
    this.#families?.conflicts.inc({ ip })
  }

  /** A probe found the IP held by another host. */
  inUse(ip: string): void {
    bump(this.#inUse, ip)
    this.#families?.inUse.inc({ ip })
  }

  drop(reason: Reason): void {
    bump(this.#drops, reason)
    this.#families?.drops.inc({ reason })
  }

  /**
   * Drops the per-IP counts and series of a withdrawn IP, so that they do not grow with every IP ever
   * announced. The series carry no interface label: where another interface still announces the IP, its
   * responder's next count starts the series again.
   */
  forget(ip: string): void {
    this.#requests.delete(ip)
    this.#responses.delete(ip)
    this.#gratuitous.delete(ip)
    this.#conflicts.delete(ip)
    this.#inUse.delete(ip)
    const f = this.#families
    if (f === undefined) return
    f.requests.remove({ ip })
    f.responses.remove({ ip })
    f.gratuitous.remove({ ip })
    f.conflicts.remove({ ip })
    f.inUse.remove({ ip })
  }

  /** `zeroDrops`: every reason at 0, so that reasons never seen show too. */
  counts(zeroDrops: Record<Reason, number>): Layer2Counts<Reason> {
    const drops = zeroDrops
    for (const [reason, n] of this.#drops) drops[reason] = n
    return {
      requestsReceived: Object.fromEntries(this.#requests),
      responsesSent: Object.fromEntries(this.#responses),
      gratuitousSent: Object.fromEntries(this.#gratuitous),
      conflictsSeen: Object.fromEntries(this.#conflicts),
      addressInUse: Object.fromEntries(this.#inUse),
      drops,
    }
  }
}
