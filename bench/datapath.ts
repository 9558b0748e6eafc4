// The speaker's ARP data path beside the kernel's, measured in one run, against two goals: an ARP reply within
// 1.2x of the kernel's own (p50), and a kernel BPF filter so that ARP floods for other IPs cost no user-space CPU.
//
// Two network namespaces joined by a veth pair: the node (192.0.2.211/24) runs the speaker's real
// ArpResponder in a child process announcing 192.0.2.241; the client (192.0.2.212/24) runs iputils arping.
//  1. Reply latency: one arping per probe (iputils `-i` takes whole seconds and `-i 0` sends a single probe,
//     so back-to-back probes mean one process each), alternating the kernel's own address, the speaker's and a
//     minimal Node responder's over the same addon (datapath-agent.ts `minimal`, issue 12's baseline: the
//     speaker within 1.25x of it) in ABCCBA order so that whatever else loads the machine lands on all alike. arping times each reply
//     itself (send to receive, in its process), so its start-up cost is not in the figures; but arping adds
//     about half a millisecond of its own to every reply, the kernel's included, which compresses the ratio.
//     So, when tcpdump is there, the same probes are also timed on the node's wire (kernel timestamps,
//     request in to reply out): the responder's reaction time beside the kernel's, without arping around it.
//  2. Flood cost: bounded bursts from a packet socket in the client namespace, of ARP replies (the BPF
//     filter drops them in the kernel) and of ARP requests for an IP the responder does not announce (they
//     reach user space and are dropped as not-announced); the responder child's CPU time is read from
//     /proc before and after each burst, beside an idle window of about the same length: utime + stime from
//     /proc/<pid>/stat (what `ps` and `top` show, in 10 ms clock ticks, which can read 0 or 10 for the same
//     work) and the on-CPU time of every thread from /proc/<pid>/task/*/schedstat (ns).
// Needs root, `ip netns`, iputils arping and the built addon; otherwise the group says why and measures
// nothing.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { setTimeout as sleep } from 'node:timers/promises'
import { ADDON_PATH } from '../native/index.js'
import { compared, round, type Figure, type RunGroup } from './lib/figures.js'
import { parseArpingRuns, percentile, statCpuTicks, wireTimes } from './lib/datapath-parse.js'
import { Agent, type AgentEvent } from '../test/lib/json-agent.js'
import { shippedNodeFlags } from './lib/shipped-args.js'

const NODE_IP = '192.0.2.211'
const CLIENT_IP = '192.0.2.212'
const VIP = '192.0.2.241'
/** Answered by the minimal responder beside the speaker's (bench/lib/datapath-agent.ts `minimal`). */
const MINIMAL_VIP = '192.0.2.242'
/** Asked for in the request flood; announced by nobody. */
const OTHER_IP = '192.0.2.243'
const NODE_IF = 'tbench-n'
const CLIENT_IF = 'tbench-c'

/** Probes per target, after WARMUP_ROUNDS discarded rounds; each probe waits at most 1 s for its reply. */
const PROBES = 60
const WARMUP_ROUNDS = 2
/** The whole probe loop is killed after this, whatever is left. */
const PROBE_LOOP_MAX_MS = 60_000
/** Frames per flood burst, and the burst's time limit (the agent caps both again). */
const FLOOD_FRAMES = 20_000
const FLOOD_MAX_MS = 5_000
const FLOOD_BATCH = 50
const FLOOD_GAP_MS = 1
/** After a burst, time for the responder to drain its socket before its CPU time is read again. */
const SETTLE_MS = 300

const exec = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const repoRoot = path.resolve(here, '..')
const agentPath = path.join(here, 'lib', 'datapath-agent.ts')

interface Lab {
  readonly nodeNs: string
  readonly clientNs: string
}

async function skipReason(): Promise<string | null> {
  if (process.platform !== 'linux') return 'not Linux'
  if (process.getuid?.() !== 0) return 'not root (network namespaces and packet sockets need it)'
  if (!existsSync(ADDON_PATH)) return `the packet addon is not built (${ADDON_PATH}): npm run install`
  try {
    await exec('ip', ['netns', 'list'])
  } catch (err) {
    return `ip netns does not work: ${err instanceof Error ? err.message : String(err)}`
  }
  try {
    const { stdout } = await exec('arping', ['-V'])
    if (!stdout.includes('iputils')) return 'arping is not iputils arping (apt-get install -y iputils-arping)'
  } catch {
    return 'iputils arping is not installed (apt-get install -y iputils-arping)'
  }
  if (!existsSync('/proc/self/stat')) return 'no /proc to read CPU time from'
  return null
}

async function createLab(lab: Lab): Promise<void> {
  await exec('ip', ['netns', 'add', lab.nodeNs])
  await exec('ip', ['netns', 'add', lab.clientNs])
  // Created directly inside the namespaces: the root namespace never holds either end, even briefly.
  await exec('ip', ['link', 'add', NODE_IF, 'netns', lab.nodeNs, 'type', 'veth', 'peer', 'name', CLIENT_IF, 'netns', lab.clientNs])
  await exec('ip', ['-n', lab.nodeNs, 'addr', 'add', `${NODE_IP}/24`, 'dev', NODE_IF])
  await exec('ip', ['-n', lab.clientNs, 'addr', 'add', `${CLIENT_IP}/24`, 'dev', CLIENT_IF])
  for (const [ns, dev] of [[lab.nodeNs, NODE_IF], [lab.clientNs, CLIENT_IF]] as const) {
    await exec('ip', ['-n', ns, 'link', 'set', 'lo', 'up'])
    await exec('ip', ['-n', ns, 'link', 'set', dev, 'up'])
  }
}

/** Synchronous so that it also works from a signal handler that exits right after. Deletes only ours. */
function deleteLab(lab: Lab): void {
  for (const ns of [lab.nodeNs, lab.clientNs]) {
    try {
      execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
    } catch {
      // not created, or already gone
    }
  }
}

function killPid(pid: number | undefined): void {
  if (pid === undefined) return
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

function startAgent(ns: string, role: 'responder' | 'minimal' | 'flood', env: Record<string, string>): Agent {
  // `ip netns exec` execs the command, so the child's pid is the agent's own: its /proc entry is what we read.
  // The responder runs with the node flags config/default gives the speaker (its V8 memory and compiler
  // settings), so the reply cost measured is the one that ships.
  // L2LB_BENCH_CPU_PROF=DIR: both responders also write a V8 CPU profile there (50 us sampling) when they end,
  // to see where a reply's time goes (open it in Chrome DevTools, or sum self time per function).
  const prof = process.env.L2LB_BENCH_CPU_PROF
  const flags = role === 'flood' ? []
    : [...shippedNodeFlags('speaker'), ...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`, `--cpu-prof-name=${role}.cpuprofile`, '--cpu-prof-interval=50'] : [])]
  return new Agent(spawn('ip', ['netns', 'exec', ns, process.execPath, ...flags, '--import', 'tsx', agentPath, role], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
  }))
}

interface CpuSample {
  /** utime + stime of every thread, /proc/<pid>/stat, in ms (clock-tick granularity, usually 10 ms). */
  statMs: number
  /** Time on CPU of every thread, summed from /proc/<pid>/task/<tid>/schedstat (ns precision), in ms. */
  runMs: number | null
}

function cpuOf(pid: number, hz: number): CpuSample {
  const ticks = statCpuTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  let runNs: number | null = 0
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      const first = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ')[0]
      runNs += Number(first)
    }
  } catch {
    runNs = null // kernels without schedstats
  }
  return { statMs: (ticks * 1000) / hz, runMs: runNs === null ? null : runNs / 1e6 }
}

/** USER_HZ: 100 on every Linux architecture that matters here, but asked rather than assumed. */
function clockTicksPerSecond(): number {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim())
    return Number.isFinite(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
}

function cpuDelta(a: CpuSample, b: CpuSample): CpuSample {
  return { statMs: b.statMs - a.statMs, runMs: a.runMs === null || b.runMs === null ? null : b.runMs - a.runMs }
}

interface ProbeResults {
  /** Reply times in ms per target, in probe order. */
  times: Map<string, number[]>
  unanswered: Map<string, number>
  /** MACs seen answering, per target. */
  macs: Map<string, Set<string>>
}

/**
 * One shell in the client namespace runs every probe (an `ip netns exec` per probe would cost far more
 * than the probes), ABBA order. Bounded: PROBES + WARMUP_ROUNDS rounds, arping -w 1 each, and the whole
 * loop killed (by pid) after PROBE_LOOP_MAX_MS.
 */
async function probe(lab: Lab, targets: readonly string[], track: (c: ChildProcess) => void): Promise<ProbeResults> {
  // Each round asks every target once, in forward order on even rounds and backward on odd ones (ABBA for
  // two, ABCCBA for three), so that whatever else loads the machine lands on every target alike.
  const script = [
    'i=0; rounds=$1; dev=$2; shift 2',
    'while [ "$i" -lt "$rounds" ]; do',
    '  if [ $((i % 2)) -eq 0 ]; then order="$*"; else order=""; for t in "$@"; do order="$t $order"; done; fi',
    '  for t in $order; do arping -c 1 -w 1 -I "$dev" "$t"; done',
    '  i=$((i + 1))',
    'done',
  ].join('\n')
  const rounds = PROBES + WARMUP_ROUNDS
  const sh = spawn('ip', ['netns', 'exec', lab.clientNs, 'sh', '-c', script, 'probe', String(rounds), CLIENT_IF, ...targets], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  track(sh)
  let out = ''
  let err = ''
  sh.stdout.on('data', (d: Buffer) => { out += d.toString() })
  sh.stderr.on('data', (d: Buffer) => { err = (err + d.toString()).slice(-2000) })
  // arping exits 1 for an unanswered probe and the loop's status is the last arping's: only a failure to
  // run at all, or the time limit, is an error.
  const status = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      killPid(sh.pid)
      reject(new Error(`the probe loop took longer than ${PROBE_LOOP_MAX_MS} ms`))
    }, PROBE_LOOP_MAX_MS)
    sh.on('error', e => { clearTimeout(timer); reject(e) })
    // 'close', not 'exit': by then stdout has been read to the end.
    sh.on('close', code => { clearTimeout(timer); resolve(code) })
  })
  if (status !== 0 && status !== 1) throw new Error(`the probe loop failed (exit ${status}): ${err.trim()}`)
  const runs = parseArpingRuns(out)
  const result: ProbeResults = { times: new Map(), unanswered: new Map(), macs: new Map() }
  for (const t of targets) {
    result.times.set(t, [])
    result.unanswered.set(t, 0)
    result.macs.set(t, new Set())
  }
  const measured = runs.slice(2 * WARMUP_ROUNDS)
  for (const r of measured) {
    const first = r.replies[0]
    if (first === undefined) {
      result.unanswered.set(r.target, (result.unanswered.get(r.target) ?? 0) + 1)
      continue
    }
    result.times.get(r.target)?.push(first.ms)
    result.macs.get(r.target)?.add(first.mac)
  }
  // A loop cut short leaves probes that never ran: they count as unanswered, not as missing.
  for (const t of targets) {
    const ran = measured.filter(r => r.target === t).length
    result.unanswered.set(t, (result.unanswered.get(t) ?? 0) + Math.max(0, PROBES - ran))
  }
  return result
}

/** Packets the wire capture stops after, whatever happens: the probes need about 4 x (PROBES + WARMUP_ROUNDS). */
const CAPTURE_MAX_PACKETS = 2_000

interface WireCapture {
  /** Stops the capture (SIGTERM by pid, so tcpdump flushes) and returns its output. */
  stop(): Promise<string>
}

/**
 * tcpdump on the node's interface, kernel timestamps in ns: the time from a request arriving to its reply
 * leaving, the responder's own reaction time without arping's (large, constant) overhead around it. Null
 * when tcpdump is missing or does not start: the wire figures are then left out, not guessed.
 */
async function startCapture(lab: Lab, track: (c: ChildProcess) => void, log: (line: string) => void): Promise<WireCapture | null> {
  const dump = spawn('ip', ['netns', 'exec', lab.nodeNs, 'tcpdump', '-i', NODE_IF, '-n', '-l', '-tt', '--time-stamp-precision=nano',
    '-c', String(CAPTURE_MAX_PACKETS), 'arp'], { stdio: ['ignore', 'pipe', 'pipe'] })
  track(dump)
  let out = ''
  let err = ''
  dump.stdout.on('data', (d: Buffer) => { out += d.toString() })
  dump.stderr.on('data', (d: Buffer) => { err += d.toString() })
  const closed = new Promise<void>(resolve => dump.on('close', () => resolve()))
  dump.on('error', () => undefined) // ENOENT shows up as the early close below
  const end = performance.now() + 5_000
  while (!err.includes('listening on') && dump.exitCode === null && dump.signalCode === null && performance.now() < end) await sleep(20)
  if (!err.includes('listening on')) {
    killPid(dump.pid)
    log(`no wire capture (tcpdump did not start: ${err.trim().split('\n').pop() ?? 'no output'}): wire figures left out`)
    return null
  }
  return {
    stop: async () => {
      if (dump.exitCode === null && dump.signalCode === null && dump.pid !== undefined) process.kill(dump.pid, 'SIGTERM')
      const timer = setTimeout(() => killPid(dump.pid), 3_000)
      await closed
      clearTimeout(timer)
      return out
    },
  }
}

/** Every frame the responder's user space saw: answered requests plus every drop reason. */
function framesSeen(stats: unknown): number {
  let n = 0
  for (const key of ['requestsReceived', 'drops'] as const) {
    const m: unknown = typeof stats === 'object' && stats !== null ? Reflect.get(stats, key) : undefined
    if (typeof m !== 'object' || m === null) continue
    for (const v of Object.values(m)) if (typeof v === 'number') n += v
  }
  return n
}

function dropCount(stats: unknown, reason: string): number {
  const drops: unknown = typeof stats === 'object' && stats !== null ? Reflect.get(stats, 'drops') : undefined
  const v: unknown = typeof drops === 'object' && drops !== null ? Reflect.get(drops, reason) : undefined
  return typeof v === 'number' ? v : 0
}

interface Window {
  cpu: CpuSample
  seen: number
  notRequest: number
  sent: number
  sendErrors: number
  ms: number
}

async function statsOf(resp: Agent, id: number): Promise<AgentEvent['stats']> {
  resp.send({ cmd: 'stats', id })
  return (await resp.next('stats')).stats
}

/**
 * Responder CPU time across `act` plus SETTLE_MS. The stats round trip (itself a little responder CPU) is
 * outside the window: counters are read before the first CPU sample and after the second.
 */
async function cpuWindow(resp: Agent, pid: number, hz: number, id: number, act: () => Promise<{ sent: number; errors: number }>): Promise<Window> {
  const before = await statsOf(resp, id)
  const t0 = performance.now()
  const c0 = cpuOf(pid, hz)
  const { sent, errors } = await act()
  await sleep(SETTLE_MS)
  const c1 = cpuOf(pid, hz)
  const ms = performance.now() - t0
  const after = await statsOf(resp, id + 1)
  return {
    cpu: cpuDelta(c0, c1),
    seen: framesSeen(after) - framesSeen(before),
    notRequest: dropCount(after, 'not-request') - dropCount(before, 'not-request'),
    sent,
    sendErrors: errors,
    ms,
  }
}

async function flood(flooder: Agent, id: number, kind: 'reply' | 'request'): Promise<{ sent: number; errors: number }> {
  flooder.send({
    cmd: 'flood', id, kind, count: FLOOD_FRAMES, maxMs: FLOOD_MAX_MS, batch: FLOOD_BATCH, gapMs: FLOOD_GAP_MS,
    spa: CLIENT_IP, tpa: OTHER_IP,
  })
  const done = await flooder.next('flooded', FLOOD_MAX_MS + 10_000)
  return { sent: Number(done.sent), errors: Number(done.errors) }
}

async function measure(lab: Lab, children: Agent[], track: (c: ChildProcess) => void, log: (line: string) => void): Promise<Figure[]> {
  log(`responder: node ${[...shippedNodeFlags('speaker'), '--import tsx'].join(' ')} (the speaker's flags in config/default)`)
  const resp = startAgent(lab.nodeNs, 'responder', { L2LB_TBENCH_IF: NODE_IF, L2LB_TBENCH_IPS: VIP })
  children.push(resp)
  const flooder = startAgent(lab.clientNs, 'flood', { L2LB_TBENCH_IF: CLIENT_IF })
  children.push(flooder)
  const minimal = startAgent(lab.nodeNs, 'minimal', { L2LB_TBENCH_IF: NODE_IF, L2LB_TBENCH_IPS: MINIMAL_VIP })
  children.push(minimal)
  await minimal.next('ready', 30_000)
  const ready = await resp.next('ready', 30_000)
  await flooder.next('ready', 30_000)
  const pid = Number(ready.pid)
  const nodeMac = String(ready.mac).replace(/(..)(?!$)/g, '$1:')
  log(`responder pid ${pid} on ${NODE_IF} (${nodeMac}) in ${lab.nodeNs}, announcing ${VIP}`)

  // 1. Reply latency, kernel and speaker interleaved.
  const t0 = performance.now()
  const capture = await startCapture(lab, track, log)
  const p = await probe(lab, [NODE_IP, VIP, MINIMAL_VIP], track)
  // tcpdump stops on SIGTERM without reading what the kernel still holds for it: give it the last replies.
  if (capture !== null) await sleep(300)
  const captured = capture === null ? null : await capture.stop()
  const kernel = [...(p.times.get(NODE_IP) ?? [])].sort((a, b) => a - b)
  const speaker = [...(p.times.get(VIP) ?? [])].sort((a, b) => a - b)
  const kernelLost = p.unanswered.get(NODE_IP) ?? 0
  const speakerLost = p.unanswered.get(VIP) ?? 0
  log(`${PROBES} probes per target (+${WARMUP_ROUNDS} warm-up rounds) in ${((performance.now() - t0) / 1000).toFixed(1)} s`)
  for (const [name, ip, sorted, lost] of [['kernel', NODE_IP, kernel, kernelLost], ['speaker', VIP, speaker, speakerLost]] as const) {
    const macs = [...(p.macs.get(ip) ?? [])].join(',') || '-'
    log(`${name} ${ip}: ${sorted.length} replies from ${macs}, ${lost} unanswered; ms min ${sorted[0] ?? NaN} p50 ${percentile(sorted, 50)} p90 ${percentile(sorted, 90)} max ${sorted.at(-1) ?? NaN}`)
  }
  const wrongMac = [...(p.macs.get(VIP) ?? [])].filter(m => m !== nodeMac)
  if (wrongMac.length > 0) throw new Error(`replies for ${VIP} from ${wrongMac.join(',')}, not the responder's ${nodeMac}`)
  const figures: Figure[] = []
  if (kernel.length > 0 && speaker.length > 0) {
    const k50 = percentile(kernel, 50)
    const k90 = percentile(kernel, 90)
    figures.push(
      compared('datapath.arp_reply_p50', percentile(speaker, 50), 'ms', 'kernel ARP reply p50', k50),
      compared('datapath.arp_reply_p90', percentile(speaker, 90), 'ms', 'kernel ARP reply p90', k90),
      { name: 'datapath.kernel_arp_reply_p50', value: k50, unit: 'ms' },
    )
  } else {
    log('no replies from one of the targets: no latency figures')
  }
  if (captured !== null) {
    const wire = wireTimes(captured, CLIENT_IP, [NODE_IP, VIP, MINIMAL_VIP], WARMUP_ROUNDS)
    const kw = [...(wire.get(NODE_IP) ?? [])].sort((a, b) => a - b)
    const sw = [...(wire.get(VIP) ?? [])].sort((a, b) => a - b)
    const mw = [...(wire.get(MINIMAL_VIP) ?? [])].sort((a, b) => a - b)
    const us = (v: number): string => v.toFixed(1)
    log(`on the node's wire (tcpdump, request in to reply out): kernel ${kw.length} pairs, us min ${us(kw[0] ?? NaN)} p50 ${us(percentile(kw, 50))} p90 ${us(percentile(kw, 90))}; ` +
      `speaker ${sw.length} pairs, us min ${us(sw[0] ?? NaN)} p50 ${us(percentile(sw, 50))} p90 ${us(percentile(sw, 90))}`)
    log(`  minimal responder over the same addon (${MINIMAL_VIP}): ${mw.length} pairs, us min ${us(mw[0] ?? NaN)} p50 ${us(percentile(mw, 50))} p90 ${us(percentile(mw, 90))}`)
    if (kw.length > 0 && sw.length > 0) {
      figures.push(
        compared('datapath.wire_reply_p50', round(percentile(sw, 50), 1), 'us', 'kernel wire reply p50', round(percentile(kw, 50), 1)),
        compared('datapath.wire_reply_p90', round(percentile(sw, 90), 1), 'us', 'kernel wire reply p90', round(percentile(kw, 90), 1)),
      )
    }
    if (mw.length > 0 && sw.length > 0) {
      // Issue 12's goal: the speaker's reply within 1.25x of the least a Node responder over the same addon does.
      figures.push(
        compared('datapath.wire_reply_vs_minimal_p50', round(percentile(sw, 50), 1), 'us', 'minimal responder wire reply p50', round(percentile(mw, 50), 1)),
        compared('datapath.wire_reply_vs_minimal_p90', round(percentile(sw, 90), 1), 'us', 'minimal responder wire reply p90', round(percentile(mw, 90), 1)),
      )
    }
  }
  figures.push(
    { name: 'datapath.probes_per_target', value: PROBES, unit: 'probes' },
    { name: 'datapath.unanswered_probes', value: speakerLost, unit: 'probes' },
    { name: 'datapath.kernel_unanswered_probes', value: kernelLost, unit: 'probes' },
  )

  // 2. Flood cost. The idle window first, as long as a burst window will roughly be.
  const hz = clockTicksPerSecond()
  const idle = await cpuWindow(resp, pid, hz, 100, async () => {
    await sleep(600)
    return { sent: 0, errors: 0 }
  })
  const replies = await cpuWindow(resp, pid, hz, 200, () => flood(flooder, 201, 'reply'))
  const requests = await cpuWindow(resp, pid, hz, 300, () => flood(flooder, 301, 'request'))
  const fmt = (w: Window): string =>
    `${w.sent} sent (${w.sendErrors} send errors), ${w.seen} reached user space, window ${w.ms.toFixed(0)} ms, ` +
    `responder CPU ${w.cpu.statMs} ms by /proc stat, ${w.cpu.runMs === null ? '?' : w.cpu.runMs.toFixed(2)} ms on CPU by schedstat`
  log(`idle: ${fmt(idle)}`)
  log(`ARP replies (BPF-filtered): ${fmt(replies)}`)
  log(`ARP requests for ${OTHER_IP} (not announced): ${fmt(requests)}`)
  if (replies.notRequest > 0) log(`${replies.notRequest} replies reached user space: the kernel filter let them through`)
  figures.push(
    { name: 'datapath.idle_cpu_ms', value: round(idle.cpu.statMs, 1), unit: 'ms' },
    { name: 'datapath.flood_replies_frames_sent', value: replies.sent, unit: 'frames' },
    { name: 'datapath.flood_replies_frames_to_user_space', value: replies.seen, unit: 'frames' },
    { name: 'datapath.flood_replies_cpu_ms', value: round(replies.cpu.statMs, 1), unit: 'ms' },
    { name: 'datapath.flood_requests_other_ip_frames_sent', value: requests.sent, unit: 'frames' },
    { name: 'datapath.flood_requests_other_ip_frames_to_user_space', value: requests.seen, unit: 'frames' },
    { name: 'datapath.flood_requests_other_ip_cpu_ms', value: round(requests.cpu.statMs, 1), unit: 'ms' },
  )
  if (idle.cpu.runMs !== null && replies.cpu.runMs !== null && requests.cpu.runMs !== null) {
    figures.push(
      { name: 'datapath.idle_oncpu_ms', value: round(idle.cpu.runMs, 2), unit: 'ms' },
      { name: 'datapath.flood_replies_oncpu_ms', value: round(replies.cpu.runMs, 2), unit: 'ms' },
      { name: 'datapath.flood_requests_other_ip_oncpu_ms', value: round(requests.cpu.runMs, 2), unit: 'ms' },
    )
    if (requests.seen > 0) {
      const perFrame = ((requests.cpu.runMs - (idle.cpu.runMs * requests.ms) / idle.ms) * 1000) / requests.seen
      figures.push({ name: 'datapath.flood_requests_other_ip_cpu_us_per_frame', value: round(perFrame, 2), unit: 'us' })
    }
  }
  return figures
}

export const run: RunGroup = async log => {
  const reason = await skipReason()
  if (reason !== null) {
    log(`skipped: ${reason}`)
    return []
  }
  const lab: Lab = { nodeNs: `l2lb-tbench-node-${process.pid}`, clientNs: `l2lb-tbench-client-${process.pid}` }
  const children: Agent[] = []
  const others: ChildProcess[] = []
  const cleanUp = (): void => {
    for (const c of children) c.kill()
    for (const c of others) if (c.exitCode === null && c.signalCode === null) killPid(c.pid)
    deleteLab(lab)
  }
  // Interrupted runs still remove their namespaces (and children, by pid) before exiting.
  const onSignal = (signal: NodeJS.Signals): void => {
    cleanUp()
    process.exit(signal === 'SIGINT' ? 130 : 143)
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await createLab(lab)
    return await measure(lab, children, c => others.push(c), log)
  } finally {
    await Promise.all(children.map(c => { c.end(); return c.exited() }))
    cleanUp()
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
