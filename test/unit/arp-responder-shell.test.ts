// The ArpResponder shell over a fake link: timing of gratuitous ARP, withdrawal, counting. The real
// AF_PACKET path is tested in test/integration/arp-responder.test.ts. Time is a manual clock: every wait
// below is the clock moved by hand, so the schedules are checked to the millisecond and nothing sleeps.
import t from 'tap'
import { ips } from '../lib/canonical-ip.js'
import { pino } from 'pino'
import { ArpResponder, GRATUITOUS_INTERVAL_MS, GRATUITOUS_ROUNDS } from '../../speaker/arp-responder.js'
import { FakeLink, systemError } from '../lib/fake-link.js'
import { ManualClock } from '../lib/manual-clock.js'
import { parseMac } from '../../speaker/core/ethernet.js'
import { arpReply, arpRequest, decodeArpFrame, gratuitousRequest } from '../../speaker/core/arp.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { arpFilterFor, assembleBpf } from '../../speaker/core/bpf.js'

const ours = parseMac('02:00:00:00:00:0b')
const client = parseMac('02:00:00:00:00:64')
const log = pino({ level: 'silent' })

class ArpLink extends FakeLink {
  gratuitousFor(ip: string): Array<{ op: number; tha: string }> {
    return this.sent.map(f => decodeArpFrame(f)).filter(d => d.arp.spa === ip && d.arp.tpa === ip)
      .map(d => ({ op: d.arp.op, tha: d.arp.tha.toString('hex') }))
  }
}

function responder(link: ArpLink, clock: ManualClock, intervalMs = 40, rounds = 3, metrics?: MetricsRegistry): ArpResponder {
  return new ArpResponder({
    interface: 'eth0', log, clock, openLink: () => link, gratuitous: { intervalMs, rounds }, ...(metrics ? { metrics } : {}),
  })
}

t.test('defaults follow MetalLB: every 1.1 s for 5 s', async t => {
  t.equal(GRATUITOUS_INTERVAL_MS, 1100)
  t.equal(GRATUITOUS_ROUNDS, 5)
  t.ok(GRATUITOUS_INTERVAL_MS * (GRATUITOUS_ROUNDS - 1) < 5000, 'last round within 5 s')
})

t.test('the constructor has no side effects; start opens the link once', async t => {
  let opened = 0
  const link = new ArpLink(ours)
  const r = new ArpResponder({ interface: 'eth0', log, openLink: () => { opened++; return link } })
  t.equal(opened, 0)
  t.equal(r.mac, undefined)
  r.start()
  r.start()
  t.equal(opened, 1)
  t.same(r.mac, ours)
  t.same(link.sent, [], 'start sends nothing: the warm-up only runs the decision')
  t.same(r.stats().requestsReceived, {}, 'and counts nothing')
  r.close()
  t.ok(link.closed)
  t.throws(() => r.start(), { code: 'ERR_RESPONDER_CLOSED' })
})

t.test('a newly announced IP gets both gratuitous forms at once, then repeats, then stops', async t => {
  const link = new ArpLink(ours)
  const clock = new ManualClock()
  const r = responder(link, clock, 40, 3)
  r.start()
  r.setAnnounced(ips('192.0.2.240'))
  const ourHex = ours.toString('hex')
  t.same(link.gratuitousFor('192.0.2.240'), [{ op: 1, tha: '000000000000' }, { op: 2, tha: ourHex }], 'request and reply sent synchronously')
  await clock.advance(39)
  t.equal(link.gratuitousFor('192.0.2.240').length, 2, 'the second round not before the interval')
  await clock.advance(1)
  t.equal(link.gratuitousFor('192.0.2.240').length, 4, 'the second round at 40 ms')
  await clock.advance(40)
  t.equal(link.gratuitousFor('192.0.2.240').length, 6, 'three rounds of two')
  await clock.advance(150)
  t.equal(link.gratuitousFor('192.0.2.240').length, 6, 'no fourth round')
  t.same(r.stats().gratuitousSent, { '192.0.2.240': 6 })
  // Setting the same set again is not a new takeover.
  r.setAnnounced(ips('192.0.2.240'))
  t.equal(link.gratuitousFor('192.0.2.240').length, 6)
  r.close()
})

t.test('withdrawing an IP cancels its repeats and stops answering it at once', async t => {
  const link = new ArpLink(ours)
  const clock = new ManualClock()
  const r = responder(link, clock, 50, 5)
  r.start()
  r.setAnnounced(ips('192.0.2.240', '192.0.2.241'))
  t.equal(link.sent.length, 4)
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  t.equal(link.sent.length, 5, 'answered while announced')
  r.setAnnounced(ips('192.0.2.241'))
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  t.equal(link.sent.length, 5, 'not answered once withdrawn')
  await clock.advance(200)
  t.equal(link.gratuitousFor('192.0.2.241').length, 10, 'the kept IP got all five rounds')
  t.equal(link.gratuitousFor('192.0.2.240').length, 2, 'the withdrawn IP got only its first round')
  t.same(r.stats().drops['not-announced'], 1)
  r.close()
})

t.test('requests are answered and counted; IPs set before start are announced at start', async t => {
  const link = new ArpLink(ours)
  const metrics = new MetricsRegistry()
  const r = responder(link, new ManualClock(), 1000, 1, metrics)
  r.setAnnounced(ips('192.0.2.240', '2001:db8:0:1::f0'))
  t.same(r.stats().announced, ['192.0.2.240'], 'IPv6 is not ARP business')
  t.equal(link.sent.length, 0, 'nothing sent before start')
  r.start()
  t.equal(link.sent.length, 2, 'gratuitous at start')
  for (let i = 0; i < 3; i++) link.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.249'))
  link.receive(Buffer.from('garbage'))
  const replies = link.sent.slice(2).map(f => decodeArpFrame(f))
  t.equal(replies.length, 3)
  for (const d of replies) {
    t.ok(d.ethDst.equals(client))
    t.equal(d.arp.op, 2)
    t.equal(d.arp.spa, '192.0.2.240')
  }
  const s = r.stats()
  t.same(s.requestsReceived, { '192.0.2.240': 3 })
  t.same(s.responsesSent, { '192.0.2.240': 3 })
  t.same(s.gratuitousSent, { '192.0.2.240': 2 })
  t.same(s.drops, { malformed: 1, 'own-frame': 0, 'wrong-destination': 0, 'not-request': 0, 'not-announced': 1 })
  t.equal(s.mac, '02:00:00:00:00:0b')
  const text = metrics.render()
  t.match(text, 'l2lb_layer2_requests_received{ip="192.0.2.240"} 3')
  t.match(text, 'l2lb_layer2_responses_sent{ip="192.0.2.240"} 3')
  t.match(text, 'l2lb_layer2_gratuitous_sent{ip="192.0.2.240"} 2')
  t.match(text, 'l2lb_layer2_arp_dropped{reason="malformed"} 1')
  r.close()
})

t.test('send and receive errors are counted, never thrown', async t => {
  const link = new ArpLink(ours)
  const r = responder(link, new ManualClock(), 1000, 1)
  r.start()
  link.failSends = systemError('sendto', 'ENETDOWN', -100)
  r.setAnnounced(ips('192.0.2.240'))
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  link.fail(Object.assign(new Error('recvfrom ENETDOWN'), { code: 'ENETDOWN' }))
  const s = r.stats()
  t.equal(s.sendErrors, 3, 'two gratuitous frames and one reply failed')
  t.equal(s.receiveErrors, 1)
  t.same(s.requestsReceived, { '192.0.2.240': 1 })
  t.same(s.responsesSent, {})
  r.close()
})

t.test('close cancels pending repeats and ignores later calls', async t => {
  const link = new ArpLink(ours)
  const clock = new ManualClock()
  const r = responder(link, clock, 30, 5)
  r.start()
  r.setAnnounced(ips('192.0.2.240'))
  r.close()
  r.close()
  r.setAnnounced(ips('192.0.2.241'))
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  t.equal(clock.pending, 0, 'no timer left')
  await clock.advance(200)
  t.equal(link.sent.length, 2, 'only the first round went out')
  t.ok(link.closed)
})

t.test('the reply is handed to the link before anything is counted (hot path)', async t => {
  const link = new ArpLink(ours)
  const metrics = new MetricsRegistry()
  const r = responder(link, new ManualClock(), 1000, 1, metrics)
  r.start()
  r.setAnnounced(ips('192.0.2.240'))
  const seen: Array<Record<string, number>> = []
  link.onSend = () => seen.push(r.stats().requestsReceived)
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  t.same(seen, [{}], 'nothing counted yet when the reply went out')
  t.same(r.stats().requestsReceived, { '192.0.2.240': 1 })
  t.same(r.stats().responsesSent, { '192.0.2.240': 1 })
  r.close()
})

t.test('a withdrawn IP takes its per-IP counters and metric series with it', async t => {
  const link = new ArpLink(ours)
  const metrics = new MetricsRegistry()
  const r = responder(link, new ManualClock(), 1000, 1, metrics)
  r.start()
  r.setAnnounced(ips('192.0.2.240', '192.0.2.241'))
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  link.receive(Buffer.from('garbage'))
  r.setAnnounced(ips('192.0.2.241'))
  const s = r.stats()
  t.same(s.requestsReceived, {})
  t.same(s.responsesSent, {})
  t.same(s.gratuitousSent, { '192.0.2.241': 2 })
  t.equal(s.drops.malformed, 1, 'drop counters are per reason, not per IP: kept')
  const text = metrics.render()
  t.notMatch(text, '192.0.2.240', 'no series left for the withdrawn IP')
  t.match(text, 'l2lb_layer2_gratuitous_sent{ip="192.0.2.241"} 2')
  t.match(text, 'l2lb_layer2_arp_dropped{reason="malformed"} 1')
  r.close()
})

t.test('a receive error that stops delivery for good: the link is reopened and the IPs announced again', async t => {
  const links = [new ArpLink(ours), new ArpLink(ours)]
  let opened = 0
  const clock = new ManualClock()
  const r = new ArpResponder({
    interface: 'eth0', log, clock, gratuitous: { intervalMs: 1000, rounds: 1 }, reopen: { initialMs: 20, maxMs: 80 },
    openLink: () => {
      const l = links[opened++]
      if (l === undefined) throw systemError('if_nametoindex', 'ENODEV', -19)
      return l
    },
  })
  const [first, second] = links
  if (first === undefined || second === undefined) throw new Error('two links')
  r.start()
  r.setAnnounced(ips('192.0.2.240'))
  t.equal(first.gratuitousFor('192.0.2.240').length, 2)
  first.fail(systemError('recvfrom', 'ENETDOWN', -100))
  t.notOk(first.closed, 'a passing receive error keeps the link')
  first.fail(systemError('uv_poll', 'EBADF', -9))
  t.ok(first.closed, 'a deaf link is closed at once')
  t.equal(r.stats().mac, null, 'no MAC while no link is open')
  await clock.advance(19)
  t.equal(opened, 1, 'not reopened before the backoff')
  await clock.advance(1)
  t.equal(opened, 2, 'reopened after the backoff')
  t.same(second.gratuitousFor('192.0.2.240').map(g => g.op), [1, 2], 'announced again on the new link')
  second.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  first.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  t.equal(second.sent.length, 3, 'answers on the new link; the old one is ignored')
  const s = r.stats()
  t.equal(s.reopens, 1)
  t.equal(s.receiveErrors, 2)
  t.equal(s.mac, '02:00:00:00:00:0b')
  r.close()
  t.ok(second.closed)
})

t.test('a send failing with ENODEV (interface gone): reopen retries with a growing backoff until it works', async t => {
  const first = new ArpLink(ours)
  const second = new ArpLink(parseMac('02:00:00:00:00:0c'))
  const attempts: number[] = []
  let fails = 2
  const clock = new ManualClock()
  const r = new ArpResponder({
    interface: 'eth0', log, clock, gratuitous: { intervalMs: 1000, rounds: 1 }, reopen: { initialMs: 20, maxMs: 1000 },
    openLink: () => {
      attempts.push(clock.now())
      if (attempts.length === 1) return first
      if (fails-- > 0) throw systemError('if_nametoindex', 'ENODEV', -19)
      return second
    },
  })
  r.start()
  first.failSends = systemError('sendto', 'ENODEV', -19)
  r.setAnnounced(ips('192.0.2.240'))
  t.ok(first.closed, 'closed on the first failed send')
  t.equal(r.stats().sendErrors, 1, 'the second gratuitous frame was not tried on the dead link')
  await clock.advance(20 + 40 + 80)
  t.equal(second.sent.length, 2, 'announced on the reopened link')
  t.equal(attempts.length, 4, 'one open, two failed reopens, one that worked')
  const gaps = attempts.slice(1).map((at, i) => at - (attempts[i] ?? at))
  t.same(gaps, [20, 40, 80], 'the delay doubles')
  t.equal(r.stats().reopens, 1)
  t.equal(r.stats().mac, '02:00:00:00:00:0c', 'the recreated interface\'s MAC')
  r.close()
})

t.test('close during a pending reopen cancels it', async t => {
  const link = new ArpLink(ours)
  let opened = 0
  const clock = new ManualClock()
  const r = new ArpResponder({ interface: 'eth0', log, clock, reopen: { initialMs: 20 }, openLink: () => { opened++; return link } })
  r.start()
  link.fail(systemError('uv_poll', 'EBADF', -9))
  r.close()
  t.equal(clock.pending, 0, 'the reopen timer is cleared')
  await clock.advance(60)
  t.equal(opened, 1)
})

t.test('ENETDOWN is a flap unless the interface is gone: only then is the link reopened', async t => {
  const first = new ArpLink(ours)
  const second = new ArpLink(ours)
  const links = [first, second]
  const clock = new ManualClock()
  const r = new ArpResponder({ interface: 'eth0', log, clock, reopen: { initialMs: 20 }, openLink: () => links.shift() ?? second })
  r.start()
  first.fail(systemError('recvfrom', 'ENETDOWN', -100))
  t.notOk(first.closed, 'interface still there: the kernel re-hooks the socket when it comes back up')
  first.gone = true
  first.fail(systemError('recvfrom', 'ENETDOWN', -100))
  t.ok(first.closed, 'interface deleted: the socket is unbound for good')
  await clock.advance(20)
  t.equal(r.stats().reopens, 1)
  r.close()
})

t.test('the kernel filter follows the announced set: attached at start, re-attached on change before announcing', async t => {
  const link = new ArpLink(ours)
  const r = responder(link, new ManualClock(), 1000, 1)
  const expected = (texts: string[]): Buffer => assembleBpf(arpFilterFor(ips(...texts)))
  r.start()
  t.same(link.filters, [expected([])], 'at start: the filter for nothing announced')
  // Each announcement must go out with the filter for the new set already in place.
  const filtersAtSend: number[] = []
  link.onSend = () => filtersAtSend.push(link.filters.length)
  r.setAnnounced(ips('192.0.2.241', '192.0.2.240'))
  t.same(link.filters.slice(1), [expected(['192.0.2.240', '192.0.2.241'])], 're-attached for the new set')
  t.ok(filtersAtSend.length === 4 && filtersAtSend.every(n => n === 2), 'before the gratuitous frames were sent')
  r.setAnnounced(ips('192.0.2.240', '192.0.2.241', '2001:db8::1'))
  t.equal(link.filters.length, 2, 'the same set (other families ignored): no re-attach')
  r.setAnnounced(ips('192.0.2.241'))
  t.same(link.filters.slice(2), [expected(['192.0.2.241'])], 'narrowed on withdrawal')
  r.close()
})

t.test('a filter that cannot be re-attached: the link is replaced, and a new link keeps its open filter', async t => {
  const first = new ArpLink(ours, 7)
  const second = new ArpLink(ours, 8)
  second.failFilter = systemError('setsockopt', 'ENOMEM', -12)
  const links = [first, second]
  const clock = new ManualClock()
  const r = new ArpResponder({ interface: 'eth0', log, clock, openLink: () => links.shift() ?? second, reopen: { initialMs: 10, maxMs: 50 }, gratuitous: { intervalMs: 1000, rounds: 1 } })
  r.start()
  first.failFilter = systemError('setsockopt', 'ENOMEM', -12)
  r.setAnnounced(ips('192.0.2.240'))
  t.ok(first.closed, 'the link whose filter may keep the new IP out is closed')
  await clock.advance(10)
  t.equal(r.stats().reopens, 1, 'and reopened after the backoff')
  // The reopened link could not be narrowed: it answers through the filter it was opened with.
  t.equal(second.gratuitousFor('192.0.2.240').length, 2, 'the IP is announced on the new link')
  second.receive(arpRequest(client, '192.0.2.100', '192.0.2.240'))
  t.same(r.stats().responsesSent, { '192.0.2.240': 1 }, 'and answered')
  r.close()
})

t.test('another host announcing our IP: announced again once it is quiet, at most once per defend interval', async t => {
  const link = new ArpLink(ours)
  const other = parseMac('02:00:00:00:00:0c')
  const metrics = new MetricsRegistry()
  const clock = new ManualClock()
  const r = new ArpResponder({
    interface: 'eth0', log, metrics, clock, openLink: () => link, gratuitous: { intervalMs: 20, rounds: 1 },
    defend: { quietMs: 80, maxWaitMs: 2000, intervalMs: 400 },
  })
  r.start()
  r.setAnnounced(ips('192.0.2.240'))
  const ourAnnouncements = (): number => link.gratuitousFor('192.0.2.240').length
  t.equal(ourAnnouncements(), 2, 'the takeover round')
  // A node that took the IP over while we still hold it announces it three times, 30 ms apart.
  for (let i = 0; i < 3; i++) {
    link.receive(gratuitousRequest(other, '192.0.2.240'))
    await clock.advance(30)
  }
  t.equal(ourAnnouncements(), 2, 'nothing while the other host keeps announcing')
  // Its last announcement was at 60 ms; we are at 90.
  await clock.advance(49)
  t.equal(ourAnnouncements(), 2, 'not before it has been quiet for 80 ms')
  await clock.advance(1)
  t.equal(ourAnnouncements(), 4, 'one round of our own once it has been quiet for 80 ms')
  t.equal(r.stats().conflictsSeen['192.0.2.240'], 3)
  t.match(metrics.render(), /l2lb_layer2_conflicts_seen\{ip="192\.0\.2\.240"\} 3/)
  // Another conflict right away: the next defence waits for the 400 ms interval, though the host is quiet after 80.
  link.receive(gratuitousRequest(other, '192.0.2.240'))
  await clock.advance(399)
  t.equal(ourAnnouncements(), 4, 'not before the defend interval')
  await clock.advance(1)
  t.equal(ourAnnouncements(), 6, 'defended again 400 ms after the last defence')
  // Withdrawn while contested: nothing more is sent for it.
  link.receive(gratuitousRequest(other, '192.0.2.240'))
  r.setAnnounced(ips())
  t.equal(clock.pending, 0, 'the pending defence is cancelled')
  await clock.advance(600)
  t.equal(ourAnnouncements(), 6, 'a withdrawn IP is not defended')
  r.close()
})

t.test('an IP no node announced before is probed first (RFC 5227 §2.1.1): announced only when nobody answers', async t => {
  const link = new ArpLink(ours)
  const outcomes: unknown[] = []
  const clock = new ManualClock()
  const r = new ArpResponder({
    interface: 'eth0', log, clock, openLink: () => link, gratuitous: { intervalMs: 1000, rounds: 1 },
    probe: { probes: 3, intervalMs: 20, waitMs: 40 },
  })
  r.onProbe(o => outcomes.push(o))
  r.start()
  r.setAnnounced(ips('192.0.2.240', '192.0.2.241'), new Set(ips('192.0.2.241')))
  t.equal(link.gratuitousFor('192.0.2.240').length, 2, 'an IP the cluster announced before (a takeover): announced at once')
  t.same(r.stats().probing, ['192.0.2.241'])
  t.same(link.filters.at(-1), assembleBpf(arpFilterFor(ips('192.0.2.240', '192.0.2.241'))), 'the filter lets the answers to the probe in')
  link.receive(arpRequest(client, '192.0.2.100', '192.0.2.241'))
  t.same(r.stats().responsesSent, {}, 'a request for the probed IP is not answered: not ours yet')
  // Probes at 0, 20 and 40 ms (Node runs a 0 ms timer after 1 ms, and so does the manual clock); free at 80.
  await clock.advance(79)
  t.same(r.stats().probing, ['192.0.2.241'], 'still probing until 40 ms after the last probe')
  await clock.advance(1)
  t.ok(r.stats().announced.includes('192.0.2.241'), 'announced once the probe is over')
  const probes = link.sent.map(f => decodeArpFrame(f)).filter(d => d.arp.tpa === '192.0.2.241' && d.arp.spa === '0.0.0.0')
  t.equal(probes.length, 3, 'three ARP probes')
  t.ok(probes.every(p => p.arp.op === 1 && p.ethDst.equals(Buffer.alloc(6, 0xff)) && p.arp.tha.equals(Buffer.alloc(6))), 'broadcast requests, sender IP 0.0.0.0, THA zero')
  const firstGratuitous = link.sent.findIndex(f => { const d = decodeArpFrame(f); return d.arp.spa === '192.0.2.241' })
  const lastProbe = Math.max(...link.sent.map((f, i) => (decodeArpFrame(f).arp.spa === '0.0.0.0' ? i : -1)))
  t.ok(lastProbe < firstGratuitous, 'announced only after the last probe')
  t.same(outcomes, [{ ip: '192.0.2.241', interface: 'eth0', result: 'free' }])
  r.close()
})

t.test('a host answering the probe: the IP is refused, counted, reported, and probed again later', async t => {
  const link = new ArpLink(ours)
  const holder = parseMac('02:00:00:00:00:99')
  const metrics = new MetricsRegistry()
  const outcomes: unknown[] = []
  const clock = new ManualClock()
  const r = new ArpResponder({
    interface: 'eth0', log, metrics, clock, openLink: () => link, gratuitous: { intervalMs: 1000, rounds: 1 },
    probe: { probes: 2, intervalMs: 20, waitMs: 60, retryMs: 150 },
  })
  r.onProbe(o => outcomes.push(o))
  r.start()
  r.setAnnounced(ips('192.0.2.242'), new Set(ips('192.0.2.242')))
  // The holder's kernel answers the probe: a reply to our MAC with the address as sender, TPA 0.0.0.0.
  link.receive(arpReply(holder, '192.0.2.242', ours, '0.0.0.0'))
  t.same(outcomes, [{ ip: '192.0.2.242', interface: 'eth0', result: 'in-use', mac: '02:00:00:00:00:99' }])
  t.match(r.stats(), { probing: [], announced: [], refused: { '192.0.2.242': '02:00:00:00:00:99' }, addressInUse: { '192.0.2.242': 1 } })
  t.match(metrics.render(), /l2lb_layer2_address_in_use\{ip="192\.0\.2\.242"\} 1/)
  t.same(link.filters.at(-1), assembleBpf(arpFilterFor([])), 'a refused IP is not watched')
  r.setAnnounced(ips('192.0.2.242'), new Set(ips('192.0.2.242')))
  t.same(r.stats().refused, { '192.0.2.242': '02:00:00:00:00:99' }, 'the speaker asking again changes nothing until the retry')
  await clock.advance(149)
  t.equal(link.gratuitousFor('192.0.2.242').length, 0, 'never announced')
  t.same(r.stats().probing, [], 'not probed again before retryMs')
  await clock.advance(1)
  t.same(r.stats().probing, ['192.0.2.242'], 'probed again after retryMs')
  // The retry: the holder has gone, nobody answers; free 20 + 60 ms later.
  await clock.advance(80)
  t.ok(r.stats().announced.includes('192.0.2.242'), 'then announced')
  t.same(outcomes.at(-1), { ip: '192.0.2.242', interface: 'eth0', result: 'free' })
  t.same(r.stats().refused, {})
  r.setAnnounced(ips())
  t.notMatch(metrics.render(), /l2lb_layer2_address_in_use\{ip="192\.0\.2\.242"\}/, 'the series goes with the IP')
  r.close()
})

t.test('withdrawing an IP under probe cancels the probe', async t => {
  const link = new ArpLink(ours)
  const outcomes: unknown[] = []
  const clock = new ManualClock()
  const r = new ArpResponder({ interface: 'eth0', log, clock, openLink: () => link, probe: { probes: 3, intervalMs: 20, waitMs: 20 } })
  r.onProbe(o => outcomes.push(o))
  r.start()
  r.setAnnounced(ips('192.0.2.243'), new Set(ips('192.0.2.243')))
  r.setAnnounced(ips())
  const sentBefore = link.sent.length
  t.equal(clock.pending, 0, 'the probe timers are cleared')
  await clock.advance(120)
  t.equal(link.sent.length, sentBefore, 'no more probes, no announcement')
  t.same(outcomes, [])
  t.same(r.stats().probing, [])
  r.close()
})
