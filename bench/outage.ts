// The data plane through control-plane faults (issue 9), as the LAN client sees it: an ARP request for every
// Service IP every 20 ms from l2lb-client (test/lab/arp-watch.ts), each reply timed with the MAC that sent
// it. Every figure is measured twice in one run of the netns lab: with peer heartbeats (the default, every
// 200 ms) and with the Lease alone (L2LB_HEARTBEAT_MS=0: what l2lb did before, and what Lease-based peers
// such as kube-vip and Cilium do), each the baseline of the other.
//
// - API server away for 10 s and for 60 s (every packet to its port dropped): the longest time any IP went
//   unanswered, and the requests answered by two MACs, from 1 s before the cut to 5 s after it heals.
// - SIGKILL of the announcing speaker 3 s into an outage: how long its IP went unanswered.
// - A rolling restart of every speaker (SIGTERM, a new process, wait for ready, the next): the longest gap
//   and any double answer.
// - The IP's preferred node killed while the next one is restarting (issue 9's rules A-C): the gap.
// - SIGKILL failover over FAILOVER_TRIALS trials (the killed speaker restarted before the next): p50, p99,
//   max of the gap.
// L2LB_BENCH_APISERVER=real runs it on the real kube-apiserver (KUBEBUILDER_ASSETS); figures then start with
// `outage.real.`. Needs root, network namespaces and the lab's tools; otherwise the group says why.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { Lab, waitForExternalIP } from '../test/lab/lab.js'
import { labSkipReason } from '../test/lab/e2e-lab.js'
import { LabFaults } from '../test/lab/faults.js'
import { analyseArpWatch, describeIpWatch, startArpWatch } from '../test/lab/arp-watch.js'
import { loadBalancerServiceYaml, soleAnswerer } from '../test/lab/flow.js'
import { announcingNode } from '../speaker/core/election.js'
import { ip as canonical } from '../test/lib/canonical-ip.js'
import { percentile } from './lib/datapath-parse.js'
import { compared, round, type Figure, type RunGroup } from './lib/figures.js'

const FAILOVER_TRIALS = 20
const KILL_WHILE_RESTARTING_TRIALS = 3
const SERVICES = ['ingress', 'outage-b', 'outage-c', 'outage-d']

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')


async function ownersOf(lab: Lab, ips: readonly string[]): Promise<Map<string, string>> {
  const owners = new Map<string, string>()
  for (const ip of ips) owners.set(ip, await soleAnswerer(lab, ip))
  return owners
}

interface Watched {
  readonly worstGapMs: number
  readonly doubles: number
}

/** Watches `ips` while `body` runs; counts from `fromMs` (ms after the start) to `tailMs` after body ends. */
async function watching(lab: Lab, ips: readonly string[], log: (l: string) => void, label: string,
  body: (sinceStart: () => number) => Promise<{ fromMs?: number } | void>, tailMs = 5000): Promise<Watched> {
  const w = await startArpWatch(repoRoot, ips, { intervalMs: 20, maxMs: 10 * 60_000 })
  let span: { fromMs?: number } = {}
  try {
    await sleep(1000)
    span = (await body(() => w.sinceStartMs())) ?? {}
    await sleep(tailMs)
  } catch (err) {
    await w.stop().catch(() => undefined)
    throw err
  }
  const rec = await w.stop()
  const perIp = [...analyseArpWatch(rec, span.fromMs === undefined ? {} : { fromMs: span.fromMs }).values()]
  for (const x of perIp) log(`  ${label}: ${describeIpWatch(x)}`)
  return { worstGapMs: Math.max(0, ...perIp.map(x => x.longestGapMs)), doubles: perIp.reduce((n, x) => n + x.doubleAnswers, 0) }
}

interface ModeFigures {
  readonly outage10: Watched
  readonly outage60: Watched
  readonly killDuringOutageMs: number
  readonly rolling: Watched
  readonly killWhileRestartingMs: number[]
  readonly failoverMs: number[]
}

async function measureMode(lab: Lab, faults: LabFaults, ips: readonly string[], env: Readonly<Record<string, string>>, log: (l: string) => void): Promise<ModeFigures> {
  const outage = async (seconds: number): Promise<Watched> => {
    await ownersOf(lab, ips)
    log(`API server away for ${seconds} s`)
    return watching(lab, ips, log, `outage ${seconds} s`, async () => {
      await faults.apiServerAway()
      await sleep(seconds * 1000)
      await faults.heal()
    })
  }
  const outage10 = await outage(10)
  const outage60 = await outage(60)

  log('SIGKILL of an announcing speaker 3 s into an API server outage')
  const owners = await ownersOf(lab, ips)
  const ip0 = ips[0] ?? ''
  const victim = owners.get(ip0) ?? ''
  let killedAt = 0
  const during = await watching(lab, [ip0], log, 'kill during outage', async since => {
    await faults.apiServerAway()
    await sleep(3000)
    killedAt = since()
    lab.killSpeaker(victim)
    await sleep(7000)
    await faults.heal()
    return { fromMs: killedAt - 100 }
  })
  await lab.startSpeaker(victim, env)

  log('rolling restart of every speaker (SIGTERM, new process, ready, next)')
  await ownersOf(lab, ips)
  const rolling = await watching(lab, ips, log, 'rolling restart', async () => {
    for (const node of lab.nodes) {
      await lab.stopSpeaker(node.name)
      await lab.startSpeaker(node.name, env)
    }
  })

  log('the preferred node killed while the next one restarts')
  const killWhileRestartingMs: number[] = []
  for (let i = 0; i < KILL_WHILE_RESTARTING_TRIALS; i++) {
    const ip = ips[i % ips.length] ?? ''
    const preferred = await soleAnswerer(lab, ip)
    // The heir: the node the election (the hash order) gives the IP to once the preferred node is gone.
    const next = announcingNode(canonical(ip), lab.nodes.map(n => n.name).filter(n => n !== preferred)) ?? ''
    const w = await watching(lab, [ip], log, `kill ${preferred} while ${next} restarts`, async since => {
      await lab.stopSpeaker(next)
      await lab.startSpeaker(next, env, { ready: false })
      await sleep(300)
      const at = since()
      lab.killSpeaker(preferred)
      await lab.waitSpeakerReady(next)
      return { fromMs: at - 100 }
    })
    killWhileRestartingMs.push(w.worstGapMs)
    await lab.startSpeaker(preferred, env)
  }

  log(`SIGKILL failover, ${FAILOVER_TRIALS} trials`)
  const failoverMs: number[] = []
  for (let i = 0; i < FAILOVER_TRIALS; i++) {
    const ip = ips[i % ips.length] ?? ''
    const owner = await soleAnswerer(lab, ip)
    const w = await watching(lab, [ip], log, `trial ${i + 1}: SIGKILL ${owner}`, async since => {
      const at = since()
      lab.killSpeaker(owner)
      return { fromMs: at - 100 }
    }, 6000)
    failoverMs.push(w.worstGapMs)
    await lab.startSpeaker(owner, env)
  }
  return { outage10, outage60, killDuringOutageMs: during.worstGapMs, rolling, killWhileRestartingMs, failoverMs }
}

export const run: RunGroup = async log => {
  const reason = await labSkipReason()
  if (reason !== null) {
    log(`skipped: ${reason}`)
    return []
  }
  const real = process.env.L2LB_BENCH_APISERVER === 'real'
  const prefix = real ? 'outage.real' : 'outage'
  const stateDir = await mkdtemp(path.join(tmpdir(), 'l2lb-bench-outage-'))
  const lab = new Lab({ stateDir, repoRoot, say: log, apiserver: real ? 'real' : 'stand-in' })
  const faults = new LabFaults(lab.nodes)
  try {
    await lab.up()
    await lab.kubectl(['apply', '-f', path.join(repoRoot, 'config', 'samples', 'pool-configmap.yaml')])
    await lab.kubectl(['apply', '-f', path.join(repoRoot, 'config', 'samples', 'ingress-service.yaml')])
    for (const s of SERVICES.slice(1)) await lab.kubectl(['apply', '-f', '-'], loadBalancerServiceYaml(s))
    const ips: string[] = []
    for (const s of SERVICES) ips.push(await waitForExternalIP(lab, s, 60_000))
    log(`Service IPs ${ips.join(', ')}; owners ${[...(await ownersOf(lab, ips)).entries()].map(([ip, n]) => `${ip} ${n}`).join(', ')}`)
    const hb = await measureMode(lab, faults, ips, {}, log)
    log('the same with peer heartbeats off (L2LB_HEARTBEAT_MS=0): the Lease alone decides')
    const off = { L2LB_HEARTBEAT_MS: '0' }
    for (const node of lab.nodes) await lab.restartSpeaker(node.name, off)
    const lease = await measureMode(lab, faults, ips, off, log)
    const sorted = (xs: number[]): number[] => [...xs].sort((a, b) => a - b)
    const p = (xs: number[], q: number): number => round(percentile(sorted(xs), q), 0)
    const ms = (v: number): number => round(v, 0)
    const f = (name: string, a: number, b: number, unit = 'ms'): Figure => compared(`${prefix}.${name}`, a, unit, `Lease only ${name}`, b)
    return [
      f('api_away_10s.longest_gap', ms(hb.outage10.worstGapMs), ms(lease.outage10.worstGapMs)),
      f('api_away_10s.double_answers', hb.outage10.doubles, lease.outage10.doubles, 'count'),
      f('api_away_60s.longest_gap', ms(hb.outage60.worstGapMs), ms(lease.outage60.worstGapMs)),
      f('api_away_60s.double_answers', hb.outage60.doubles, lease.outage60.doubles, 'count'),
      f('sigkill_during_api_away.gap', ms(hb.killDuringOutageMs), ms(lease.killDuringOutageMs)),
      f('rolling_restart.longest_gap', ms(hb.rolling.worstGapMs), ms(lease.rolling.worstGapMs)),
      f('rolling_restart.double_answers', hb.rolling.doubles, lease.rolling.doubles, 'count'),
      f('kill_preferred_while_next_restarts.max_gap', ms(Math.max(...hb.killWhileRestartingMs)), ms(Math.max(...lease.killWhileRestartingMs))),
      f('sigkill_failover.p50', p(hb.failoverMs, 50), p(lease.failoverMs, 50)),
      f('sigkill_failover.p99', p(hb.failoverMs, 99), p(lease.failoverMs, 99)),
      f('sigkill_failover.max', ms(Math.max(...hb.failoverMs)), ms(Math.max(...lease.failoverMs))),
      { name: `${prefix}.sigkill_failover.trials`, value: hb.failoverMs.length, unit: 'count' },
      { name: `${prefix}.sigkill_failover.over_1s`, value: hb.failoverMs.filter(x => x >= 1000).length, unit: 'count' },
    ] satisfies Figure[]
  } finally {
    await faults.heal().catch(() => {})
    await lab.stop()
    await rm(stateDir, { recursive: true, force: true })
  }
}
