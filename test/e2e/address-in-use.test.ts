// Issue 11, done-when (parts 3 and 4): in the lab, a host outside the cluster on l2lb-client's LAN that already
// holds an address of the pool makes l2lb refuse that address — a Warning Event naming the host's MAC,
// l2lb_layer2_address_in_use, the address-in-use annotation and a problem in `l2lb status` — while every other
// address works, for IPv4 and IPv6; and a conflicting unsolicited NA for an announced address is counted and
// answered after the quiet period. The holder is l2lb-client itself (192.0.2.250 and 2001:db8:0:1::fe added to
// its eth0, as a host configured by hand would have them): its kernel answers the speaker's ARP probe and DAD
// solicitation. The held Service asks for those addresses (l2lb.dev/loadBalancerIPs); a second dual-stack
// Service gets addresses of its own. Once the holder lets go, the next probe (10 s later) claims the address.
// One lab on the stand-in API server; about 75 s here, 45 of them bringing the lab up. Needs root and network
// namespaces; skipped with the reason otherwise, like lab.test.ts.
//
// This file is also the child that forges the NA inside l2lb-client: L2LB_TAIU_ROLE=capture (json-agent.ts).
import path from 'node:path'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { fileURLToPath } from 'node:url'

const HELD_V4 = '192.0.2.250'
const HELD_V6 = '2001:db8:0:1::fe'
const CLIENT_IF = 'eth0'

async function captureMain(): Promise<void> {
  const { serveCapture } = await import('../lib/json-agent.js')
  const { ETHERTYPE_IPV6 } = await import('../../speaker/core/ethernet.js')
  serveCapture(CLIENT_IF, ETHERTYPE_IPV6)
}

async function testMain(): Promise<void> {
  const { default: t } = await import('tap')
  const { KubeConfig } = await import('@kubernetes/client-node')
  const { waitForIngressIP } = await import('../lab/lab.js')
  const { labForTest, labSkipReason } = await import('../lab/e2e-lab.js')
  const { inNetns, runAllowingFailure, waitFor } = await import('../lab/run.js')
  const { CLIENT_HOST } = await import('../lab/names.js')
  const { collectStatus } = await import('../../controller/kube/collect-status.js')
  const { startInNetns } = await import('../lib/json-agent.js')
  const { decodeNdpFrame, unsolicitedAdvertisement } = await import('../../speaker/core/ndp.js')
  const { formatMac, parseMac } = await import('../../speaker/core/ethernet.js')

  const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
  const samplePool = path.join(repoRoot, 'config', 'samples', 'pool-configmap.yaml')

  const reason = await labSkipReason()
  if (reason !== null) {
    t.comment(`skipping the address-in-use lab e2e test: ${reason}`)
    t.plan(0, reason)
    return
  }
  t.setTimeout(300_000)

  const service = (name: string, ips?: string): string => `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
${ips === undefined ? '' : `  annotations:\n    l2lb.dev/loadBalancerIPs: "${ips}"\n`}spec:
  type: LoadBalancer
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  selector:
    app: ingress
  ports:
  - name: http
    protocol: TCP
    port: 80
    targetPort: 80
`

  t.test('an address another host holds is refused with an Event, a metric and a status problem; the rest works [netns lab, stand-in API server]', async t => {
    const t0 = Date.now()
    const stateDir = await mkdtemp(path.join(tmpdir(), 'l2lb-lab-in-use-'))
    const ip = (args: string[]): Promise<unknown> => runAllowingFailure(['ip', '-n', CLIENT_HOST.netns, ...args], { timeoutMs: 5000 })
    const lab = await labForTest(t, { stateDir, repoRoot, say: line => t.comment(line), apiserver: 'stand-in' }, {
      beforeStop: async () => {
        await ip(['addr', 'del', `${HELD_V4}/24`, 'dev', CLIENT_IF])
        await ip(['-6', 'addr', 'del', `${HELD_V6}/64`, 'dev', CLIENT_IF])
      },
    })
    if (lab === null) return
    // The host outside the cluster takes the addresses before any Service has them (nodad: usable at once).
    await ip(['addr', 'add', `${HELD_V4}/24`, 'dev', CLIENT_IF])
    await ip(['-6', 'addr', 'add', `${HELD_V6}/64`, 'dev', CLIENT_IF, 'nodad'])
    await lab.kubectl(['apply', '--server-side', '--force-conflicts', '-f', samplePool])
    await lab.kubectl(['apply', '-f', '-'], service('held', `${HELD_V4},${HELD_V6}`))
    await lab.kubectl(['apply', '-f', '-'], service('free'))
    const freeV4 = await waitForIngressIP(lab, 'free', 'IPv4')
    const freeV6 = await waitForIngressIP(lab, 'free', 'IPv6')
    t.same([await waitForIngressIP(lab, 'held', 'IPv4'), await waitForIngressIP(lab, 'held', 'IPv6')], [HELD_V4, HELD_V6], 'the held Service gets the addresses it asked for')

    const clientMac = CLIENT_HOST.mac.toLowerCase()
    const nodeMacs = new Set(lab.nodes.map(n => n.mac.toLowerCase()))
    // Who answers for an address, seen from a node's namespace (the client cannot ask for its own address).
    const answerers = async (addr: string): Promise<string[]> => {
      const node = lab.nodes[lab.nodes.length - 1]
      if (node === undefined) throw new Error('no node')
      const argv = addr.includes(':')
        ? ['ndisc6', '-m', '-n', '-r', '2', '-w', '1000', addr, 'eth0']
        : ['arping', '-c', '2', '-w', '2', '-I', 'eth0', addr]
      const r = await runAllowingFailure(inNetns(node.netns, argv), { timeoutMs: 8000 })
      const out = String(r.stdout)
      const found = [...out.matchAll(/(?:reply from \S+ \[|Target link-layer address: )([0-9A-Fa-f:]{17})/g)].map(m => (m[1] ?? '').toLowerCase())
      return [...new Set(found)].sort()
    }

    // Every other address works: one node answers each, from the client.
    for (const addr of [freeV4, freeV6]) {
      const r = await waitFor(`one node answering ${addr}`, async () => {
        const res = await lab.resolve(addr, { count: 2 })
        return res.macs.length === 1 && nodeMacs.has(res.macs[0] ?? '') ? res : undefined
      }, { timeoutMs: 15_000, intervalMs: 500 })
      t.equal(r.macs.length, 1, `${addr} (another Service) is answered by one node, ${r.macs[0] ?? ''}`)
    }

    // The held addresses: refused. The Event names the holder's MAC, for each family.
    const events = await waitFor('AddressInUse Events for both addresses', async () => {
      const out = await lab.kubectl(['get', 'events', '-n', 'default', '--field-selector', 'reason=AddressInUse,involvedObject.name=held', '-o', 'jsonpath={range .items[*]}{.type} {.message}{"\\n"}{end}'])
      return out.includes(HELD_V4) && out.includes(HELD_V6) ? out : undefined
    }, { timeoutMs: 20_000, intervalMs: 500 })
    for (const addr of [HELD_V4, HELD_V6]) {
      const line = events.split('\n').find(l => l.includes(`${addr} is held`)) ?? ''
      t.match(line, new RegExp(`^Warning .*\\(MAC ${clientMac}\\)`), `Warning Event for ${addr} names the holder ${clientMac}`)
    }
    for (const addr of [HELD_V4, HELD_V6]) {
      t.same(await answerers(addr), [clientMac], `${addr}: only the holder answers, no node`)
    }
    // The metric, on whichever speaker won each address.
    const inUse = async (addr: string): Promise<number> => {
      let sum = 0
      for (const node of lab.nodes) {
        const r = await runAllowingFailure(inNetns(node.netns, ['curl', '-s', '--max-time', '2', `http://${node.ipv4}:7473/metrics`]), { timeoutMs: 4000 })
        for (const l of String(r.stdout).split('\n')) {
          if (l.startsWith('l2lb_layer2_address_in_use{') && l.includes(`ip="${addr}"`)) sum += Number(l.split(' ').pop())
        }
      }
      return sum
    }
    for (const addr of [HELD_V4, HELD_V6]) t.ok(await inUse(addr) >= 1, `l2lb_layer2_address_in_use{ip="${addr}"} counts the refusal`)
    // `kubectl l2lb status` lists it.
    const kc = new KubeConfig()
    kc.loadFromFile(path.join(stateDir, 'kubeconfig'))
    const status = await waitFor('the status problems', async () => {
      const r = await collectStatus(kc, { namespace: 'l2lb-system', configMap: 'config', loadBalancerClass: null })
      const held = r.problems.filter(p => p.startsWith('default/held:') && p.includes('held by another host'))
      return held.length === 2 ? held : undefined
    }, { timeoutMs: 10_000, intervalMs: 500 })
    t.ok(status.some(p => p.includes(`${HELD_V4} is held by another host on the LAN (MAC ${clientMac})`)), `status: ${status[0] ?? ''}`)
    t.ok(status.some(p => p.includes(`${HELD_V6} is held`)), 'status: the IPv6 address too')

    // Part 4: another host advertises an announced IPv6 address unsolicited (Override set). The announcing
    // speaker counts the conflict and advertises the address again once that host is quiet (2 s).
    const agent = startInNetns(import.meta.url, CLIENT_HOST.netns, { L2LB_TAIU_ROLE: 'capture' })
    t.teardown(() => agent.kill())
    await agent.next('ready')
    agent.send({ cmd: 'send', hex: unsolicitedAdvertisement(parseMac(clientMac), freeV6).toString('hex'), id: 1 })
    const sentAt = (await agent.next('sent')).at
    const defended = await waitFor('the announcing node advertising again', async () => agent.all('frame').find(e => {
      if (e.at < sentAt + 1900) return false
      try {
        const d = decodeNdpFrame(Buffer.from(String(e.hex), 'hex'))
        return d.message.type === 136 && d.message.target === freeV6 && d.dst === 'ff02::1' && d.message.targetLinkAddress !== null && nodeMacs.has(formatMac(d.message.targetLinkAddress))
      } catch {
        return false
      }
    }), { timeoutMs: 8000, intervalMs: 200 })
    t.ok(defended.at - sentAt >= 1900, `unsolicited NA from the announcing node ${(defended.at - sentAt).toFixed(0)} ms after the forged one (quiet period 2 s)`)
    let conflicts = 0
    for (const node of lab.nodes) {
      const r = await runAllowingFailure(inNetns(node.netns, ['curl', '-s', '--max-time', '2', `http://${node.ipv4}:7473/metrics`]), { timeoutMs: 4000 })
      for (const l of String(r.stdout).split('\n')) if (l.startsWith('l2lb_layer2_conflicts_seen{') && l.includes(`ip="${freeV6}"`)) conflicts += Number(l.split(' ').pop())
    }
    t.equal(conflicts, 1, `l2lb_layer2_conflicts_seen{ip="${freeV6}"} is 1`)

    // The holder lets go: the next probe finds the addresses free and a node announces them.
    await ip(['addr', 'del', `${HELD_V4}/24`, 'dev', CLIENT_IF])
    await ip(['-6', 'addr', 'del', `${HELD_V6}/64`, 'dev', CLIENT_IF])
    for (const addr of [HELD_V4, HELD_V6]) {
      const r = await waitFor(`a node announcing ${addr}`, async () => {
        const res = await lab.resolve(addr, { count: 1 })
        return res.macs.length === 1 && nodeMacs.has(res.macs[0] ?? '') ? res : undefined
      }, { timeoutMs: 25_000, intervalMs: 1000 })
      t.ok(nodeMacs.has(r.macs[0] ?? ''), `${addr} announced by a node once the holder let go (${r.macs[0] ?? ''})`)
    }
    const annotations = JSON.parse(await lab.kubectl(['get', 'svc', 'held', '-o', 'jsonpath={.metadata.annotations}'])) as Record<string, string>
    t.equal(annotations['l2lb.dev/address-in-use'], undefined, 'the address-in-use annotation is cleared')
    t.match(annotations['l2lb.dev/announced-ips'] ?? '', HELD_V4, 'announced-ips records the claim: later takeovers skip the probe')
    t.comment(`total ${((Date.now() - t0) / 1000).toFixed(1)} s`)
  })
}

if (process.env.L2LB_TAIU_ROLE === 'capture') await captureMain()
else await testMain()
