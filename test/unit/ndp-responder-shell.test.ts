// The NdpResponder shell over a fake link: solicited-node group membership (shared groups counted),
// unsolicited advertisements and their cancellation, answering and counting. The real AF_PACKET path is
// tested in test/integration/ndp-responder.test.ts. Time is a manual clock: every wait below is the clock
// moved by hand, so nothing sleeps.
import t from 'tap'
import { ips } from '../lib/canonical-ip.js'
import { pino } from 'pino'
import { NdpResponder, UNSOLICITED_NA_INTERVAL_MS, UNSOLICITED_NA_ROUNDS } from '../../speaker/ndp-responder.js'
import { FakeLink, systemError } from '../lib/fake-link.js'
import { ManualClock } from '../lib/manual-clock.js'
import { formatMac, parseMac } from '../../speaker/core/ethernet.js'
import { decodeNdpFrame, neighborSolicitation, solicitedAdvertisement } from '../../speaker/core/ndp.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { assembleBpf, ndpFilterFor } from '../../speaker/core/bpf.js'

const ours = parseMac('02:00:00:00:09:01')
const client = parseMac('02:00:00:00:09:64')
const CLIENT_IP = '2001:db8:0:9::64'
const VIP = '2001:db8:0:9::f0'
const VIP_SAME_GROUP = '2001:db8:0:a::f0'
const VIP_B = '2001:db8:0:9::f1'
const log = pino({ level: 'silent' })

class NdpLink extends FakeLink {
  /** Unsolicited advertisements sent for `ip`. */
  unsolicitedFor(ip: string): Array<{ dst: string; solicited: boolean; override: boolean }> {
    return this.sent.map(f => decodeNdpFrame(f)).flatMap(d =>
      d.message.type === 136 && d.message.target === ip && d.dst === 'ff02::1'
        ? [{ dst: d.dst, solicited: d.message.solicited, override: d.message.override }]
        : [])
  }
}

function responder(link: NdpLink, clock: ManualClock, intervalMs = 40, rounds = 3, metrics?: MetricsRegistry): NdpResponder {
  return new NdpResponder({
    interface: 'eth0', log, clock, openLink: () => link, unsolicited: { intervalMs, rounds }, ...(metrics ? { metrics } : {}),
  })
}

t.test('defaults follow RFC 4861 §7.2.6 and §10: MAX_NEIGHBOR_ADVERTISEMENT 3, RetransTimer 1 s apart', async t => {
  t.equal(UNSOLICITED_NA_ROUNDS, 3)
  t.equal(UNSOLICITED_NA_INTERVAL_MS, 1000)
})

t.test('the constructor has no side effects; start opens the link once', async t => {
  let opened = 0
  const link = new NdpLink(ours)
  const r = new NdpResponder({ interface: 'eth0', log, openLink: () => { opened++; return link } })
  t.equal(opened, 0)
  t.equal(r.mac, undefined)
  t.equal(r.interfaceName, 'eth0')
  r.start()
  r.start()
  t.equal(opened, 1)
  t.same(r.mac, ours)
  r.close()
  t.ok(link.closed)
  t.throws(() => r.start(), { code: 'ERR_RESPONDER_CLOSED' })
})

t.test('a newly announced IP: group joined, unsolicited NA at once, repeated, then stopped', async t => {
  const link = new NdpLink(ours)
  const clock = new ManualClock()
  const r = responder(link, clock, 40, 3)
  r.start()
  r.setAnnounced(ips(VIP))
  t.same(link.membership, ['+33:33:ff:00:00:f0'])
  t.same(link.unsolicitedFor(VIP), [{ dst: 'ff02::1', solicited: false, override: true }], 'first NA sent synchronously')
  await clock.advance(39)
  t.equal(link.unsolicitedFor(VIP).length, 1, 'the second not before the interval')
  await clock.advance(1)
  t.equal(link.unsolicitedFor(VIP).length, 2, 'the second at 40 ms')
  await clock.advance(40)
  t.equal(link.unsolicitedFor(VIP).length, 3, 'three rounds')
  await clock.advance(150)
  t.equal(link.unsolicitedFor(VIP).length, 3, 'no fourth round')
  t.same(r.stats().gratuitousSent, { [VIP]: 3 })
  r.setAnnounced(ips('2001:DB8:0:9:0::F0'))
  t.equal(link.unsolicitedFor(VIP).length, 3, 'the same address in another spelling is not a new takeover')
  t.same(link.membership, ['+33:33:ff:00:00:f0'])
  r.close()
})

t.test('addresses sharing a solicited-node group: joined once, left after the last one goes', async t => {
  const link = new NdpLink(ours)
  const r = responder(link, new ManualClock(), 1000, 1)
  r.start()
  r.setAnnounced(ips(VIP, VIP_SAME_GROUP, VIP_B))
  t.same(link.membership, ['+33:33:ff:00:00:f0', '+33:33:ff:00:00:f1'])
  t.same(r.stats().groups, { '33:33:ff:00:00:f0': 2, '33:33:ff:00:00:f1': 1 })
  r.setAnnounced(ips(VIP_SAME_GROUP, VIP_B))
  t.same(link.membership.length, 2, 'still needed by the other address')
  r.setAnnounced(ips(VIP_B))
  t.same(link.membership.slice(2), ['-33:33:ff:00:00:f0'])
  r.setAnnounced(ips())
  t.same(link.membership.slice(3), ['-33:33:ff:00:00:f1'])
  t.same(r.stats().groups, {})
  r.close()
})

t.test('withdrawing an IP cancels its repeats and stops answering it at once', async t => {
  const link = new NdpLink(ours)
  const clock = new ManualClock()
  const r = responder(link, clock, 50, 3)
  r.start()
  r.setAnnounced(ips(VIP, VIP_B))
  t.equal(link.sent.length, 2)
  link.receive(neighborSolicitation(client, CLIENT_IP, VIP))
  t.equal(link.sent.length, 3, 'answered while announced')
  r.setAnnounced(ips(VIP_B))
  link.receive(neighborSolicitation(client, CLIENT_IP, VIP))
  t.equal(link.sent.length, 3, 'not answered once withdrawn')
  await clock.advance(100)
  t.equal(link.unsolicitedFor(VIP_B).length, 3, 'the kept IP got all three rounds')
  t.equal(link.unsolicitedFor(VIP).length, 1, 'the withdrawn IP got only its first')
  t.same(r.stats().drops['not-announced'], 1)
  r.close()
})

t.test('solicitations are answered and counted; IPs set before start are joined and announced at start', async t => {
  const link = new NdpLink(ours)
  const metrics = new MetricsRegistry()
  const r = responder(link, new ManualClock(), 1000, 1, metrics)
  r.setAnnounced(ips(VIP, '192.0.2.240', '2001:db8:0:9::f0'))
  t.same(r.stats().announced, [VIP], 'IPv4 (ARP\'s business) and a duplicate dropped')
  t.equal(link.sent.length + link.membership.length, 0, 'nothing done before start')
  r.start()
  t.same(link.membership, ['+33:33:ff:00:00:f0'])
  t.equal(link.sent.length, 1, 'unsolicited NA at start')
  for (let i = 0; i < 3; i++) link.receive(neighborSolicitation(client, CLIENT_IP, VIP))
  link.receive(neighborSolicitation(client, CLIENT_IP, VIP_B))
  link.receive(Buffer.from('garbage'))
  const replies = link.sent.slice(1).map(f => decodeNdpFrame(f))
  t.equal(replies.length, 3)
  for (const d of replies) {
    t.ok(d.ethDst.equals(client))
    t.equal(d.dst, CLIENT_IP)
    t.match(d.message, { type: 136, target: VIP, solicited: true, override: true, router: false, targetLinkAddress: ours })
  }
  const s = r.stats()
  t.same(s.requestsReceived, { [VIP]: 3 })
  t.same(s.responsesSent, { [VIP]: 3 })
  t.same(s.gratuitousSent, { [VIP]: 1 })
  t.same(s.drops, { malformed: 1, 'own-frame': 0, 'not-solicitation': 0, 'wrong-destination': 0, 'not-announced': 1 })
  t.equal(s.mac, '02:00:00:00:09:01')
  const text = metrics.render()
  t.match(text, `l2lb_layer2_requests_received{ip="${VIP}"} 3`)
  t.match(text, `l2lb_layer2_responses_sent{ip="${VIP}"} 3`)
  t.match(text, `l2lb_layer2_gratuitous_sent{ip="${VIP}"} 1`)
  t.match(text, 'l2lb_layer2_ndp_dropped{reason="malformed"} 1')
  r.close()
})

t.test('the ARP and NDP responders share the l2lb_layer2_* families in one registry', async t => {
  const { ArpResponder } = await import('../../speaker/arp-responder.js')
  const metrics = new MetricsRegistry()
  const arp = new ArpResponder({
    interface: 'eth0', log, metrics, gratuitous: { rounds: 1 },
    openLink: () => new FakeLink(ours),
  })
  const link = new NdpLink(ours)
  const ndp = responder(link, new ManualClock(), 1000, 1, metrics)
  arp.start()
  ndp.start()
  arp.setAnnounced(ips('192.0.2.240', VIP))
  ndp.setAnnounced(ips('192.0.2.240', VIP))
  const text = metrics.render()
  t.equal(text.match(/^# TYPE l2lb_layer2_gratuitous_sent counter$/gm)?.length, 1, 'one family')
  t.match(text, 'l2lb_layer2_gratuitous_sent{ip="192.0.2.240"} 2')
  t.match(text, `l2lb_layer2_gratuitous_sent{ip="${VIP}"} 1`)
  arp.close()
  ndp.close()
})

t.test('send, receive and membership errors are counted, never thrown', async t => {
  const link = new NdpLink(ours)
  const r = responder(link, new ManualClock(), 1000, 1)
  r.start()
  link.failSends = systemError('sendto', 'ENETDOWN', -100)
  link.failJoins = true
  r.setAnnounced(ips(VIP))
  link.receive(neighborSolicitation(client, CLIENT_IP, VIP))
  link.fail(Object.assign(new Error('recvfrom ENETDOWN'), { code: 'ENETDOWN' }))
  const s = r.stats()
  t.equal(s.sendErrors, 2, 'the unsolicited NA and the answer failed')
  t.equal(s.receiveErrors, 1)
  t.equal(s.membershipErrors, 1)
  t.same(s.requestsReceived, { [VIP]: 1 })
  t.same(s.responsesSent, {})
  t.same(s.groups, { '33:33:ff:00:00:f0': 1 }, 'the address still counts in its group')
  r.setAnnounced(ips())
  t.same(link.membership, [], 'a group never joined is not left')
  t.equal(r.stats().membershipErrors, 1)
  r.close()
})

t.test('close cancels pending repeats and ignores later calls', async t => {
  const link = new NdpLink(ours)
  const clock = new ManualClock()
  const r = responder(link, clock, 30, 3)
  r.start()
  r.setAnnounced(ips(VIP))
  r.close()
  r.close()
  r.setAnnounced(ips(VIP_B))
  link.receive(neighborSolicitation(client, CLIENT_IP, VIP))
  t.equal(clock.pending, 0, 'no timer left')
  await clock.advance(100)
  t.equal(link.sent.length, 1, 'only the first NA went out')
  t.same(link.membership, ['+33:33:ff:00:00:f0'], 'closing the socket leaves the groups; no explicit leave')
  t.ok(link.closed)
})

t.test('a reopened link joins the groups again and re-announces; stats carry reopens', async t => {
  const first = new NdpLink(ours)
  const second = new NdpLink(ours)
  const links = [first, second]
  const clock = new ManualClock()
  const r = new NdpResponder({
    interface: 'eth0', log, clock, unsolicited: { intervalMs: 1000, rounds: 1 }, reopen: { initialMs: 20 },
    openLink: () => links.shift() ?? second,
  })
  r.start()
  r.setAnnounced(ips(VIP, VIP_SAME_GROUP))
  first.fail(systemError('uv_poll', 'EBADF', -9))
  t.ok(first.closed)
  t.same(first.membership, ['+33:33:ff:00:00:f0'], 'closing leaves the group; no explicit leave')
  await clock.advance(20)
  t.equal(r.stats().reopens, 1, 'reopened after the backoff')
  t.same(second.membership, ['+33:33:ff:00:00:f0'], 'joined once again for both addresses')
  t.same(r.stats().groups, { '33:33:ff:00:00:f0': 2 })
  t.equal(second.unsolicitedFor(VIP).length, 1)
  t.equal(second.unsolicitedFor(VIP_SAME_GROUP).length, 1)
  r.setAnnounced(ips())
  t.same(second.membership, ['+33:33:ff:00:00:f0', '-33:33:ff:00:00:f0'])
  r.close()
})

t.test('the kernel filter follows the announced set: attached at start, re-attached on change before announcing', async t => {
  const link = new NdpLink(ours)
  const r = responder(link, new ManualClock(), 1000, 1)
  const expected = (texts: string[]): Buffer => assembleBpf(ndpFilterFor(ips(...texts)))
  r.start()
  t.same(link.filters, [expected([])], 'at start: the filter for nothing announced')
  const filtersAtSend: number[] = []
  link.onSend = () => filtersAtSend.push(link.filters.length)
  r.setAnnounced(ips(VIP_B, VIP))
  t.same(link.filters.slice(1), [expected([VIP, VIP_B])], 're-attached for the new set')
  t.ok(filtersAtSend.length === 2 && filtersAtSend.every(n => n === 2), 'before the unsolicited advertisements were sent')
  r.setAnnounced(ips(VIP, VIP_B, '192.0.2.240'))
  t.equal(link.filters.length, 2, 'the same set (IPv4 ignored): no re-attach')
  r.setAnnounced(ips(VIP))
  t.same(link.filters.slice(2), [expected([VIP])], 'narrowed on withdrawal')
  r.close()
})

t.test('an address no node announced before gets duplicate address detection first (RFC 4862 §5.4); an NA from its holder refuses it', async t => {
  const link = new NdpLink(ours)
  const holder = parseMac('02:00:00:00:09:99')
  const outcomes: unknown[] = []
  const clock = new ManualClock()
  const r = new NdpResponder({
    interface: 'eth0', log, clock, openLink: () => link, unsolicited: { intervalMs: 1000, rounds: 1 },
    probe: { probes: 2, intervalMs: 20, waitMs: 60, retryMs: 60_000 },
  })
  r.onProbe(o => outcomes.push(o))
  r.start()
  r.setAnnounced(ips(VIP, VIP_B), new Set(ips(VIP, VIP_B)))
  t.same(r.stats().probing, [VIP, VIP_B].sort())
  const dadSent = (): ReturnType<typeof decodeNdpFrame>[] => link.sent.map(f => decodeNdpFrame(f)).filter(d => d.src === '::')
  // The first probe is a 0 ms timer, which Node (and the manual clock) runs after 1 ms.
  await clock.advance(1)
  t.equal(dadSent().length, 2, 'a DAD solicitation per address')
  const dad = dadSent()
  t.ok(dad.every(d => d.message.type === 135 && d.message.sourceLinkAddress === null), 'from ::, without the source link-layer option')
  t.same(dad.map(d => d.message.target).sort(), [VIP, VIP_B].sort())
  // VIP's holder answers (RFC 4861 §7.2.4): to all-nodes, Solicited=0, TLLA its MAC.
  link.receive(solicitedAdvertisement(holder, VIP, client, '::'))
  t.same(outcomes, [{ ip: VIP, interface: 'eth0', result: 'in-use', mac: '02:00:00:00:09:99' }])
  // Probes at 0 and 20 ms, free 60 ms after the last.
  await clock.advance(78)
  t.same(r.stats().announced, [], 'not before the probe is over')
  await clock.advance(1)
  t.ok(r.stats().announced.includes(VIP_B), 'the other address, unanswered, is announced')
  t.same(r.stats().announced, [VIP_B], 'the refused one is not')
  t.same(r.stats().refused, { [VIP]: '02:00:00:00:09:99' })
  t.same(r.stats().groups, { '33:33:ff:00:00:f1': 1 }, 'only the announced address has its group joined')
  r.close()
})
