// Watching Service IPs from the LAN client the way a fault test needs: a broadcast ARP request for every IP
// every few tens of milliseconds, and every reply timed on arrival with the MAC that sent it
// (arp-watch-main.ts does the I/O in the client's netns; iputils arping cannot go below a 1 s interval per
// process, see test/e2e/config-bombs.test.ts). This module is the pure part: what the record says, per IP —
// the longest time without any answer, and every request answered by two MACs.
import path from 'node:path'
import { type ChildProcess, spawn } from 'node:child_process'
import { performance } from 'node:perf_hooks'
import { CLIENT_HOST } from './names.js'
import { inNetns } from './run.js'

export interface ArpWatchRecord {
  /** When the watch started and stopped (ms, the watcher's monotonic clock). */
  readonly startedMs: number
  readonly stoppedMs: number
  readonly intervalMs: number
  /** Requests sent: time and the IP asked for. */
  readonly requests: readonly { readonly t: number; readonly ip: string }[]
  /** Replies heard: arrival time, the IP they claim (sender protocol address) and the sender's MAC. */
  readonly replies: readonly { readonly t: number; readonly ip: string; readonly mac: string }[]
}

export interface IpWatch {
  readonly ip: string
  readonly requests: number
  readonly answered: number
  /** The longest time (ms) with no reply for this IP, from the first request (or `fromMs`) to the end. */
  readonly longestGapMs: number
  /** When that gap began (ms since the watch started). */
  readonly longestGapAtMs: number
  /** Requests whose replies came from two or more MACs. */
  readonly doubleAnswers: number
  /** The first such request, ms since the watch started, and the MACs; null when none. */
  readonly firstDouble: { readonly atMs: number; readonly macs: readonly string[] } | null
  /** The MACs that answered, in the order they took over (a MAC repeats when the IP came back to it). */
  readonly owners: readonly string[]
}

/**
 * Per IP: the replies that arrived between one request and the next are that request's answers (requests go
 * out every intervalMs; a reply takes well under a millisecond on the lab's LAN). Only the span
 * [fromMs, toMs] (ms since the start) counts, e.g. from when the LAN was whole again.
 */
export function analyseArpWatch(rec: ArpWatchRecord, span: { fromMs?: number; toMs?: number } = {}): Map<string, IpWatch> {
  const from = rec.startedMs + (span.fromMs ?? 0)
  const to = Math.min(rec.stoppedMs, rec.startedMs + (span.toMs ?? Infinity))
  const byIp = new Map<string, { requests: number[]; replies: { t: number; mac: string }[] }>()
  const entry = (ip: string) => {
    let e = byIp.get(ip)
    if (!e) { e = { requests: [], replies: [] }; byIp.set(ip, e) }
    return e
  }
  for (const r of rec.requests) if (r.t >= from && r.t <= to) entry(r.ip).requests.push(r.t)
  for (const r of rec.replies) if (r.t >= from && r.t <= to + rec.intervalMs) entry(r.ip).replies.push({ t: r.t, mac: r.mac })
  const out = new Map<string, IpWatch>()
  for (const [ip, { requests, replies }] of byIp) {
    requests.sort((a, b) => a - b)
    replies.sort((a, b) => a.t - b.t)
    let answered = 0
    let doubles = 0
    let firstDouble: IpWatch['firstDouble'] = null
    let j = 0
    for (let i = 0; i < requests.length; i++) {
      const start = requests[i] ?? 0
      const end = requests[i + 1] ?? start + rec.intervalMs
      while (j < replies.length && (replies[j]?.t ?? 0) < start) j++
      const macs = new Set<string>()
      for (let k = j; k < replies.length && (replies[k]?.t ?? 0) < end; k++) macs.add(replies[k]?.mac ?? '')
      if (macs.size > 0) answered++
      if (macs.size > 1) {
        doubles++
        firstDouble ??= { atMs: start - rec.startedMs, macs: [...macs].sort() }
      }
    }
    // Gaps between consecutive replies, and from the start of the span to the first, and from the last to the end.
    const first = requests[0] ?? from
    let prev = first
    let longest = 0
    let longestAt = first
    const owners: string[] = []
    for (const r of replies) {
      if (r.t - prev > longest) { longest = r.t - prev; longestAt = prev }
      prev = Math.max(prev, r.t)
      if (owners.at(-1) !== r.mac) owners.push(r.mac)
    }
    const lastRequest = requests.at(-1) ?? to
    if (lastRequest - prev > longest) { longest = lastRequest - prev; longestAt = prev }
    out.set(ip, {
      ip, requests: requests.length, answered, longestGapMs: longest, longestGapAtMs: longestAt - rec.startedMs,
      doubleAnswers: doubles, firstDouble, owners,
    })
  }
  return out
}

/** One line per IP for a log or a test message. */
export function describeIpWatch(w: IpWatch): string {
  return `${w.ip}: ${w.answered}/${w.requests} answered, longest gap ${Math.round(w.longestGapMs)} ms at +${Math.round(w.longestGapAtMs)} ms, ` +
    `${w.doubleAnswers} answered by two MACs${w.firstDouble ? ` (first at +${Math.round(w.firstDouble.atMs)} ms: ${w.firstDouble.macs.join(' and ')})` : ''}, ` +
    `owners ${w.owners.join(' -> ') || 'none'}`
}

/** A running watch: stop() ends it and returns its record. */
export interface ArpWatch {
  /** ms since the watch started (on our clock, within a few ms of the watcher's): for spans. */
  sinceStartMs(): number
  stop(): Promise<ArpWatchRecord>
}

/**
 * Starts arp-watch-main.ts in the client's netns for `ips`, one request per IP every intervalMs, for at most
 * maxMs (it stops itself then, whatever happens to the caller).
 */
export function startArpWatch(repoRoot: string, ips: readonly string[], opts: { intervalMs?: number; maxMs: number }): Promise<ArpWatch> {
  const intervalMs = opts.intervalMs ?? 20
  const [cmd = 'ip', ...args] = inNetns(CLIENT_HOST.netns, [
    process.execPath, '--import', 'tsx', path.join(repoRoot, 'test/lab/arp-watch-main.ts'),
    'eth0', CLIENT_HOST.ipv4, String(intervalMs), String(opts.maxMs), ...ips,
  ])
  // NODE_OPTIONS cleared: under tap it would load tap's hooks into the watcher too.
  const child: ChildProcess = spawn(cmd, args, { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, NODE_OPTIONS: '' } })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => { out += d.toString() })
  child.stderr?.on('data', (d: Buffer) => { err += d.toString() })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  const hasStarted = (): boolean => out.startsWith('started\n')
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (!hasStarted()) return
      clearInterval(poll)
      const startedAt = performance.now()
      resolve({
        sinceStartMs: () => performance.now() - startedAt,
        stop: async () => {
          child.stdin?.end('stop\n')
          const code = await exited
          const json = out.split('\n').find(l => l.startsWith('{'))
          if (code !== 0 || json === undefined) throw new Error(`arp-watch exited ${String(code)}: ${err.trim().slice(0, 500)}`)
          return JSON.parse(json) as ArpWatchRecord
        },
      })
    }, 10)
    void exited.then(code => {
      clearInterval(poll)
      if (!hasStarted()) reject(new Error(`arp-watch exited ${String(code)} before it started: ${err.trim().slice(0, 500)}`))
    })
  })
}
