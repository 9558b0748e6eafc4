// The failure matrix (docs/architecture.md, "When things fail"), each row made in the netns lab with nftables
// or a link (test/lab/faults.ts) while the LAN client asks for every Service IP every 20 ms
// (test/lab/arp-watch.ts). What each row promises:
// (a) API server away for everyone: every IP stays answered, by the node that had it, and a speaker killed
//     during the outage is replaced through the heartbeats;
// (b) one node cut from the API server (on the LAN): it stands by, its IPs move to nodes that see the cluster;
// (c) one node cut from the LAN (reaching the API server): its IPs move to nodes the client can reach;
// (d) one node isolated from both: the same;
// (e) the LAN split in two: the client's side answers for every IP;
// (f) a rolling restart of every speaker, and the preferred node killed while the next one restarts: every IP
//     answered again, never by two MACs;
// (g) a host on the LAN replays a speaker's heartbeat and forges `leaving` for it (unsigned, unknown key, bad
//     MAC, another cluster): every speaker refuses and counts each, and the IP stays where it was.
// In every row: never two MACs for one IP while the LAN is whole (from one second after a heal: the
// heartbeats that bring a node back take one interval). How fast each of these is, is `npm run bench --
// outage`'s to measure; this test holds the behaviour. Once on the stand-in and, with KUBEBUILDER_ASSETS,
// once on the real kube-apiserver. Needs root and network namespaces; skipped (with the reason) otherwise.
import t, { type Test } from 'tap'
import path from 'node:path'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { waitForExternalIP, type Lab } from '../lab/lab.js'
import { CLIENT_HOST } from '../lab/names.js'
import { inNetns, run, runAllowingFailure } from '../lab/run.js'
import { labForTest, labSkipReason } from '../lab/e2e-lab.js'
import { loadBalancerServiceYaml, soleAnswerer } from '../lab/flow.js'
import { LabFaults } from '../lab/faults.js'
import { analyseArpWatch, describeIpWatch, startArpWatch, type IpWatch } from '../lab/arp-watch.js'
import type { ApiServerKind } from '../lab/real-apiserver.js'
import { envtestAssets } from '../lib/envtest.js'
import { announcingNode } from '../../speaker/core/election.js'
import { ip as canonical } from '../lib/canonical-ip.js'

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const SERVICES = ['ingress', 'fault-b', 'fault-c']



interface Row {
  /** The whole watch, and the part from one second after the heal (the LAN whole again). */
  readonly all: Map<string, IpWatch>
  readonly healed: Map<string, IpWatch>
  /** ms after the start of the watch when the fault ended. */
  readonly healedAtMs: number
}

/** Watches every IP while `fault` is in force for `holdMs`, then heals and watches `afterMs` more. */
async function row(t: Test, lab: Lab, ips: readonly string[], label: string, fault: () => Promise<void>, heal: () => Promise<void>,
  holdMs: number, during?: () => Promise<void>, afterMs = 4000): Promise<Row> {
  const w = await startArpWatch(repoRoot, ips, { intervalMs: 20, maxMs: 5 * 60_000 })
  let healedAtMs = 0
  try {
    await sleep(1000)
    await fault()
    const until = Date.now() + holdMs
    await during?.()
    await sleep(Math.max(0, until - Date.now()))
    await heal()
    healedAtMs = w.sinceStartMs()
    await sleep(afterMs)
  } catch (err) {
    await heal().catch(() => undefined)
    await w.stop().catch(() => undefined)
    throw err
  }
  const rec = await w.stop()
  const all = analyseArpWatch(rec)
  const healed = analyseArpWatch(rec, { fromMs: healedAtMs + 1000 })
  for (const x of all.values()) t.comment(`${label}: ${describeIpWatch(x)}`)
  for (const x of healed.values()) {
    t.equal(x.doubleAnswers, 0, `${label}: ${x.ip} is never answered by two MACs once the LAN is whole` +
      (x.firstDouble ? ` (at +${Math.round(x.firstDouble.atMs)} ms: ${x.firstDouble.macs.join(', ')})` : ''))
    t.ok(x.answered >= x.requests - 15, `${label}: ${x.ip} is answered after the heal (${x.answered}/${x.requests}, at most 15 requests or 300 ms unanswered)`)
  }
  return { all, healed, healedAtMs }
}

/** The MACs that answered ip over the whole watch, in the order they took it over. */
function ownersOf(r: Row, ip: string): readonly string[] {
  return r.all.get(ip)?.owners ?? []
}

async function matrix(t: Test, apiserver: ApiServerKind): Promise<void> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'l2lb-faults-e2e-'))
  let faults: LabFaults | null = null
  const lab = await labForTest(t, { stateDir, repoRoot, say: line => t.comment(line), apiserver }, { beforeStop: () => faults?.heal().catch(() => undefined) ?? Promise.resolve() })
  if (lab === null) return
  faults = new LabFaults(lab.nodes)
  await lab.kubectl(['apply', '-f', path.join(repoRoot, 'config', 'samples', 'pool-configmap.yaml')])
  await lab.kubectl(['apply', '-f', path.join(repoRoot, 'config', 'samples', 'ingress-service.yaml')])
  for (const s of SERVICES.slice(1)) await lab.kubectl(['apply', '-f', '-'], loadBalancerServiceYaml(s))
  const ips: string[] = []
  for (const s of SERVICES) ips.push(await waitForExternalIP(lab, s, 60_000))
  const macOf = (node: string): string => lab.nodes.find(n => n.name === node)?.mac ?? ''
  const nodeNames = lab.nodes.map(n => n.name)
  const ip0 = ips[0] ?? ''

  await t.test('(a) the API server away for everyone: every IP stays with its node; a SIGKILL fails over through heartbeats', async t => {
    const before = new Map<string, string>()
    for (const ip of ips) before.set(ip, await soleAnswerer(lab, ip))
    const r = await row(t, lab, ips, 'API server away 12 s', () => faults.apiServerAway(), () => faults.heal(), 12_000)
    for (const ip of ips) {
      const w = r.all.get(ip)
      t.same(w?.owners, [macOf(before.get(ip) ?? '')], `${ip}: answered only by ${before.get(ip) ?? '?'} throughout`)
      t.equal(w?.doubleAnswers, 0, `${ip}: never by two MACs`)
      // Not dark at any point of the outage (a speaker that fenced itself would lose most of these); the gaps
      // themselves are bench outage's to measure: on a loaded 2-core machine the watcher itself stalls at times.
      t.ok((w?.answered ?? 0) >= 0.9 * (w?.requests ?? 0), `${ip}: answered throughout (${w?.answered}/${w?.requests}; ${Math.round(w?.longestGapMs ?? 0)} ms longest gap)`)
    }
    const victim = await soleAnswerer(lab, ip0)
    const heir = announcingNode(canonical(ip0), nodeNames.filter(n => n !== victim)) ?? ''
    const k = await row(t, lab, [ip0], `SIGKILL of ${victim} during an outage`, () => faults.apiServerAway(), () => faults.heal(), 8000, async () => {
      await sleep(3000)
      lab.killSpeaker(victim)
    })
    t.same(ownersOf(k, ip0), [macOf(victim), macOf(heir)], `${ip0} went from ${victim} to ${heir} while the API server was away`)
    await lab.startSpeaker(victim)
  })

  await t.test('(b) one node cut from the API server: it stands by and its IPs move to nodes that see the cluster', async t => {
    const owner = await soleAnswerer(lab, ip0)
    const heir = announcingNode(canonical(ip0), nodeNames.filter(n => n !== owner)) ?? ''
    const r = await row(t, lab, ips, `${owner} cut from the API server`, () => faults.cutFromApiServer(owner), () => faults.heal(), 9000)
    const owners = ownersOf(r, ip0)
    t.equal(owners[1], macOf(heir), `${ip0} moved from ${owner} to ${heir} while ${owner} could not reach the API server (${owners.join(' -> ')})`)
    t.equal(r.all.get(ip0)?.doubleAnswers, 0, 'never two MACs on the way')
  })

  await t.test('(c) one node cut from the LAN but reaching the API server: its IPs move to nodes the client reaches', async t => {
    const owner = await soleAnswerer(lab, ip0)
    const heir = announcingNode(canonical(ip0), nodeNames.filter(n => n !== owner)) ?? ''
    const r = await row(t, lab, ips, `${owner} cut from the LAN`, () => faults.cutFromLan(owner), () => faults.heal(), 6000)
    t.equal(ownersOf(r, ip0)[1], macOf(heir), `${ip0} moved to ${heir}, though ${owner} kept renewing its Lease`)
  })

  await t.test('(d) one node isolated from both: its IPs move', async t => {
    const owner = await soleAnswerer(lab, ip0)
    const heir = announcingNode(canonical(ip0), nodeNames.filter(n => n !== owner)) ?? ''
    const r = await row(t, lab, ips, `${owner} isolated`, () => faults.isolate(owner), () => faults.heal(), 6000)
    t.equal(ownersOf(r, ip0)[1], macOf(heir), `${ip0} moved to ${heir}`)
  })

  await t.test('(e) the LAN split in two: the client\'s side answers for every IP', async t => {
    const owner = await soleAnswerer(lab, ip0)
    const others = nodeNames.filter(n => n !== owner)
    const r = await row(t, lab, ips, `LAN split ${owner} | ${others.join(',')}+client`, () => faults.splitLan([owner], others, 'b'), () => faults.heal(), 6000)
    const w = r.all.get(ip0)
    t.ok((w?.owners.length ?? 0) >= 2 && others.map(macOf).includes(w?.owners[1] ?? ''), `${ip0} was answered on the client's side during the split (${w?.owners.join(' -> ')})`)
  })

  await t.test('(f) a rolling restart, and the preferred node killed while the next one restarts', async t => {
    await row(t, lab, ips, 'rolling restart', async () => {
      for (const n of nodeNames) {
        await lab.stopSpeaker(n)
        await lab.startSpeaker(n)
      }
    }, async () => undefined, 0)
    const preferred = await soleAnswerer(lab, ip0)
    const next = announcingNode(canonical(ip0), nodeNames.filter(n => n !== preferred)) ?? ''
    const k = await row(t, lab, [ip0], `${preferred} killed while ${next} restarts`, async () => {
      await lab.stopSpeaker(next)
      await lab.startSpeaker(next, {}, { ready: false })
      await sleep(300)
      lab.killSpeaker(preferred)
      await lab.waitSpeakerReady(next)
    }, async () => undefined, 0)
    t.ok((k.all.get(ip0)?.owners ?? []).slice(1).every(m => m !== macOf(preferred)), `${ip0} went to a live node (${k.all.get(ip0)?.owners.join(' -> ')})`)
    await lab.startSpeaker(preferred)
  })

  await t.test('(g) forged and replayed heartbeats are refused and counted, and move nothing', async t => {
    const owner = await soleAnswerer(lab, ip0)
    const metricsOf = async (node: string): Promise<string> => {
      const n = lab.nodes.find(x => x.name === node)
      if (!n) return ''
      return (await runAllowingFailure(inNetns(n.netns, ['curl', '-s', '--max-time', '3', `http://${n.ipv4}:7473/metrics`]), { timeoutMs: 5000 })).stdout
    }
    const rejected = (text: string, reason: string): number =>
      Number(new RegExp(`l2lb_speaker_heartbeats_rejected_total\\{reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? '0')
    const others = nodeNames.filter(n => n !== owner)
    const before = new Map<string, string>()
    for (const n of others) before.set(n, await metricsOf(n))
    let forged: { sent: string[] } = { sent: [] }
    const r = await row(t, lab, [ip0], `forged heartbeats for ${owner}`, async () => {
      const out = await run(inNetns(CLIENT_HOST.netns, [process.execPath, '--import', 'tsx', path.join(repoRoot, 'test/lab/heartbeat-forger-main.ts'), 'eth0', owner, lab.heartbeatCluster]), { timeoutMs: 20_000, env: { ...process.env, NODE_OPTIONS: '' } })
      forged = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { sent: string[] }
      await sleep(1000)
    }, async () => undefined, 0)
    t.same(forged.sent, ['replay', 'unsigned', 'unknown_key', 'bad_mac', 'other_cluster'], 'the hostile host sent a replay and four forged leavings')
    for (const n of others) {
      const after = await metricsOf(n)
      for (const reason of forged.sent) {
        t.ok(rejected(after, reason) > rejected(before.get(n) ?? '', reason), `${n} refused and counted the ${reason} frame (l2lb_speaker_heartbeats_rejected_total{reason="${reason}"})`)
      }
    }
    t.same(r.all.get(ip0)?.owners, [macOf(owner)], `${ip0} stayed with ${owner}: no forged leaving was taken`)
  })
}

const reason = await labSkipReason()
if (reason !== null) {
  t.comment(`skipping the failure-matrix e2e test: ${reason}`)
  t.plan(0, reason)
} else {
  const real = envtestAssets()
  const realSkip = 'missing' in real ? real.missing : undefined
  t.setTimeout(realSkip === undefined ? 900_000 : 450_000)
  t.test('failure matrix [stand-in API server]', t => matrix(t, 'stand-in'))
  if (realSkip !== undefined) t.comment(`skipping the real kube-apiserver run: ${realSkip}`)
  t.test('failure matrix [real kube-apiserver]', realSkip === undefined ? {} : { skip: realSkip }, t => matrix(t, 'real'))
}
