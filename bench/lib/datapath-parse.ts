// The pure parts of the datapath bench (bench/datapath.ts): reading arping's and tcpdump's output and
// /proc/<pid>/stat, and the percentile used for every latency figure. Kept apart so they are unit-tested.

/** Nearest-rank percentile of values sorted ascending; NaN for none. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? NaN
}

export interface ArpingRun {
  /** The address this arping asked for. */
  readonly target: string
  /** Replies from that address, in order: the MAC lower case with colons, the time arping printed in ms. */
  readonly replies: Array<{ mac: string; ms: number }>
}

/**
 * The runs in the concatenated output of several iputils arping invocations. Each prints "ARPING <ip> from
 * <src> <dev>", then one "Unicast reply from <ip> [<MAC>]  <t>ms" per reply ("Broadcast reply" when the
 * reply was broadcast), then its totals. A reply from another address than the one asked for is ignored.
 */
export function parseArpingRuns(out: string): ArpingRun[] {
  const runs: ArpingRun[] = []
  for (const line of out.split('\n')) {
    const start = /^ARPING ([0-9.]+) /.exec(line)
    if (start !== null) {
      runs.push({ target: start[1] ?? '', replies: [] })
      continue
    }
    const reply = /^(?:Unicast|Broadcast) reply from ([0-9.]+) \[([0-9A-Fa-f:]+)\]\s+([0-9.]+)ms/.exec(line)
    const current = runs.at(-1)
    if (reply !== null && current !== undefined && reply[1] === current.target) {
      current.replies.push({ mac: (reply[2] ?? '').toLowerCase(), ms: Number(reply[3]) })
    }
  }
  return runs
}

/**
 * Request-to-reply times in microseconds, per target, from `tcpdump -n -tt --time-stamp-precision=nano arp`
 * on the answering side: each request from `client` paired with the next reply for the same address.
 * Requests from anyone else (gratuitous ARP, whose sender is the target itself) are skipped, and so are the
 * first `skip` requests per target (the warm-up); a request still unanswered when the next one for the
 * same target arrives is dropped, so a lost reply never pairs with a later request's reply.
 */
export function wireTimes(capture: string, client: string, targets: readonly string[], skip: number): Map<string, number[]> {
  const times = new Map<string, number[]>(targets.map(t => [t, []]))
  const pending = new Map<string, number>()
  const seen = new Map<string, number>()
  for (const line of capture.split('\n')) {
    const req = /^(\d+)\.(\d{9}) ARP, Request who-has ([0-9.]+) (?:\([0-9a-f:]+\) )?tell ([0-9.]+)/.exec(line)
    if (req !== null) {
      const [, sec = '', ns = '', target = '', sender = ''] = req
      if (sender !== client || !times.has(target)) continue
      const n = (seen.get(target) ?? 0) + 1
      seen.set(target, n)
      // Microseconds since the epoch still fit a double exactly; nanoseconds would not.
      if (n > skip) pending.set(target, Number(sec) * 1e6 + Number(ns) / 1e3)
      else pending.delete(target)
      continue
    }
    const rep = /^(\d+)\.(\d{9}) ARP, Reply ([0-9.]+) is-at/.exec(line)
    if (rep !== null) {
      const [, sec = '', ns = '', target = ''] = rep
      const asked = pending.get(target)
      if (asked === undefined) continue
      pending.delete(target)
      times.get(target)?.push(Number(sec) * 1e6 + Number(ns) / 1e3 - asked)
    }
  }
  return times
}

/** utime + stime, in clock ticks, from the text of /proc/<pid>/stat (proc(5): fields 14 and 15). */
export function statCpuTicks(stat: string): number {
  // The command name (field 2) is in parentheses and may itself contain spaces and ')': state, field 3,
  // starts two characters after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  const utime = Number(fields[14 - 3])
  const stime = Number(fields[15 - 3])
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error(`unexpected /proc stat line: ${stat.slice(0, 80)}`)
  return utime + stime
}
