// The NDP responder on a real link: two network namespaces joined by a veth pair (2001:db8:0:9::1/64 and
// ::2/64, without duplicate address detection so both are usable at once), the responder in one (a child
// under `ip netns exec`: a packet socket binds to an interface of its own namespace), and from the other
// the real `ndisc6` tool, the Linux kernel's own neighbour resolution, and a packet-socket capture to see
// the unsolicited advertisements. Needs root, `ip netns` and ndisc6 (Debian package ndisc6); skipped with
// the reason otherwise.
//
// This file is also the children, an NdpResponder and a PacketSocket capture for IPv6 (test/lib/responder-lab.ts).
import { ETHERTYPE_IPV6 } from '../../speaker/core/ethernet.js'
import type { Agent } from '../lib/json-agent.js'
import { pick, run, runStatus, until, vethPair } from '../lib/netns.js'
import { runResponderTestFile, skipWithoutNetns, startResponderLab } from '../lib/responder-lab.js'

const IP_A = '2001:db8:0:9::1'
const IP_B = '2001:db8:0:9::2'
const VIP = '2001:db8:0:9::f0'
const OTHER = '2001:db8:0:9::f1'
const STALE_MAC = '02:00:00:00:09:99'
const pair = vethPair('ndp', { addrA: `${IP_A}/64`, addrB: `${IP_B}/64`, nodad: true })
const { nsA: NS_A, nsB: NS_B, ifA: IF_A, ifB: IF_B } = pair

async function testMain(): Promise<void> {
  const { default: t } = await import('tap')
  const { decodeNdpFrame, neighborSolicitation, unsolicitedAdvertisement } = await import('../../speaker/core/ndp.js')

  if (await skipWithoutNetns(t, 'the NDP responder integration test', [['ndisc6', 'apt-get install -y ndisc6']])) return

  /** Unsolicited advertisements for `ip` from `mac` seen by the capture agent, decoded. */
  const unsolicited = (cap: Agent, ip: string, mac: string): Array<{
    at: number; hopLimit: number; ethDst: string; dst: string; src: string; solicited: boolean; override: boolean; router: boolean; tlla: string
  }> =>
    cap.all('frame').flatMap(e => {
      const raw = Buffer.from(String(e.hex), 'hex')
      try {
        const d = decodeNdpFrame(raw)
        if (d.message.type !== 136 || d.message.target !== ip || d.ethSrc.toString('hex') !== mac) return []
        if (d.dst !== 'ff02::1') return []
        return [{
          at: e.at, hopLimit: raw[21] ?? -1, ethDst: d.ethDst.toString('hex'), dst: d.dst, src: d.src,
          solicited: d.message.solicited, override: d.message.override, router: d.message.router,
          tlla: d.message.targetLinkAddress?.toString('hex') ?? '',
        }]
      } catch {
        return []
      }
    })

  t.test('ndisc6 and the kernel get the responder\'s MAC for announced IPv6 addresses only', async t => {
    const lab = await startResponderLab(t, import.meta.url, pair, [VIP])
    const { cap, resp, mac } = lab
    const macColons = mac.replace(/(..)(?!$)/g, '$1:')
    t.equal(macColons, await pair.mac('a'), 'the responder uses the interface MAC')

    // Unsolicited NA at takeover (RFC 4861 §7.2.6), three of them about 1 s apart.
    t.ok(await until(() => unsolicited(cap, VIP, mac).length >= 2, 4000), 'two unsolicited advertisements seen from the other namespace')
    const u = unsolicited(cap, VIP, mac)
    t.ok(u.every(x => x.hopLimit === 255), 'hop limit 255')
    t.ok(u.every(x => x.ethDst === '333300000001' && x.dst === 'ff02::1'), 'to ff02::1 at 33:33:00:00:00:01')
    t.ok(u.every(x => x.override && !x.solicited && !x.router), 'Override=1, Solicited=0, Router=0')
    t.ok(u.every(x => x.tlla === mac && x.src === VIP), 'TLLA is the responder MAC, source the announced address')
    const gap = (u[1]?.at ?? 0) - (u[0]?.at ?? 0)
    t.ok(gap >= 950 && gap < 2500, `second advertisement ${gap.toFixed(0)} ms after the first (want ~1000)`)

    // The solicited-node group is joined on the interface (a real NIC filters multicast in hardware).
    t.match(await maddr(NS_A, IF_A), /33:33:ff:00:00:f0/, 'solicited-node group 33:33:ff:00:00:f0 joined')

    // The real ndisc6: a multicast NS to ff02::1:ff00:f0, answered with our MAC.
    const yes = await ndisc6(VIP, 2)
    t.equal(yes.mac, macColons, `ndisc6 ${VIP}: ${yes.out.trim().replace(/\n/g, ' | ')}`)
    t.equal(yes.code, 0)
    const no = await ndisc6(OTHER, 2)
    t.equal(no.mac, null, `ndisc6 ${OTHER} (not announced) gets no answer: ${no.out.trim().replace(/\n/g, ' | ')}`)
    t.not(no.code, 0)

    // The Linux kernel resolving the address for real traffic (a UDP datagram) learns our MAC.
    await run('ip', ['netns', 'exec', NS_B, 'bash', '-c', `echo x > /dev/udp/${VIP}/9`]).catch(() => undefined)
    t.ok(await until(async () => (await neigh(VIP)).includes(`lladdr ${macColons}`), 3000, 50), `the kernel in the other namespace resolved ${VIP}: ${await neigh(VIP)}`)

    // The kernel filter, narrowed to the announced addresses: an NA and an NS for another address sent
    // from B, ndisc6's solicitations for OTHER and the kernels' other IPv6 traffic (MLD reports, router
    // solicitations) never leave the kernel, so no not-solicitation, malformed or not-announced drops.
    await lab.send(unsolicitedAdvertisement(lab.capMac, IP_B), neighborSolicitation(lab.capMac, IP_B, '2001:db8:0:9::f2'))
    await new Promise(r => setTimeout(r, 300))
    const stats = await lab.stats()
    t.match(stats, {
      announced: [VIP],
      groups: { '33:33:ff:00:00:f0': 1 },
      drops: { 'not-solicitation': 0, malformed: 0 },
      sendErrors: 0,
      membershipErrors: 0,
    }, 'counters match what went over the wire')
    const asked = pick(stats, 'requestsReceived', VIP)
    t.ok(asked >= 2 && pick(stats, 'responsesSent', VIP) === asked, `every solicitation for ${VIP} answered (${asked}: ndisc6 and the kernel)`)
    t.equal(pick(stats, 'drops', 'not-announced'), 0, 'solicitations for other addresses dropped in the kernel, never seen by the responder')
    const uSent = pick(stats, 'gratuitousSent', VIP)
    t.ok(uSent >= 2 && uSent <= 3, `unsolicited advertisements counted (${uSent}; 3 at most)`)

    // Another host advertising VIP unsolicited (RFC 4861 §7.2.6, Override set): the kernel filter lets
    // it through (target is ours), the responder counts the conflict and advertises VIP again once that
    // host has been quiet for the quiet period (DEFEND_TIMING: 2 s), which wins the caches back.
    const conflictAt = await lab.send(unsolicitedAdvertisement(lab.capMac, VIP))
    t.ok(await until(() => unsolicited(cap, VIP, mac).some(x => x.at >= conflictAt + 1900), 6000), 'VIP advertised again after the quiet period')
    t.equal(pick(await lab.stats(), 'conflictsSeen', VIP), 1, 'the conflict was counted')

    // Withdrawal: unanswered at once, the group left.
    await lab.announce([])
    const gone = await ndisc6(VIP, 1)
    t.equal(gone.mac, null, `after withdrawal ndisc6 ${VIP} is unanswered`)
    t.notMatch(await maddr(NS_A, IF_A), /33:33:ff:00:00:f0/, 'solicited-node group left')

    // Takeover: B holds a stale entry pointing at another MAC (the previous owner); the unsolicited NA
    // with Override=1 makes the kernel replace it without waiting for its own probes.
    await run('ip', ['-n', NS_B, '-6', 'neigh', 'replace', VIP, 'lladdr', STALE_MAC, 'dev', IF_B, 'nud', 'stale'])
    t.match(await neigh(VIP), `lladdr ${STALE_MAC}`, 'B believes the old owner')
    const before = unsolicited(cap, VIP, mac).length
    await lab.announce([VIP])
    t.ok(await until(() => unsolicited(cap, VIP, mac).length > before, 2000), 'a new unsolicited advertisement at once')
    t.ok(await until(async () => (await neigh(VIP)).includes(`lladdr ${macColons}`), 2000, 50), `the kernel's entry was overridden: ${await neigh(VIP)}`)

    // Withdrawing cancels the pending repeats on the wire.
    await lab.announce([])
    const after = unsolicited(cap, VIP, mac).length
    await new Promise(r => setTimeout(r, 1500))
    t.equal(unsolicited(cap, VIP, mac).length, after, 'no more unsolicited advertisements once withdrawn')

    resp.end()
    t.equal(await resp.exited(), 0, 'the responder child exits cleanly after close()')
  })
}

/** One ndisc6 lookup from B: `tries` solicitations 500 ms apart; the MAC it printed, or null. */
async function ndisc6(ip: string, tries: number): Promise<{ code: number; out: string; mac: string | null }> {
  const { code, out } = await runStatus('ip', ['netns', 'exec', NS_B, 'ndisc6', '-1', '-n', '-r', String(tries), '-w', '500', ip, IF_B], { timeout: 10_000 })
  const m = /Target link-layer address: ([0-9A-Fa-f:]+)/.exec(out)
  return { code, out, mac: m?.[1]?.toLowerCase() ?? null }
}

async function neigh(ip: string): Promise<string> {
  return (await run('ip', ['-n', NS_B, '-6', 'neigh', 'show', ip, 'dev', IF_B])).stdout.trim()
}

async function maddr(ns: string, dev: string): Promise<string> {
  return (await run('ip', ['-n', ns, 'maddr', 'show', 'dev', dev])).stdout
}

// Dispatch last, once every declaration above is initialised.
await runResponderTestFile({
  ethertype: ETHERTYPE_IPV6,
  responder: async (iface, log) => new (await import('../../speaker/ndp-responder.js')).NdpResponder({ interface: iface, log }),
  test: testMain,
})
