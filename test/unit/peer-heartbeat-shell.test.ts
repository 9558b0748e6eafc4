// The peer-heartbeat shell on fake links: what it sends and when, what it hands the speaker, what it drops,
// and that a broken interface leaves the others working. Time is a manual clock (test/lib/manual-clock.ts):
// "every interval" is a number of intervals advanced, not a hope that the machine keeps up.
import t from 'tap'
import { pino } from 'pino'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { decodeHeartbeat, encodeHeartbeat, type ReceivedHeartbeat } from '../../speaker/core/peer-heartbeat.js'
import { PeerHeartbeats } from '../../speaker/peer-heartbeat.js'
import { FakeLink, systemError } from '../lib/fake-link.js'
import { ManualClock } from '../lib/manual-clock.js'

const log = pino({ level: 'silent' })
const PEER = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0c])

/** An unsigned frame of the unnamed cluster, from one process of `node` (boot id 7). */
function peerFrame(node: string, sequence: number): Buffer {
  return encodeHeartbeat(PEER, { node, kind: 'alive', reachesApi: false, intervalMs: 200, sequence, cluster: '', bootId: 7n, sentAtMs: 1_000 + sequence }, null)
}

const INTERVAL = 20

function setup(interfaces = ['eth0'], failOpen: string[] = []): { hb: PeerHeartbeats; links: Map<string, FakeLink>; heard: ReceivedHeartbeat[]; metrics: MetricsRegistry; clock: ManualClock } {
  const links = new Map<string, FakeLink>()
  const metrics = new MetricsRegistry()
  const clock = new ManualClock()
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces, intervalMs: INTERVAL, log, metrics, clock,
    openLink: name => {
      if (failOpen.includes(name)) throw systemError('socket', 'EPERM', -1)
      const l = new FakeLink(Buffer.from([0x02, 0, 0, 0, 0, links.size + 1]))
      links.set(name, l)
      return l
    },
  })
  const heard: ReceivedHeartbeat[] = []
  hb.listen(h => heard.push(h))
  hb.join(() => ({ kind: 'alive', reachesApi: false }))
  return { hb, links, heard, metrics, clock }
}

t.test('joins the group, says alive at once and every interval, leaving on close', async t => {
  const { hb, links, clock } = setup()
  const link = links.get('eth0')
  if (!link) throw new Error('no link opened')
  t.same(link.membership, ['+03:6c:32:6c:62:00'], 'the heartbeat group is joined')
  t.equal(link.sent.length, 1, 'one heartbeat at the join')
  t.equal(decodeHeartbeat(link.sent[0] ?? Buffer.alloc(0)).kind, 'alive', 'the first heartbeat goes out at start')
  t.equal(hb.lastSentMs(), clock.now(), 'lastSentMs reads the injected clock')
  await clock.advance(INTERVAL - 1)
  t.equal(link.sent.length, 1, 'nothing more before an interval has passed')
  await clock.advance(1)
  t.equal(link.sent.length, 2, 'the next one interval later')
  t.equal(hb.lastSentMs(), clock.now())
  await clock.advance(3 * INTERVAL)
  t.equal(link.sent.length, 5, 'then one per interval')
  const seqs = link.sent.map(f => decodeHeartbeat(f).sequence)
  t.same(seqs, seqs.map((_, i) => i), 'sequence numbers count up by one')
  const first = decodeHeartbeat(link.sent[0] ?? Buffer.alloc(0))
  t.equal(first.node, 'l2lb-node1')
  t.equal(first.intervalMs, 20, 'the interval is announced, so peers know when silence means death')
  t.same(first.src, link.mac, 'sent from the interface MAC')
  hb.close()
  const last = link.sent.at(-1) ?? Buffer.alloc(0)
  t.equal(decodeHeartbeat(last).kind, 'leaving', 'close says leaving')
  t.ok(link.closed, 'and closes the link')
  const n = link.sent.length
  t.equal(clock.pending, 0, 'close cancels the interval timer')
  await clock.advance(3 * INTERVAL)
  t.equal(link.sent.length, n, 'nothing is sent after close')
})

t.test('hands over heartbeats of other nodes; drops and counts everything else', async t => {
  const { hb, links, heard, metrics } = setup()
  const link = links.get('eth0')
  if (!link) throw new Error('no link opened')
  link.receive(peerFrame('l2lb-node2', 9))
  t.equal(heard.length, 1)
  t.same(heard[0], { node: 'l2lb-node2', kind: 'alive', reachesApi: false, intervalMs: 200, sequence: 9, src: PEER }, 'what the speaker needs, no more')
  const bad = peerFrame('l2lb-node2', 10)
  bad.write('XXXX', 14)
  link.receive(bad)
  link.receive(peerFrame('l2lb-node1', 1))
  t.equal(heard.length, 1, 'a malformed frame and one carrying our own name are not handed over')
  const text = metrics.render()
  t.match(text, /l2lb_speaker_heartbeats_dropped_total\{reason="BAD_MAGIC"\} 1/)
  t.match(text, /l2lb_speaker_heartbeats_dropped_total\{reason="SAME_NODE_NAME"\} 1/)
  hb.close()
})

t.test('an interface whose socket cannot be opened, or whose sends fail, leaves the others working', async t => {
  const { hb, links, clock } = setup(['eth0', 'eth1', 'eth2'], ['eth1'])
  t.same([...links.keys()], ['eth0', 'eth2'], 'eth1 failed to open and was skipped')
  const eth2 = links.get('eth2')
  const eth0 = links.get('eth0')
  if (!eth0 || !eth2) throw new Error('links missing')
  eth2.failSends = systemError('sendto', 'ENETDOWN', -100)
  const before = eth0.sent.length
  const e2failing = eth2.sent.length
  await clock.advance(3 * INTERVAL)
  t.equal(eth0.sent.length, before + 3, 'eth0 keeps sending while eth2 fails')
  t.equal(eth2.sent.length, e2failing, 'nothing went out on eth2 meanwhile')
  eth2.failSends = undefined
  await clock.advance(INTERVAL)
  t.equal(eth2.sent.length, e2failing + 1, 'eth2 sends again at the next interval once it can')
  hb.close()
})

t.test('a lost socket is opened again: interface gone, ENODEV on send, native polling stopped, or not there at first', async t => {
  const opened: string[] = []
  const links: FakeLink[] = []
  let refuse = true
  const clock = new ManualClock()
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces: ['eth0', 'late0'], intervalMs: 10, log, clock,
    openLink: name => {
      if (name === 'late0' && refuse) throw systemError('socket', 'ENODEV', -19)
      opened.push(name)
      const l = new FakeLink(Buffer.from([0x02, 0, 0, 0, 0, links.length + 1]))
      links.push(l)
      return l
    },
  })
  hb.listen(() => {})
  hb.join(() => ({ kind: 'alive', reachesApi: false }))
  t.same(opened, ['eth0'], 'late0 is not there yet')
  refuse = false
  await clock.advance(9 * 10)
  t.same(opened, ['eth0'], 'not retried before 10 intervals')
  await clock.advance(10)
  t.same(opened, ['eth0', 'late0'], 'it is opened once it can be (retried every 10 intervals)')
  const lateLink = links[1]
  if (lateLink === undefined) throw new Error('late0 link missing')
  t.equal(lateLink.sent.length, 1, 'and heartbeats go out on it in the same tick')

  const eth0Opens = (): number => opened.filter(n => n === 'eth0').length
  const first = links[0]
  if (first === undefined) throw new Error('eth0 link missing')
  first.gone = true
  await clock.advance(10)
  t.ok(first.closed, 'interface gone: the lost socket is closed at the next tick')
  t.equal(eth0Opens(), 1, 'and not opened again in that tick')
  await clock.advance(10)
  t.equal(eth0Opens(), 2, 'interface gone: eth0 opened again one interval later')

  const second = links.at(-1)
  if (second === undefined) throw new Error('no reopened link')
  second.failSends = systemError('sendto', 'ENXIO', -6)
  await clock.advance(10)
  t.ok(second.closed, 'ENXIO on send: the socket is dropped')
  await clock.advance(10)
  t.equal(eth0Opens(), 3, 'ENXIO on send: opened again')

  const third = links.at(-1)
  third?.fail(Object.assign(new Error('uv_poll EBADF'), { code: 'EBADF', errno: -9, syscall: 'uv_poll' }))
  t.ok(third?.closed, 'native stopped polling: the socket is dropped at once')
  await clock.advance(10)
  t.equal(eth0Opens(), 4, 'native stopped polling: opened again')
  hb.close()
  t.ok(links.every(l => l.closed), 'close closes every socket')
})

t.test('listens from the start but sends nothing until it joins; then says what the speaker says of itself', async t => {
  const links = new Map<string, FakeLink>()
  const clock = new ManualClock()
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces: ['eth0'], intervalMs: INTERVAL, log, clock,
    openLink: name => { const l = new FakeLink(Buffer.from([0x02, 0, 0, 0, 0, 1])); links.set(name, l); return l },
  })
  const heard: ReceivedHeartbeat[] = []
  hb.listen(h => heard.push(h))
  const link = links.get('eth0')
  if (!link) throw new Error('no link opened')
  link.receive(peerFrame('l2lb-node2', 0))
  t.equal(heard.length, 1, 'a peer is heard while only listening')
  await clock.advance(3 * INTERVAL + 10)
  t.equal(link.sent.length, 0, 'nothing sent before the join (peers must not count a speaker that does not answer yet)')
  t.equal(hb.lastSentMs(), null)
  let status: { kind: 'alive' | 'standby'; reachesApi: boolean } = { kind: 'standby', reachesApi: false }
  hb.join(() => status)
  const first = decodeHeartbeat(link.sent[0] ?? Buffer.alloc(0))
  t.same([first.kind, first.reachesApi], ['standby', false], 'the first heartbeat goes out at the join')
  status = { kind: 'alive', reachesApi: true }
  hb.sendNow()
  const second = decodeHeartbeat(link.sent[1] ?? Buffer.alloc(0))
  t.same([second.kind, second.reachesApi], ['alive', true], 'sendNow says a change at once, out of turn')
  await clock.advance(INTERVAL)
  t.equal(link.sent.length, 3, 'and the interval goes on')
  hb.close()
  const last = decodeHeartbeat(link.sent.at(-1) ?? Buffer.alloc(0))
  t.same([last.kind, last.reachesApi], ['leaving', true])
})

t.test('a speaker that never joined says nothing on close', async t => {
  const links = new Map<string, FakeLink>()
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces: ['eth0'], intervalMs: INTERVAL, log, clock: new ManualClock(),
    openLink: name => { const l = new FakeLink(Buffer.from([0x02, 0, 0, 0, 0, 1])); links.set(name, l); return l },
  })
  hb.listen(() => {})
  hb.close()
  t.equal(links.get('eth0')?.sent.length, 0, 'no leaving: peers never counted it')
  t.ok(links.get('eth0')?.closed)
})
