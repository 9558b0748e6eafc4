// Issue "No ConfigMap, however large or malformed, takes l2lb down", done-when: the lab's speakers keep
// answering ARP throughout while the pool ConfigMap is replaced by each of bench/lib/config-cases.ts's worst
// configs in turn. One lab (stand-in API server, what a fresh machine runs): the sample pool and the ingress
// Service; a background ARP monitor from l2lb-client (several staggered `arping -b` streams, one probe every
// ~100 ms in all, each reply timed on arrival with its MAC); then for each case the machine's kubectl puts it in
// the ConfigMap's `config` key (`kubectl apply --server-side`: no 1 MiB last-applied annotation) and the
// sample goes back after a few seconds. Checked per case: the Service's IP answered with no gap over
// MAX_GAP_MS and by one MAC only; controller and speakers alive with the PIDs (and start times) .lab/state.json
// gave them; for a bad case the controller's l2lb_k8s_client_config_stale_bool is 1, an InvalidConfig Event
// is new, every speaker logged that it keeps its last good config, and a new Service gets an address from the
// last good pool (unless the API server refused the case: that outcome is recorded and fine); stale back to 0
// once the sample is back. Reported per case: peak RSS (VmHWM) and CPU time of the controller and speakers,
// which run as they ship (no tap hooks); checked: the peak stays under config/default's memory limit. The
// cases the parser accepts (10,000 pools; 55,000 /32) would take the Service's address away legitimately, so
// they go in with the sample pool added (in place of their last pool where they are at CONFIG_LIMITS.pools):
// a valid config the Service keeps its address under.
// Needs root and network namespaces; skipped (with the reason) otherwise, like lab.test.ts.
import t, { type Test } from 'tap'
import path from 'node:path'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { waitForExternalIP, type Lab } from '../lab/lab.js'
import { labForTest, labSkipReason } from '../lab/e2e-lab.js'
import { walkService, ipInPoolEntry } from '../lab/flow.js'
import { inNetns, runAllowingFailure, sleep, waitFor } from '../lab/run.js'
import { loadState } from '../lab/state.js'
import { isAlive } from '../lab/processes.js'
import { APISERVER_HOST, CLIENT_HOST } from '../lab/names.js'
import { CONFIG_CASES } from '../../bench/lib/config-cases.js'
import { CONFIG_LIMITS, parsePoolConfig } from '../../internal/core/pool-config.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const SAMPLE_POOL = path.join(repoRoot, 'config', 'samples', 'pool-configmap.yaml')
const SAMPLE_SERVICE = path.join(repoRoot, 'config', 'samples', 'ingress-service.yaml')
const DEFAULT_POOL = ['192.0.2.240-192.0.2.250', '2001:db8:0:1::f0/124']
/** config/samples/pool-configmap.yaml's pool, as a block-style list item. */
const SAMPLE_POOL_ITEM = `- name: default\n  protocol: layer2\n  addresses:\n${DEFAULT_POOL.map(a => `  - ${a}\n`).join('')}`

/**
 * The longest time the Service's IP may go without an ARP answer while a config goes by, refused or valid. The
 * speakers read configs on a thread of their own (speaker/config-parser.ts): even the largest valid ones
 * (10,000 pools; 55,000 /32, ~0.9 MB) block the answering thread for tens of ms (they blocked it 0.4-1.3 s
 * before). The bound leaves room for a 2-core machine running the controller and three speakers at once.
 */
const MAX_GAP_MS = 1000
/** ARP streams, started this far apart: one probe every ~100 ms in all (iputils arping's interval is whole seconds). */
const ARP_STREAMS = 10
const ARP_SPACING_MS = 100
/** Each arping stops by itself after this long, whatever happens to the test. */
const ARP_MAX_S = 360
/** How long each case stays in the ConfigMap, at least, after it is applied. */
const HOLD_MS = 3000
const CONTROLLER_METRICS = `http://${APISERVER_HOST.ipv4}:7472/metrics`

interface BombCase {
  readonly name: string
  readonly what: string
  readonly text: string
  /** The parser accepts it: the controller takes it, no stale, no InvalidConfig. */
  readonly valid: boolean
  /** For a valid case: the pools the controller should then count addresses of. */
  readonly pools: number
}

interface CaseReport {
  name: string
  bytes: number
  outcome: string
  gapMs: number
  /** When the longest gap began, from the moment the case was applied (negative: before). */
  gapAfterApplyMs: number
  replies: number
  macs: string[]
  rss: Record<string, { hwmKiB: number; rssKiB: number }>
  /** CPU time each program used while the case was in (from apply to the sample back), ms. */
  cpuMs: Record<string, number>
  seconds: number
}


/**
 * A valid case with the sample pool added first, so the Service keeps its address; where the case already
 * has the most pools allowed, its last pool makes room. Null when the text is not of that shape.
 */
function withSamplePool(text: string, pools: number): string | null {
  const head = 'address-pools:\n'
  if (!text.startsWith(head)) return null
  let out = head + SAMPLE_POOL_ITEM + text.slice(head.length)
  if (pools + 1 > CONFIG_LIMITS.pools) {
    const last = out.lastIndexOf('\n- ')
    if (last < 0) return null
    out = out.slice(0, last + 1)
  }
  return out
}

function prepareCases(t: Test): BombCase[] {
  const cases: BombCase[] = []
  for (const c of CONFIG_CASES) {
    if (c.name === 'sample') continue // the baseline, and what goes back after every case
    const text = c.text()
    const parsed = parsePoolConfig(text)
    if (!parsed.ok) {
      cases.push({ name: c.name, what: c.what, text, valid: false, pools: 0 })
      continue
    }
    const variant = withSamplePool(text, parsed.config.pools.length)
    const checked = variant === null ? null : parsePoolConfig(variant)
    const ok = variant !== null && checked !== null && checked.ok && checked.config.pools.some(p => p.name === 'default')
    t.ok(ok, `${c.name} is valid: with the sample pool added it is still valid and holds pool default`)
    if (!ok || variant === null || checked === null || !checked.ok) continue
    cases.push({
      name: `${c.name}+sample`, what: `${c.what}, with the sample pool`, text: variant, valid: true, pools: checked.config.pools.length,
    })
  }
  return cases
}

/** Replies to broadcast ARP requests for one IP, timed on arrival, from ARP_STREAMS staggered arping processes. */
class ArpMonitor {
  /** Each reply: when it arrived and from which MAC. */
  readonly replies: { at: number; mac: string }[] = []
  readonly #children: ChildProcess[] = []
  readonly #errors: string[] = []

  async start(ip: string): Promise<void> {
    // Every arping sees every reply on eth0 (it matches replies by address, not by its own probes), so one
    // stream's output is the whole picture (its round-trip times are not: they count from its own last
    // probe) and the others only send, quietly. With -w, -c counts replies, ARP_STREAMS a second.
    for (let i = 0; i < ARP_STREAMS; i++) {
      const argv = inNetns(CLIENT_HOST.netns, [
        'arping', '-b', ...(i === 0 ? [] : ['-q']), '-c', String(ARP_MAX_S * ARP_STREAMS * 2), '-w', String(ARP_MAX_S), '-I', 'eth0', ip,
      ])
      const child = spawn(argv[0] ?? 'ip', argv.slice(1), { stdio: ['ignore', i === 0 ? 'pipe' : 'ignore', 'pipe'] })
      child.on('error', err => this.#errors.push(err.message))
      child.stderr?.on('data', (d: Buffer) => { if (this.#errors.length < 20) this.#errors.push(d.toString().trim()) })
      if (child.stdout) {
        createInterface({ input: child.stdout }).on('line', line => {
          const at = Date.now()
          const m = /reply from (\S+) \[([0-9A-Fa-f:]{17})\]/.exec(line)
          if (m?.[1] === ip && m[2] !== undefined) this.replies.push({ at, mac: m[2].toLowerCase() })
        })
      }
      this.#children.push(child)
      await sleep(ARP_SPACING_MS)
    }
  }

  get errors(): readonly string[] {
    return this.#errors
  }

  /** Stops every arping it started, by its PID (the child itself: `ip netns exec` execs arping). */
  async stop(): Promise<void> {
    await Promise.all(this.#children.map(async child => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
      child.kill('SIGTERM')
      const done = await Promise.race([exited.then(() => true), sleep(3000).then(() => false)])
      if (!done) child.kill('SIGKILL')
    }))
  }

  /** The longest time in [from, to] without a reply (the last reply before `from` counts as its start). */
  /** Replies in [from, to] from a MAC other than `mac`: how many, and the first and last, from `from`. */
  others(mac: string, from: number, to: number): string[] {
    const by = new Map<string, number[]>()
    for (const r of this.replies) if (r.at > from && r.at <= to && r.mac !== mac) by.set(r.mac, [...(by.get(r.mac) ?? []), r.at - from])
    return [...by].map(([m, ats]) => `${m}: ${ats.length} replies, ${ats[0] ?? 0}-${ats.at(-1) ?? 0} ms into the case`)
  }

  window(from: number, to: number): { gapMs: number; gapStart: number; replies: number; macs: string[] } {
    const before = this.replies.filter(r => r.at <= from).at(-1)
    let prev = before === undefined ? from : before.at
    let gap = 0
    let gapStart = prev
    const inside = this.replies.filter(r => r.at > from && r.at <= to)
    for (const at of [...inside.map(r => r.at), to]) {
      if (at - prev > gap) { gap = at - prev; gapStart = prev }
      prev = at
    }
    return { gapMs: gap, gapStart, replies: inside.length, macs: [...new Set(inside.map(r => r.mac))] }
  }
}

async function controllerMetrics(): Promise<string> {
  const r = await runAllowingFailure(inNetns(APISERVER_HOST.netns, ['curl', '-s', '--max-time', '5', CONTROLLER_METRICS]), { timeoutMs: 8000 })
  return r.stdout
}

function staleOf(metrics: string): number | null {
  const m = /^l2lb_k8s_client_config_stale_bool(?:\{\})? (\S+)$/m.exec(metrics)
  return m?.[1] === undefined ? null : Number(m[1])
}

/** The pools the controller counts addresses of: the config in force. */
function poolsOf(metrics: string): string[] {
  return [...metrics.matchAll(/^l2lb_allocator_addresses_total\{pool="([^"]*)"\} /gm)].map(m => m[1] ?? '')
}

/** InvalidConfig Events about the pool ConfigMap: name -> resourceVersion (a repeat bumps count, so the version). */
async function invalidConfigEvents(lab: Lab): Promise<Map<string, string>> {
  const list: unknown = JSON.parse(await lab.kubectl(['get', 'events', '-n', 'l2lb-system', '-o', 'json']))
  const out = new Map<string, string>()
  const items = typeof list === 'object' && list !== null && 'items' in list && Array.isArray(list.items) ? list.items as unknown[] : []
  for (const ev of items) {
    if (typeof ev !== 'object' || ev === null) continue
    const e = ev as { reason?: unknown; involvedObject?: { name?: unknown }; metadata?: { name?: unknown; resourceVersion?: unknown } }
    if (e.reason !== 'InvalidConfig' || e.involvedObject?.name !== 'config') continue
    out.set(String(e.metadata?.name), String(e.metadata?.resourceVersion))
  }
  return out
}

function procStatus(pid: number): { hwmKiB: number; rssKiB: number } {
  try {
    const s = readFileSync(`/proc/${pid}/status`, 'utf8')
    return { hwmKiB: Number(/^VmHWM:\s+(\d+)/m.exec(s)?.[1] ?? NaN), rssKiB: Number(/^VmRSS:\s+(\d+)/m.exec(s)?.[1] ?? NaN) }
  } catch {
    return { hwmKiB: NaN, rssKiB: NaN }
  }
}

/** /proc/PID/stat's fields from the third on (after "pid (comm) "), or [] when the process is gone. */
function statFields(pid: number): string[] {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  } catch {
    return []
  }
}

/** Field 22 of /proc/PID/stat (start time, in clock ticks since boot): a restarted process under a reused PID differs. */
function startTime(pid: number): string {
  return statFields(pid)[19] ?? ''
}

/** utime + stime (fields 14 and 15), in ms: USER_HZ is 100 on Linux. */
function cpuMs(pid: number): number {
  const f = statFields(pid)
  return (Number(f[11] ?? NaN) + Number(f[12] ?? NaN)) * 10
}

/** config/default's memory limit for a component, in KiB. */
async function memoryLimitKiB(file: string): Promise<number> {
  const text = await readFile(path.join(repoRoot, 'config', 'default', file), 'utf8')
  const m = /limits:\s*\{[^}]*memory:\s*(\d+)(Mi|Gi)/.exec(text)
  if (m?.[1] === undefined) return Infinity
  return Number(m[1]) * (m[2] === 'Gi' ? 1024 * 1024 : 1024)
}

/** The speakers' log lines (pino JSON) of [from, to] about membership and announcing, for a failure message. */
async function speakerStory(logs: readonly { name: string; log: string }[], from: number, to: number): Promise<string[]> {
  const lines: { at: number; text: string }[] = []
  for (const { name, log } of logs) {
    for (const line of (await readFile(log, 'utf8').catch(() => '')).split('\n')) {
      const at = Number(/"time":(\d+)/.exec(line)?.[1] ?? NaN)
      if (!(at >= from && at <= to) || !/membership|announc|withdraw|heartbeat|lease|config/i.test(line)) continue
      const msg = /"msg":"([^"]*)"/.exec(line)?.[1] ?? ''
      const rest = line.replace(/^\{"level":\d+,"time":\d+,"pid":\d+,"hostname":"[^"]*","name":"[^"]*",?/, '').replace(/,?"msg":"[^"]*"\}$/, '')
      lines.push({ at, text: `+${at - from} ms ${name.replace('speaker-l2lb-', '')}: ${msg} ${rest.slice(0, 200)}` })
    }
  }
  return lines.sort((a, b) => a.at - b.at).slice(0, 60).map(l => l.text)
}

async function speakerInvalidLines(logs: readonly string[]): Promise<number[]> {
  return Promise.all(logs.map(async f => ((await readFile(f, 'utf8').catch(() => '')).match(/pool config invalid/g) ?? []).length))
}

const probeService = (name: string): string => [
  'apiVersion: v1', 'kind: Service', `metadata: {name: ${name}, namespace: default}`,
  'spec:', '  type: LoadBalancer', '  selector: {app: ingress}', '  ports: [{name: http, protocol: TCP, port: 80, targetPort: 80}]', '',
].join('\n')

const configMapJson = (text: string): string => JSON.stringify({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'config', namespace: 'l2lb-system' }, data: { config: text },
})

/**
 * Under tap, every process this one spawns gets `--import @tapjs/processinfo` in NODE_OPTIONS (tap's
 * process-on-spawn hook adds it whatever env is given) and, unless this variable is "0", records V8 coverage.
 * The controller and speakers start without NODE_OPTIONS (LabOptions.bareNodeOptions: with tap's hooks their
 * idle RSS was ~350-400 MiB, not ~120-140); coverage off as well for the lab's helpers (the stand-in API
 * server, the kube roles), which share the two cores with them.
 */
const COVERAGE_OFF = '_TAPJS_PROCESSINFO_COVERAGE_'

async function configBombs(t: Test): Promise<void> {
  const t0 = Date.now()
  if (process.env[COVERAGE_OFF] !== undefined) process.env[COVERAGE_OFF] = '0'
  const cases = prepareCases(t)
  t.comment(`cases: ${cases.map(c => `${c.name} (${c.text.length} B, ${c.valid ? 'valid' : 'invalid'})`).join(', ')}`)

  const stateDir = await mkdtemp(path.join(tmpdir(), 'l2lb-lab-bombs-'))
  const work = await mkdtemp(path.join(tmpdir(), 'l2lb-bombs-files-'))
  const monitor = new ArpMonitor()
  const lab = await labForTest(t, { stateDir, repoRoot, say: line => t.comment(line), apiserver: 'stand-in', bareNodeOptions: true },
    { beforeStop: () => monitor.stop(), afterStop: () => rm(work, { recursive: true, force: true }) })
  if (lab === null) return

  await lab.kubectl(['apply', '--server-side', '--force-conflicts', '-f', SAMPLE_POOL])
  await lab.kubectl(['apply', '-f', SAMPLE_SERVICE])
  const w = await walkService(lab, { service: 'ingress', say: line => t.comment(line), paths: ['/api/v1/'] })
  const mac = w.arping.macs[0] ?? ''
  t.ok(DEFAULT_POOL.some(e => ipInPoolEntry(w.ip, e)), `EXTERNAL-IP ${w.ip} lies in the sample pool`)
  t.equal(w.arping.macs.length, 1, `one MAC answers for ${w.ip} before the cases (${w.arping.macs.join(', ')})`)
  t.equal(w.macOwner, w.announcingNode, `it is ${w.announcingNode}'s, the node nodeAssigned names`)

  // The programs under test, as .lab/state.json (here: the test's state dir) records them.
  const state = await loadState(stateDir)
  const watched = (state?.processes ?? []).filter(p => p.name === 'controller' || p.name.startsWith('speaker-'))
  t.equal(watched.length, 1 + lab.nodes.length, `state.json records the controller and ${lab.nodes.length} speakers`)
  for (const p of watched) {
    const environ = await readFile(`/proc/${p.pid}/environ`, 'utf8').catch(() => '')
    const cmdline = (await readFile(`/proc/${p.pid}/cmdline`, 'utf8').catch(() => '')).split('\0').join(' ').trim()
    const options = environ.split('\0').filter(v => v.startsWith('NODE_OPTIONS='))
    t.same(options, [], `${p.name} (pid ${p.pid}: ${cmdline}) runs as it ships, without NODE_OPTIONS`)
  }
  const started = new Map(watched.map(p => [p.name, startTime(p.pid)]))
  const speakerLogs = watched.filter(p => p.name.startsWith('speaker-')).map(p => p.log)
  const limits = { controller: await memoryLimitKiB('controller.yaml'), speaker: await memoryLimitKiB('speaker.yaml') }
  const alive = (): string[] => watched.filter(p => !isAlive(p.pid) || startTime(p.pid) !== started.get(p.name)).map(p => `${p.name} (pid ${p.pid})`)

  const rssNow = (): CaseReport['rss'] => Object.fromEntries(watched.map(p => [p.name, procStatus(p.pid)]))
  const cpuNow = (): Record<string, number> => Object.fromEntries(watched.map(p => [p.name, cpuMs(p.pid)]))
  const baseline = rssNow()
  t.comment(`RSS before the cases: ${Object.entries(baseline).map(([n, r]) => `${n} ${(r.rssKiB / 1024).toFixed(0)} MiB (peak ${(r.hwmKiB / 1024).toFixed(0)})`).join(', ')}`)

  await monitor.start(w.ip)
  await waitFor(`ARP answers to all ${ARP_STREAMS} streams`, async () => monitor.replies.length >= ARP_STREAMS ? true : undefined, { timeoutMs: 10_000, intervalMs: 100 })
  const monitorFrom = Date.now()

  const reports: CaseReport[] = []
  let probes = 0
  for (const c of cases) {
    const from = Date.now()
    const file = path.join(work, `${c.name}.json`)
    await writeFile(file, configMapJson(c.text))
    const eventsBefore = await invalidConfigEvents(lab)
    const logsBefore = await speakerInvalidLines(speakerLogs)
    const cpuBefore = cpuNow()
    const applyingAt = Date.now()
    const applied = await lab.kubectlResult(['apply', '--server-side', '--force-conflicts', '-f', file])
    const appliedAt = Date.now()
    let outcome: string
    if (applied.code !== 0) {
      outcome = `refused by the API server: ${applied.stderr.trim().split('\n')[0]?.slice(0, 160) ?? ''}`
      t.comment(`${c.name}: ${outcome}`)
      // A refused case changed nothing: the sample is still in force.
      t.equal(staleOf(await controllerMetrics()), 0, `${c.name}: refused, and the controller's config is not stale`)
    } else if (c.valid) {
      const pools = await waitFor(`${c.name}: the controller to load ${c.pools} pools`, async () => {
        const m = await controllerMetrics()
        const p = poolsOf(m)
        return p.length === c.pools && staleOf(m) === 0 ? p : undefined
      }, { timeoutMs: 60_000, intervalMs: 500 }).catch((err: unknown) => { t.fail(String(err)); return [] })
      outcome = `stored, loaded (${pools.length} pools, stale 0)`
    } else {
      const seen = await waitFor(`${c.name}: stale 1, a new InvalidConfig Event, every speaker keeping its last good config`, async () => {
        const stale = staleOf(await controllerMetrics())
        if (stale !== 1) return undefined
        const now = await invalidConfigEvents(lab)
        const fresh = [...now].filter(([name, rv]) => eventsBefore.get(name) !== rv)
        if (fresh.length === 0) return undefined
        const logs = await speakerInvalidLines(speakerLogs)
        return logs.every((n, i) => n > (logsBefore[i] ?? 0)) ? { stale, fresh: fresh.length } : undefined
      }, { timeoutMs: 60_000, intervalMs: 300 }).catch((err: unknown) => { t.fail(String(err)); return null })
      t.ok(seen, `${c.name}: stale 1 on the controller, a new InvalidConfig Event, all speakers keep the last good config`)
      // A new Service while the bad config is in force: an address from the last good (sample) pool.
      const probe = `bomb-probe-${++probes}`
      await lab.kubectl(['apply', '-f', '-'], probeService(probe))
      const ip = await waitForExternalIP(lab, probe, 60_000).catch((err: unknown) => { t.fail(String(err)); return '' })
      t.ok(DEFAULT_POOL.some(e => ipInPoolEntry(ip, e)), `${c.name}: new Service ${probe} got ${ip || 'nothing'}, from the last good pool`)
      await lab.kubectl(['delete', 'svc', probe, '--wait=false'])
      outcome = `stored, rejected (stale 1, InvalidConfig Event), new Service got ${ip || 'nothing'}`
    }
    const left = appliedAt + HOLD_MS - Date.now()
    if (left > 0) await sleep(left)
    const rss = rssNow()

    await lab.kubectl(['apply', '--server-side', '--force-conflicts', '-f', SAMPLE_POOL])
    await waitFor(`${c.name}: the sample config back in force (stale 0, pool default only)`, async () => {
      const m = await controllerMetrics()
      const p = poolsOf(m)
      return staleOf(m) === 0 && p.length === 1 && p[0] === 'default' ? true : undefined
    }, { timeoutMs: 60_000, intervalMs: 300 }).catch((err: unknown) => t.fail(String(err)))
    const to = Date.now()
    const cpuAfter = cpuNow()
    const cpu = Object.fromEntries(watched.map(p => [p.name, (cpuAfter[p.name] ?? NaN) - (cpuBefore[p.name] ?? NaN)]))

    const win = monitor.window(from, to)
    const dead = alive()
    const report: CaseReport = {
      name: c.name, bytes: c.text.length, outcome, gapMs: win.gapMs, gapAfterApplyMs: win.gapStart - applyingAt, replies: win.replies, macs: win.macs,
      rss, cpuMs: cpu, seconds: (to - from) / 1000,
    }
    reports.push(report)
    const short = (n: string): string => n.replace('speaker-l2lb-', '')
    t.comment(`${c.name} (${c.text.length} B): ${outcome}; ARP longest gap ${win.gapMs} ms (from ${report.gapAfterApplyMs} ms after kubectl apply began), ` +
      `${win.replies} replies from ${win.macs.join(', ') || 'nobody'}; CPU ${Object.entries(cpu).map(([n, ms]) => `${short(n)} ${ms} ms`).join(', ')}; ` +
      `peak RSS ${Object.entries(rss).map(([n, r]) => `${short(n)} ${(r.hwmKiB / 1024).toFixed(0)} MiB`).join(', ')}; ${report.seconds.toFixed(1)} s`)
    const limit = MAX_GAP_MS
    t.ok(win.gapMs <= limit, `${c.name}: ${w.ip} answered throughout, longest gap ${win.gapMs} ms (<= ${limit})`)
    t.same(win.macs, [mac], `${c.name}: answered by ${mac} only`)
    if (win.macs.some(m => m !== mac)) {
      t.comment(`${c.name}: other MACs answered: ${monitor.others(mac, from, to).join('; ')} (the case applied ${applyingAt - from} ms into it); ` +
        `the speakers' logs then:\n${(await speakerStory(watched.filter(p => p.name.startsWith('speaker-')), from, to)).join('\n')}`)
    }
    t.same(dead, [], `${c.name}: controller and speakers alive, not restarted`)
    if (dead.length > 0) break
  }
  const monitorTo = Date.now()
  await monitor.stop()

  const all = monitor.window(monitorFrom, monitorTo)
  t.comment(`whole run: ${all.replies} ARP replies in ${((monitorTo - monitorFrom) / 1000).toFixed(1)} s, longest gap ${all.gapMs} ms, MACs ${all.macs.join(', ')}` +
    `${monitor.errors.length > 0 ? `; arping said: ${monitor.errors.slice(0, 3).join(' | ')}` : ''}`)
  t.ok(all.gapMs <= MAX_GAP_MS, `over all cases, the longest ARP gap is ${all.gapMs} ms`)
  t.same(all.macs, [mac], 'over all cases, one MAC only')
  t.equal(staleOf(await controllerMetrics()), 0, 'the valid config is back: stale 0')
  t.same(alive(), [], 'at the end, the controller and every speaker run with their first PIDs')

  // Memory: the peak RSS (VmHWM) since start, under config/default's limit. The lab sets no cgroup limit, so
  // V8 sizes its heap from the machine's memory and collects later than it would in the pod: if anything,
  // more than a pod would hold.
  const mib = (kib: number): string => (kib / 1024).toFixed(0)
  for (const p of watched) {
    const limit = p.name === 'controller' ? limits.controller : limits.speaker
    const base = baseline[p.name]?.hwmKiB ?? NaN
    const end = procStatus(p.pid).hwmKiB
    t.ok(end < limit, `${p.name}: peak RSS ${mib(end)} MiB (${mib(base)} MiB before the cases) under config/default's limit of ${mib(limit)} MiB`)
  }
  const announcer = `speaker-${w.announcingNode}`
  t.comment(`summary (case, bytes, longest ARP gap, CPU used by the controller / ${announcer} (the one answering), ` +
    `peak RSS controller / highest speaker, outcome):\n${reports.map(r => {
    const spk = Math.max(...Object.entries(r.rss).filter(([n]) => n.startsWith('speaker-')).map(([, v]) => v.hwmKiB))
    const spkCpu = r.cpuMs[announcer] ?? NaN
    return `  ${r.name.padEnd(22)} ${String(r.bytes).padStart(8)} B  gap ${String(r.gapMs).padStart(4)} ms  ` +
      `CPU ${String(r.cpuMs.controller ?? NaN).padStart(5)} / ${String(spkCpu).padStart(5)} ms  RSS ${mib(r.rss.controller?.hwmKiB ?? NaN)} / ${mib(spk)} MiB  ${r.outcome}`
  }).join('\n')}`)
  t.comment(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`)
}

const reason = await labSkipReason()
if (reason !== null) {
  t.comment(`skipping the config-bomb lab e2e test: ${reason}`)
  t.plan(0, reason)
} else {
  // One lab and eight ConfigMaps on a busy 2-core machine: more than the runner's default per-file limit.
  t.setTimeout(420_000)
  t.test('no pool ConfigMap takes l2lb down [netns lab, stand-in API server]', t => configBombs(t))
}
