// The ARP responder on a real link: two network namespaces joined by a veth pair (192.0.2.201/24 and
// 192.0.2.202/24), the responder in one (in a child under `ip netns exec`: a packet socket binds to an
// interface of its own namespace), and from the other the real iputils `arping` plus a packet-socket
// capture to see the gratuitous ARP. Needs root, `ip netns` and arping; skipped with the reason otherwise.
//
// This file is also the children, an ArpResponder and a PacketSocket capture for ARP (test/lib/responder-lab.ts).
import { ETHERTYPE_ARP } from '../../speaker/core/ethernet.js'
import type { Agent } from '../lib/json-agent.js'
import { pick, run, runStatus, until, vethPair } from '../lib/netns.js'
import { runResponderTestFile, skipWithoutNetns, startResponderLab } from '../lib/responder-lab.js'

const IP_A = '192.0.2.201'
const IP_B = '192.0.2.202'
const VIP = '192.0.2.240'
const OTHER = '192.0.2.241'
const LATER = '192.0.2.242'
const pair = vethPair('arp', { addrA: `${IP_A}/24`, addrB: `${IP_B}/24` })
const { nsA: NS_A, nsB: NS_B, ifA: IF_A, ifB: IF_B } = pair

async function testMain(): Promise<void> {
  const { default: t } = await import('tap')
  const { decodeArpFrame, gratuitousReply, arpRequest } = await import('../../speaker/core/arp.js')

  if (await skipWithoutNetns(t, 'the ARP responder integration test', [['arping', 'apt-get install -y iputils-arping']])) return

  /** Gratuitous frames for `ip` seen by the capture agent, decoded. */
  const gratuitous = (cap: Agent, ip: string, mac: string): Array<{ at: number; op: number; bcast: boolean; thaIsSha: boolean; thaZero: boolean }> =>
    cap.all('frame').flatMap(e => {
      try {
        const d = decodeArpFrame(Buffer.from(String(e.hex), 'hex'))
        if (d.arp.spa !== ip || d.arp.tpa !== ip || d.arp.sha.toString('hex') !== mac) return []
        return [{
          at: e.at, op: d.arp.op, bcast: d.ethDst.toString('hex') === 'ffffffffffff',
          thaIsSha: d.arp.tha.equals(d.arp.sha), thaZero: d.arp.tha.every(b => b === 0),
        }]
      } catch {
        return []
      }
    })

  t.test('arping is answered by the responder for announced IPs only', async t => {
    const lab = await startResponderLab(t, import.meta.url, pair, [VIP])
    const { cap, resp, mac } = lab
    t.equal(mac, (await pair.mac('a')).replace(/:/g, ''), 'the responder uses the interface MAC')

    // Gratuitous ARP at takeover, both forms, repeated after ~1.1 s (Linux locktime is 1 s).
    t.ok(await until(() => gratuitous(cap, VIP, mac).length >= 4, 5000), 'two rounds of gratuitous ARP seen from the other namespace')
    const g = gratuitous(cap, VIP, mac)
    const first = g.slice(0, 2)
    t.same(first.map(x => x.op).sort(), [1, 2], 'first round: one request, one reply')
    t.ok(g.every(x => x.bcast), 'all broadcast')
    t.ok(g.filter(x => x.op === 1).every(x => x.thaZero), 'the request (RFC 5227 announcement) has THA zero')
    t.ok(g.filter(x => x.op === 2).every(x => x.thaIsSha), 'the reply (RFC 5944 §4.6) has THA = SHA')
    const gap = (g[2]?.at ?? 0) - (g[0]?.at ?? 0)
    t.ok(gap >= 1000 && gap < 2500, `second round ${gap.toFixed(0)} ms after the first (want ~1100)`)

    // The real arping: three requests (the first broadcast, then unicast to the learned MAC), three replies.
    const yes = await arping(VIP, 3, 5)
    t.equal(yes.replies.length, 3, `arping ${VIP}: 3 replies (${yes.out.trim().split('\n').pop() ?? ''})`)
    t.ok(yes.replies.every(r => r.ip === VIP && r.mac === mac), `every reply carries the responder's MAC ${mac}`)
    t.equal(yes.code, 0)

    const no = await arping(OTHER, 2, 3)
    t.equal(no.replies.length, 0, `arping ${OTHER} (not announced) gets no reply`)
    t.not(no.code, 0)

    // The kernel filter, narrowed to the announced IPs: a reply and a request for another IP sent from B
    // never leave the kernel (no 'not-request'), nor do arping's requests for OTHER (no 'not-announced').
    await lab.send(gratuitousReply(lab.capMac, IP_B), arpRequest(lab.capMac, IP_B, '192.0.2.243'))
    await new Promise(r => setTimeout(r, 300))
    const stats = await lab.stats()
    t.match(stats, {
      announced: [VIP],
      requestsReceived: { [VIP]: 3 },
      responsesSent: { [VIP]: 3 },
      drops: { 'not-request': 0, malformed: 0 },
      sendErrors: 0,
    }, 'counters match what went over the wire')
    t.equal(pick(stats, 'drops', 'not-announced'), 0, 'requests for other IPs dropped in the kernel, never seen by the responder')
    const gSent = pick(stats, 'gratuitousSent', VIP)
    t.ok(gSent >= 4 && gSent <= 10, `gratuitous frames counted (${gSent}; 5 rounds of 2 at most)`)

    // A host that has VIP configured statically: its request for its gateway carries VIP as sender. The
    // kernel filter lets it through (sender is ours), the responder counts the conflict and announces VIP
    // again once that host has been quiet for the quiet period (RFC 5227 §2.4 (b); DEFEND_TIMING: 2 s).
    const conflictAt = await lab.send(arpRequest(lab.capMac, VIP, IP_B))
    t.ok(await until(() => gratuitous(cap, VIP, mac).some(x => x.at >= conflictAt + 1900), 6000), 'VIP announced again after the quiet period')
    t.equal(pick(await lab.stats(), 'conflictsSeen', VIP), 1, 'the conflict was counted')

    // Withdrawal: unanswered at once.
    await lab.announce([])
    const gone = await arping(VIP, 2, 2)
    t.equal(gone.replies.length, 0, `after withdrawal arping ${VIP} is unanswered`)

    // A newly won IP is announced at once; withdrawing it cancels the pending repeats on the wire.
    await lab.announce([LATER])
    t.ok(await until(() => gratuitous(cap, LATER, mac).length >= 2, 2000), `gratuitous ARP for ${LATER} right away`)
    await lab.announce([])
    const before = gratuitous(cap, LATER, mac).length
    await new Promise(r => setTimeout(r, 1600))
    t.equal(gratuitous(cap, LATER, mac).length, before, 'no more gratuitous ARP once withdrawn')

    // A link flap: the kernel reports ENETDOWN on the socket (counted, not fatal) and re-hooks it when the
    // interface comes back up, so the responder answers again without a restart.
    await lab.announce([VIP])
    await run('ip', ['-n', NS_A, 'link', 'set', IF_A, 'down'])
    await new Promise(r => setTimeout(r, 200))
    await run('ip', ['-n', NS_A, 'link', 'set', IF_A, 'up'])
    const back = await arping(VIP, 2, 4)
    t.ok(back.replies.length >= 1 && back.replies.every(r => r.mac === mac), `answered again after the link flap (${back.replies.length} replies; arping said: ${back.out.trim().split('\n').pop() ?? ''})`)
    const after = await lab.stats()
    t.ok(pick(after, 'receiveErrors') >= 1, `the receive error (ENETDOWN) was counted, not fatal (${pick(after, 'receiveErrors')})`)
    t.equal(pick(after, 'reopens'), 0, 'a flap needs no new socket')

    // The interface deleted and created again (a new ifindex): the old socket is unbound for good, so the
    // responder opens a new one (with backoff while the interface is missing) and announces again.
    await run('ip', ['-n', NS_A, 'link', 'del', IF_A])
    await new Promise(r => setTimeout(r, 300))
    await pair.link()
    const macNew = (await pair.mac('a')).replace(/:/g, '')
    // The capture's own socket went deaf with the old interface: a new one, in time for the later rounds.
    const cap2 = await lab.capture()
    t.ok(await until(() => gratuitous(cap2, VIP, macNew).length >= 2, 8000), 'gratuitous ARP again, from the new interface\'s MAC')
    const again = await arping(VIP, 2, 4)
    t.ok(again.replies.length >= 1 && again.replies.every(r => r.mac === macNew), `answered on the re-created interface (${again.replies.length} replies)`)
    const reopened = await lab.stats()
    t.equal(pick(reopened, 'reopens'), 1, 'one reopen')
    t.equal(String(Reflect.get(Object(reopened), 'mac')).replace(/:/g, ''), macNew, 'stats show the new MAC')

    resp.end()
    t.equal(await resp.exited(), 0, 'the responder child exits cleanly after close()')
  })
}

async function arping(ip: string, count: number, deadline: number): Promise<{ code: number; out: string; replies: Array<{ ip: string; mac: string }> }> {
  const { code, out } = await runStatus('ip', ['netns', 'exec', NS_B, 'arping', '-c', String(count), '-w', String(deadline), '-I', IF_B, ip], { timeout: (deadline + 5) * 1000 })
  const replies = [...out.matchAll(/reply from ([0-9.]+) \[([0-9A-Fa-f:]+)\]/g)].map(m => ({
    ip: m[1] ?? '', mac: (m[2] ?? '').toLowerCase().replace(/:/g, ''),
  }))
  return { code, out, replies }
}

// Dispatch last, once every declaration above is initialised.
await runResponderTestFile({
  ethertype: ETHERTYPE_ARP,
  responder: async (iface, log) => new (await import('../../speaker/arp-responder.js')).ArpResponder({ interface: iface, log }),
  test: testMain,
})
