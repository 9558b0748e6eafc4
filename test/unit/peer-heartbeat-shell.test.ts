// The peer-heartbeat shell on fake links: what it sends and when, what it hands the speaker, what it drops,
// and that a broken interface leaves the others working.
import t from 'tap'
import { pino } from 'pino'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { decodeHeartbeat, encodeHeartbeat, type ReceivedHeartbeat } from '../../speaker/core/peer-heartbeat.js'
import { PeerHeartbeats } from '../../speaker/peer-heartbeat.js'
import { FakeLink, systemError, until } from '../lib/fake-link.js'

const log = pino({ level: 'silent' })
const PEER = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0c])

/** An unsigned frame of the unnamed cluster, from one process of `node` (boot id 7). */
function peerFrame(node: string, sequence: number): Buffer {
  return encodeHeartbeat(PEER, { node, kind: 'alive', reachesApi: false, intervalMs: 200, sequence, cluster: '', bootId: 7n, sentAtMs: 1_000 + sequence }, null)
}

function setup(interfaces = ['eth0'], failOpen: string[] = []): { hb: PeerHeartbeats; links: Map<string, FakeLink>; heard: ReceivedHeartbeat[]; metrics: MetricsRegistry } {
  const links = new Map<string, FakeLink>()
  const metrics = new MetricsRegistry()
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces, intervalMs: 20, log, metrics,
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
  return { hb, links, heard, metrics }
}

t.test('joins the group, says alive at once and every interval, leaving on close', async t => {
  const { hb, links } = setup()
  const link = links.get('eth0')
  if (!link) throw new Error('no link opened')
  t.same(link.membership, ['+03:6c:32:6c:62:00'], 'the heartbeat group is joined')
  t.equal(decodeHeartbeat(link.sent[0] ?? Buffer.alloc(0)).kind, 'alive', 'the first heartbeat goes out at start')
  t.ok(await until(() => link.sent.length >= 4), 'then one per interval')
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
  await new Promise(r => setTimeout(r, 60))
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
  const { hb, links } = setup(['eth0', 'eth1', 'eth2'], ['eth1'])
  t.same([...links.keys()], ['eth0', 'eth2'], 'eth1 failed to open and was skipped')
  const eth2 = links.get('eth2')
  const eth0 = links.get('eth0')
  if (!eth0 || !eth2) throw new Error('links missing')
  eth2.failSends = systemError('sendto', 'ENETDOWN', -100)
  const before = eth0.sent.length
  t.ok(await until(() => eth0.sent.length >= before + 3), 'eth0 keeps sending while eth2 fails')
  eth2.failSends = undefined
  const e2 = eth2.sent.length
  t.ok(await until(() => eth2.sent.length > e2), 'eth2 sends again once it can')
  hb.close()
})

t.test('a lost socket is opened again: interface gone, ENODEV on send, native polling stopped, or not there at first', async t => {
  const opened: string[] = []
  const links: FakeLink[] = []
  let refuse = true
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces: ['eth0', 'late0'], intervalMs: 10, log,
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
  t.ok(await until(() => opened.includes('late0')), 'it is opened once it can be (retried every 10 intervals)')
  const lateLink = links[1]
  if (lateLink === undefined) throw new Error('late0 link missing')
  t.ok(await until(() => lateLink.sent.length > 0), 'and heartbeats go out on it')

  const first = links[0]
  if (first === undefined) throw new Error('eth0 link missing')
  first.gone = true
  t.ok(await until(() => opened.filter(n => n === 'eth0').length === 2), 'interface gone: eth0 opened again')
  t.ok(first.closed, 'the lost socket is closed')

  const second = links.at(-1)
  if (second === undefined) throw new Error('no reopened link')
  second.failSends = systemError('sendto', 'ENXIO', -6)
  t.ok(await until(() => opened.filter(n => n === 'eth0').length === 3), 'ENXIO on send: opened again')

  const third = links.at(-1)
  third?.fail(Object.assign(new Error('uv_poll EBADF'), { code: 'EBADF', errno: -9, syscall: 'uv_poll' }))
  t.ok(await until(() => opened.filter(n => n === 'eth0').length === 4), 'native stopped polling: opened again')
  hb.close()
  t.ok(links.every(l => l.closed), 'close closes every socket')
})

t.test('listens from the start but sends nothing until it joins; then says what the speaker says of itself', async t => {
  const links = new Map<string, FakeLink>()
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces: ['eth0'], intervalMs: 20, log,
    openLink: name => { const l = new FakeLink(Buffer.from([0x02, 0, 0, 0, 0, 1])); links.set(name, l); return l },
  })
  const heard: ReceivedHeartbeat[] = []
  hb.listen(h => heard.push(h))
  const link = links.get('eth0')
  if (!link) throw new Error('no link opened')
  link.receive(peerFrame('l2lb-node2', 0))
  t.equal(heard.length, 1, 'a peer is heard while only listening')
  await new Promise(r => setTimeout(r, 70))
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
  hb.close()
  const last = decodeHeartbeat(link.sent.at(-1) ?? Buffer.alloc(0))
  t.same([last.kind, last.reachesApi], ['leaving', true])
})

t.test('a speaker that never joined says nothing on close', async t => {
  const links = new Map<string, FakeLink>()
  const hb = new PeerHeartbeats({
    node: 'l2lb-node1', interfaces: ['eth0'], intervalMs: 20, log,
    openLink: name => { const l = new FakeLink(Buffer.from([0x02, 0, 0, 0, 0, 1])); links.set(name, l); return l },
  })
  hb.listen(() => {})
  hb.close()
  t.equal(links.get('eth0')?.sent.length, 0, 'no leaving: peers never counted it')
  t.ok(links.get('eth0')?.closed)
})
