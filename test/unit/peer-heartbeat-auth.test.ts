// Peer-heartbeat authentication in the shell, on fake links: what a speaker with keys sends and takes, every
// refusal counted under its reason and never thrown, a restarted sender taken, a key rotation, another
// cluster ignored, and the unauthenticated mode still working but said out loud (log and metric).
import t from 'tap'
import fc from 'fast-check'
import { pino } from 'pino'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import {
  decodeHeartbeat, encodeHeartbeat, verifyHeartbeat,
  type HeartbeatFrame, type HeartbeatKey, type HeartbeatTrust, type ReceivedHeartbeat,
} from '../../speaker/core/peer-heartbeat.js'
import { PeerHeartbeats } from '../../speaker/peer-heartbeat.js'
import { FakeLink } from '../lib/fake-link.js'
import { ManualClock } from '../lib/manual-clock.js'

const PEER = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0c])
const OLD: HeartbeatKey = { id: 1, secret: Buffer.alloc(32, 0xa1) }
const NEW: HeartbeatKey = { id: 2, secret: Buffer.alloc(32, 0xb2) }

interface Rig {
  readonly hb: PeerHeartbeats
  readonly link: FakeLink
  readonly heard: ReceivedHeartbeat[]
  readonly metrics: MetricsRegistry
  readonly logs: Array<{ level: number; msg: string }>
  /** A frame from node2 as its speaker (one process: boot id 5) would send it. */
  readonly from: (sequence: number, key: HeartbeatKey | null, h?: Partial<HeartbeatFrame>) => Buffer
  readonly counted: (family: 'rejected' | 'dropped', reason: string) => number
}

function rig(trust: HeartbeatTrust | undefined, interfaces = ['eth0']): Rig {
  const metrics = new MetricsRegistry()
  const logs: Array<{ level: number; msg: string }> = []
  const log = pino({ level: 'info' }, { write: (line: string) => { logs.push(JSON.parse(line) as { level: number; msg: string }) } })
  const links: FakeLink[] = []
  const hb = new PeerHeartbeats({
    // A manual clock that nobody advances: only the frames a test asks for go out (no interval tick, however
    // long a property run takes), so "the next frame" is the one the test means.
    node: 'l2lb-node1', interfaces, intervalMs: 1000, log, metrics, bootId: 42n, sentAtClock: () => 1_000_000, clock: new ManualClock(),
    ...(trust === undefined ? {} : { trust }),
    openLink: () => {
      const l = new FakeLink(Buffer.from([0x02, 0, 0, 0, 0, links.length + 1]))
      links.push(l)
      return l
    },
  })
  const heard: ReceivedHeartbeat[] = []
  hb.listen(h => heard.push(h))
  hb.join(() => ({ kind: 'alive', reachesApi: false }))
  const link = links[0]
  if (link === undefined) throw new Error('no link opened')
  const cluster = trust?.cluster ?? ''
  return {
    hb, link, heard, metrics, logs,
    from: (sequence, key, h = {}) => encodeHeartbeat(PEER, {
      node: 'l2lb-node2', kind: 'alive', reachesApi: false, intervalMs: 200, sequence, cluster, bootId: 5n, sentAtMs: 2_000 + sequence * 200, ...h,
    }, key),
    counted: (family, reason) => {
      const m = new RegExp(`l2lb_speaker_heartbeats_${family}_total\\{reason="${reason}"\\} (\\d+)`).exec(metrics.render())
      return m ? Number(m[1]) : 0
    },
  }
}

t.test('with keys: frames go out signed by the first key; the metric says 1; no warning', async t => {
  const r = rig({ cluster: 'lab', keys: [NEW, OLD] })
  const sent = decodeHeartbeat(r.link.sent[0] ?? Buffer.alloc(0))
  t.equal(sent.keyId, NEW.id, 'the first key signs')
  t.equal(sent.cluster, 'lab')
  t.equal(sent.bootId, 42n)
  t.equal(sent.sentAtMs, 1_000_000)
  t.equal(verifyHeartbeat(sent, { cluster: 'lab', keys: [NEW] }), null, 'a peer holding the key takes it')
  t.match(r.metrics.render(), /l2lb_speaker_heartbeat_auth_enabled_bool 1/)
  t.notOk(r.logs.some(l => l.level >= 40), 'nothing to warn about')
  t.ok(r.logs.some(l => /signed and checked/.test(l.msg)), 'says it is on')
  r.hb.close()
  const last = decodeHeartbeat(r.link.sent.at(-1) ?? Buffer.alloc(0))
  t.equal(last.kind, 'leaving')
  t.equal(last.keyId, NEW.id, 'leaving is signed too (else anyone could say it)')
  t.equal(last.sequence, sent.sequence + 1, 'in the same sequence')
})

t.test('with keys: a forged frame is refused and counted, never handed over or thrown on', async t => {
  const r = rig({ cluster: 'lab', keys: [OLD] })
  r.link.receive(r.from(1, OLD))
  t.equal(r.heard.length, 1, 'a frame signed with our key is taken')
  r.link.receive(r.from(2, { id: OLD.id, secret: Buffer.alloc(32, 0x66) }))
  r.link.receive(r.from(3, { id: 9, secret: Buffer.alloc(32, 0x66) }))
  r.link.receive(r.from(4, null, { kind: 'leaving' }))
  const tampered = r.from(5, OLD, { kind: 'alive' })
  tampered.writeUInt8(2, 19) // alive -> leaving, MAC unchanged
  r.link.receive(tampered)
  r.link.receive(Buffer.from('not a frame'))
  t.equal(r.heard.length, 1, 'none of them is handed over')
  t.equal(r.counted('rejected', 'bad_mac'), 2, 'our key id with another secret, and a kind changed on the way')
  t.equal(r.counted('rejected', 'unknown_key'), 1)
  t.equal(r.counted('rejected', 'unsigned'), 1, 'an unsigned `leaving` cannot move this node\'s view')
  t.equal(r.counted('dropped', 'TRUNCATED'), 1, 'the malformed one is counted where it always was')
  t.equal(r.counted('rejected', 'replay'), 0, 'each reason on its own')
  r.link.receive(r.from(6, OLD))
  t.equal(r.heard.length, 2, 'the real sender is still heard')
  r.hb.close()
})

t.test('replays are refused and counted; a frame heard twice is a duplicate, not an attack', async t => {
  const r = rig({ cluster: 'lab', keys: [OLD] })
  const frames = [1, 2, 3].map(s => r.from(s, OLD))
  for (const f of frames) r.link.receive(f)
  t.same(r.heard.map(h => h.sequence), [1, 2, 3])
  r.link.receive(frames[0] ?? Buffer.alloc(0))
  r.link.receive(frames[1] ?? Buffer.alloc(0))
  t.equal(r.counted('rejected', 'replay'), 2, 'older frames of the same process')
  r.link.receive(frames[2] ?? Buffer.alloc(0))
  t.equal(r.counted('dropped', 'DUPLICATE'), 1, 'the last frame again changes nothing')
  t.equal(r.heard.length, 3, 'none of them handed over')
  r.hb.close()
})

t.test('a restarted sender (new boot id, sequence from 0, later sent-at) is taken; its old process replayed is not', async t => {
  const r = rig({ cluster: 'lab', keys: [OLD] })
  const oldLeaving = r.from(10, OLD, { kind: 'leaving' })
  r.link.receive(r.from(9, OLD))
  r.link.receive(oldLeaving)
  t.same(r.heard.map(h => h.kind), ['alive', 'leaving'], 'the old process says leaving as it stops')
  r.link.receive(r.from(0, OLD, { bootId: 6n, sentAtMs: 2_000 + 10 * 200 + 3_000 }))
  t.equal(r.heard.at(-1)?.kind, 'alive', 'the new process is heard at once')
  t.equal(r.heard.at(-1)?.sequence, 0)
  r.link.receive(oldLeaving)
  r.link.receive(r.from(5, OLD))
  t.equal(r.heard.length, 3, 'the old process\'s leaving, replayed, does not take the node out')
  t.equal(r.counted('rejected', 'replay'), 2)
  r.hb.close()
})

t.test('rotation: old and new key both taken while both are held; the old refused once removed', async t => {
  const both = rig({ cluster: 'lab', keys: [NEW, OLD] })
  both.link.receive(both.from(1, OLD))
  both.link.receive(both.from(2, NEW))
  t.equal(both.heard.length, 2, 'a peer still signing with the old key and one signing with the new are both heard')
  both.hb.close()
  const newOnly = rig({ cluster: 'lab', keys: [NEW] })
  newOnly.link.receive(newOnly.from(1, NEW))
  newOnly.link.receive(newOnly.from(2, OLD))
  t.equal(newOnly.heard.length, 1, 'the old key is refused once removed')
  t.equal(newOnly.counted('rejected', 'unknown_key'), 1)
  newOnly.hb.close()
})

t.test('another cluster on the same LAN is ignored and counted, with or without keys', async t => {
  for (const keys of [[OLD], []]) {
    const r = rig({ cluster: 'lab', keys })
    r.link.receive(r.from(1, keys[0] ?? null, { cluster: 'other' }))
    r.link.receive(r.from(2, keys[0] ?? null, { cluster: '' }))
    t.equal(r.heard.length, 0, `${keys.length > 0 ? 'with' : 'without'} keys: not a peer`)
    t.equal(r.counted('rejected', 'other_cluster'), 2)
    r.hb.close()
  }
})

t.test('without keys: works unauthenticated, and says so loudly (warning naming the setting, metric 0)', async t => {
  const r = rig(undefined)
  const warning = r.logs.find(l => l.level === 40)
  t.ok(warning, 'a warning at start')
  t.match(warning?.msg, /NOT authenticated/)
  t.match(warning?.msg, /L2LB_HEARTBEAT_KEYS/, 'it names the setting')
  t.match(warning?.msg, /leaving/, 'and the risk')
  t.match(r.metrics.render(), /l2lb_speaker_heartbeat_auth_enabled_bool 0/)
  const sent = decodeHeartbeat(r.link.sent[0] ?? Buffer.alloc(0))
  t.equal(sent.keyId, 0, 'frames go out unsigned')
  r.link.receive(r.from(1, null))
  r.link.receive(r.from(2, OLD))
  t.same(r.heard.map(h => h.sequence), [1, 2], 'unsigned frames of the cluster are taken, and signed ones (a peer already on keys)')
  r.link.receive(r.from(1, null))
  t.equal(r.counted('rejected', 'replay'), 1, 'the replay rule holds all the same')
  t.match(r.metrics.render(), /l2lb_speaker_heartbeats_rejected_total\{reason="bad_mac"\} 0/, 'every reason is exported from the start, at 0')
  r.hb.close()
})

t.test('our own frames heard on another interface are ours, not a second speaker with our name', async t => {
  const r = rig({ cluster: 'lab', keys: [OLD] }, ['eth0', 'eth1'])
  const own = r.link.sent[0] ?? Buffer.alloc(0)
  r.link.receive(own)
  t.equal(r.counted('dropped', 'OWN_FRAME'), 1)
  t.equal(r.counted('dropped', 'SAME_NODE_NAME'), 0)
  r.link.receive(encodeHeartbeat(PEER, { node: 'l2lb-node1', kind: 'alive', reachesApi: false, intervalMs: 200, sequence: 0, cluster: 'lab', bootId: 43n, sentAtMs: 5 }, OLD))
  t.equal(r.counted('dropped', 'SAME_NODE_NAME'), 1, 'another process with our name is')
  t.ok(r.logs.some(l => /same NODE_NAME/.test(l.msg)))
  t.equal(r.heard.length, 0)
  r.hb.close()
})

t.test('fuzzed: whatever arrives, receiving never throws, and only frames signed with our key reach the speaker', async t => {
  const r = rig({ cluster: 'lab', keys: [OLD] })
  const signedByUs = new Set<number>()
  const anyFrame = fc.oneof(
    fc.uint8Array({ maxLength: 120 }).map(b => Buffer.from(b)),
    // Well-formed frames of every sort, signed by us or not, some with a byte changed on the way.
    fc.tuple(fc.integer({ min: 0, max: 0xffffffff }), fc.constantFrom<HeartbeatKey | null>(OLD, NEW, null), fc.option(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })))).map(([sequence, key, flip]) => {
      const f = r.from(sequence, key)
      if (flip !== null) {
        const i = flip[0] % f.length
        f[i] = (f[i] ?? 0) ^ flip[1]
      } else if (key === OLD) {
        signedByUs.add(sequence)
      }
      return f
    }),
  )
  fc.assert(fc.property(anyFrame, f => { r.link.receive(f) }), { numRuns: 2000 })
  t.ok(r.heard.every(h => signedByUs.has(h.sequence)), `${r.heard.length} taken, each an untouched frame signed with our key`)
  r.hb.close()
})
