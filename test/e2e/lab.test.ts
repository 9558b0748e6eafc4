// The used-by flow, end to end, in the netns lab: pool ConfigMap and a LoadBalancer Service applied with the
// machine's kubectl, an EXTERNAL-IP from the pool, exactly one node answering ARP for it (the one its
// nodeAssigned Event names), the ingress reached through it and through kube-proxy, silence within 2 s of
// deleting the Service, a dual-stack Service reached over IPv6 (NDP answered by exactly one node, curl through
// kube-proxy to the ingress pod's IPv6 address), peer heartbeats, failover.
// Once on the stand-in API server and, when KUBEBUILDER_ASSETS names the binaries, once on the real
// kube-apiserver + etcd with config/default's RBAC enforced (skipped with the reason otherwise). Where the
// assets hold kube-proxy, the nodes run the real one on both servers; else the lab's kube-proxy role.
// Needs root and network namespaces; skipped (with the reason) otherwise.
// Then once more with every l2lb program from the image (`npm run image`, built here first: ~3 min from nothing,
// under a minute from podman's layer cache), started with podman as config/default describes them, on the real
// kube-apiserver when the assets are there (else the stand-in); skipped with the reason without podman, runc and
// mmdebstrap. The kernel's view of each container (uid, capabilities, read-only root) is checked against the
// manifests: the walk passing with the speaker holding CAP_NET_RAW alone shows that it is all AF_PACKET
// sockets, their BPF filter and the multicast memberships need.
import t, { type Test } from 'tap'
import path from 'node:path'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'
import { readFile } from 'node:fs/promises'
import type { Lab, LabNode } from '../lab/lab.js'
import { labForTest, labSkipReason } from '../lab/e2e-lab.js'
import { walkService, msUntilArpUnanswered, ipInPoolEntry, type ServiceWalk } from '../lab/flow.js'
import { inNetns, runAllowingFailure } from '../lab/run.js'
import type { ApiServerKind } from '../lab/real-apiserver.js'
import { envtestAssets } from '../lib/envtest.js'

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const sample = (f: string): string => path.join(repoRoot, 'config', 'samples', f)
const DEFAULT_POOL = ['192.0.2.240-192.0.2.250', '2001:db8:0:1::f0/124']
const SECOND_IP = '192.0.2.232'


function checkWalk(t: Test, lab: Lab, w: ServiceWalk): void {
  const tool = w.ip.includes(':') ? 'ndisc6 (NDP)' : 'arping'
  t.equal(w.arping.macs.length, 1, `${tool} for ${w.ip} is answered by exactly one MAC (saw ${w.arping.macs.join(', ') || 'none'})`)
  t.ok(w.announcingNode.startsWith('l2lb-node'), `nodeAssigned names a lab node (${w.announcingNode})`)
  t.equal(w.macOwner, w.announcingNode, 'the MAC that answered is the eth0 MAC of the node named in nodeAssigned')
  t.same(w.announcedBy, [w.announcingNode], `exactly that node's speaker announces ${w.ip} (l2lb_speaker_announced)`)
  const bodies = Object.fromEntries(w.answers.map(a => [a.path, a.answer.body.trim()]))
  t.same(bodies, { '/api/v1/': 'api v1', '/api/v2/': 'api v2' }, `both paths reach their backends through the ingress, over ${w.ip.includes(':') ? 'IPv6' : 'IPv4'}`)
  t.match(w.proxyRule ?? '', lab.kubeProxy === 'real' ? /^kube-proxy \(table ip6? kube-proxy\)/ : /^stand-in role/,
    `the ${lab.kubeProxy} kube-proxy on ${w.macOwner ?? '?'} holds the rule for ${w.ip} (${w.proxyRule ?? 'none'})`)
}

async function usedByFlow(t: Test, apiserver: ApiServerKind, image = false): Promise<void> {
  const stateDir = await mkdtemp(path.join(tmpdir(), 'l2lb-lab-e2e-'))
  const lab = await labForTest(t, { stateDir, repoRoot, say: line => t.comment(line), apiserver, image })
  if (lab === null) return
  t.comment(`API server: ${lab.apiserverDescription}; kube-proxy: ${lab.kubeProxyDescription}; l2lb programs: ${lab.programsDescription}`)

  await lab.kubectl(['apply', '-f', sample('pool-configmap.yaml')])
  await lab.kubectl(['apply', '-f', sample('ingress-service.yaml')])
  const w = await walkService(lab, { service: 'ingress', say: line => t.comment(line) })
  t.ok(DEFAULT_POOL.some(e => ipInPoolEntry(w.ip, e)), `EXTERNAL-IP ${w.ip} lies in the pool`)
  checkWalk(t, lab, w)

  // Issue 2, done-when: a second pool, and a Service asking for an address in it by spec.loadBalancerIP.
  await lab.kubectl(['apply', '-f', sample('pool-configmap-two-pools.yaml')])
  await lab.kubectl(['apply', '-f', sample('ingress-service-second.yaml')])
  const w2 = await walkService(lab, { service: 'ingress-second', say: line => t.comment(line) })
  t.equal(w2.ip, SECOND_IP, 'the second Service gets the address it asked for, from pool `second`')
  checkWalk(t, lab, w2)
  const svcJson: unknown = JSON.parse(await lab.kubectl(['get', 'svc', 'ingress', '-o', 'json']))
  t.match(svcJson, { status: { loadBalancer: { ingress: [{ ip: w.ip }] } } }, 'the first Service kept its address across the pool change')

  await lab.kubectl(['delete', 'svc', 'ingress'])
  const deletedAt = Date.now()
  const ms = await msUntilArpUnanswered(lab, w.ip, deletedAt)
  t.ok(ms <= 2000, `after kubectl delete, ARP for ${w.ip} goes unanswered within 2 s (a probe sent ${ms} ms after went unanswered)`)
  const again = await lab.arping(w.ip, { count: 2, deadlineS: 2 })
  t.equal(again.replies, 0, `and stays unanswered (${again.replies} replies)`)
  const other = await lab.arping(w2.ip, { count: 2, deadlineS: 2 })
  t.same(other.macs, w2.arping.macs, 'the other Service is still announced by the same node')

  // Dual stack: one IPv4 and one IPv6 address from the pool; exactly one node answers NDP for the IPv6 one,
  // and curl to [IPv6]:80 goes through that node's kube-proxy to the ingress pod's IPv6 address.
  await lab.kubectl(['apply', '-f', sample('dual-stack-service.yaml')])
  const w6 = await walkService(lab, { service: 'ingress-dual', family: 'IPv6', say: line => t.comment(line) })
  const dual: unknown = JSON.parse(await lab.kubectl(['get', 'svc', 'ingress-dual', '-o', 'json']))
  const dualIPs = isRecord(dual) && isRecord(dual.status) && isRecord(dual.status.loadBalancer) && Array.isArray(dual.status.loadBalancer.ingress)
    ? dual.status.loadBalancer.ingress.filter(isRecord).map(i => String(i.ip)) : []
  t.ok(dualIPs.length === 2 && dualIPs.some(ip => !ip.includes(':')) && DEFAULT_POOL.some(e => ipInPoolEntry(w6.ip, e)),
    `dual-stack Service got ${dualIPs.join(' and ')} from the pool`)
  checkWalk(t, lab, w6)
  const slices = await lab.kubectl(['get', 'endpointslices', '-l', 'kubernetes.io/service-name=ingress-dual', '-o', 'jsonpath={range .items[*]}{.addressType}={.endpoints[*].addresses[*]} {end}'])
  t.same(slices.trim().split(' ').sort(), ['IPv4=198.19.1.10', 'IPv6=2001:db8:1:1::10'], 'one EndpointSlice per family, the ingress pod\'s addresses')

  // Peer heartbeats cross the LAN as real frames: every speaker's metrics count heartbeats from every other node.
  for (const node of lab.nodes) {
    const r = await runAllowingFailure(inNetns(node.netns, ['curl', '-s', '--max-time', '3', `http://${node.ipv4}:7473/metrics`]), { timeoutMs: 5000 })
    const heard: LabNode[] = lab.nodes.filter((o: LabNode) => o.name !== node.name && new RegExp(`l2lb_speaker_heartbeats_received_total\\{node="${o.name}"\\} [1-9]`).test(r.stdout))
    t.equal(heard.length, lab.nodes.length - 1, `${node.name} hears the heartbeats of ${heard.map(o => o.name).join(', ') || 'nobody'}`)
  }

  if (image) {
    // config/default's security contexts as the kernel applied them, read from /proc of each container's node.
    const facts = await lab.containerFacts()
    t.same(facts.map(f => f.name).sort(), ['controller', ...lab.nodes.map(n => `speaker-${n.name}`)].sort(), 'every l2lb program runs in a container')
    for (const { name, container, facts: f } of facts) {
      t.comment(`${container}: uid ${f.uid}, ${f.capabilities.join(',') || 'no capabilities'}, RSS ${f.rssMiB} MiB (peak ${f.peakMiB} MiB)`)
      if (name === 'controller') {
        t.equal(f.uid, 65534, 'the controller runs as 65534')
        t.same(f.capabilities, [], 'with no capability')
      } else {
        t.equal(f.uid, 0, `${name} runs as root ...`)
        t.same(f.capabilities, ['cap_net_raw'], '... holding CAP_NET_RAW alone, and answered ARP and NDP above (AF_PACKET, BPF filter, multicast membership)')
      }
      t.ok(f.readOnlyRoot, `${name}'s root filesystem is read-only`)
    }
  }

  // Failover: SIGKILL the speaker that announces the second Service's IP. Its heartbeats stop; after three
  // missed ones (600 ms) the next node in the hash order takes the IP over with gratuitous ARP, long before
  // its per-node Lease (3 s) runs out.
  const owner = w2.macOwner ?? ''
  const oldMac = w2.arping.macs[0] ?? ''
  const rec = lab.processes.find(p => p.name === `speaker-${owner}`)
  t.ok(rec, `the lab runs a speaker on ${owner}`)
  if (rec) process.kill(rec.pid, 'SIGKILL')
  const killedAt = Date.now()
  let takeover: string[] = []
  for (let i = 0; i < 15 && Date.now() - killedAt < 20_000; i++) {
    const r = await lab.arping(w2.ip, { count: 1, deadlineS: 1 })
    if (r.macs.length > 0 && !r.macs.includes(oldMac)) { takeover = r.macs; break }
  }
  t.comment(`after SIGKILL of speaker-${owner}, another node answered within ${Date.now() - killedAt} ms (1 s arping granularity)`)
  t.equal(takeover.length, 1, `exactly one other node answers for ${w2.ip} (saw ${takeover.join(', ') || 'none'})`)
  const heir = await lab.nodeWithMac(takeover[0] ?? '')
  t.ok(heir && heir.name !== owner, `the IP moved from ${owner} to ${heir?.name ?? 'nobody'}`)
  const reached = await lab.curl(w2.ip, '/api/v1/')
  t.equal(reached.body.trim(), 'api v1', 'the Service is reachable through the new node')

  if (apiserver === 'real') {
    // config/default's RBAC is all the programs need: nothing they asked for was refused.
    for (const p of lab.processes.filter(p => p.name === 'controller' || p.name.startsWith('speaker-'))) {
      const log = await readFile(p.log, 'utf8').catch(() => '')
      const refused = log.split('\n').filter(l => /\b403\b|[Ff]orbidden/.test(l))
      t.same(refused, [], `${p.name}, on its ServiceAccount token, was never refused (log ${p.log})`)
    }
  }
}

const reason = await labSkipReason()
if (reason !== null) {
  t.comment(`skipping the netns lab e2e test: ${reason}`)
  t.plan(0, reason)
} else {
  const real = envtestAssets()
  const realSkip = 'missing' in real ? real.missing : undefined
  // Two labs one after the other: longer than the runner's default per-file limit on a busy 2-core machine.
  const imageSkip = await imageSkipReason()
  t.setTimeout((realSkip === undefined ? 600_000 : 300_000) + (imageSkip === null ? 600_000 : 0))
  t.test('used-by flow in the netns lab [stand-in API server]', t => usedByFlow(t, 'stand-in'))
  if (realSkip !== undefined) t.comment(`skipping the real kube-apiserver run: ${realSkip}`)
  t.test('used-by flow in the netns lab [real kube-apiserver]', realSkip === undefined ? {} : { skip: realSkip }, t => usedByFlow(t, 'real'))
  if (imageSkip !== null) t.comment(`skipping the run from the image: ${imageSkip}`)
  const imageServer: ApiServerKind = realSkip === undefined ? 'real' : 'stand-in'
  t.test(`used-by flow in the netns lab [image, ${imageServer === 'real' ? 'real kube-apiserver' : 'stand-in API server'}]`, imageSkip === null ? {} : { skip: imageSkip }, async t => {
    // `npm run image`: builds (or reuses podman's cached layers) and checks the bundles and no node_modules, no compiler,
    // USER 65534 and no HEALTHCHECK, failing otherwise.
    const built = await runAllowingFailure(['bash', path.join(repoRoot, 'image', 'build.sh')], { cwd: repoRoot, timeoutMs: 900_000 })
    const checks = built.stdout.split('\n').filter(l => l.startsWith('image: '))
    for (const line of checks) t.comment(line)
    t.equal(built.code, 0, `npm run image built the image and its checks passed${built.code === 0 ? '' : `: ${built.stderr.trim().split('\n').slice(-5).join(' | ')}`}`)
    t.ok(checks.some(l => /^image: ok: the bundles present, no node_modules/.test(l)), 'no tsx, TypeScript or other dev dependency in the image: no node_modules at all, only the bundles')
    if (built.code !== 0) return
    await usedByFlow(t, imageServer, true)
  })
}

/** Why the image run cannot happen here: the Debian packages `npm run image` and `lab --image` need. */
async function imageSkipReason(): Promise<string | null> {
  const missing: string[] = []
  for (const tool of ['podman', 'runc', 'mmdebstrap']) {
    const res = await runAllowingFailure(['sh', '-c', `command -v ${tool} || test -x /usr/sbin/${tool}`])
    if (res.code !== 0) missing.push(tool)
  }
  return missing.length === 0 ? null : `${missing.join(', ')} not installed (apt-get install podman runc mmdebstrap; README, "The image")`
}
