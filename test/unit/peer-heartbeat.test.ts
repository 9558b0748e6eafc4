// The peer-heartbeat codec: exact bytes of an unsigned and a signed frame, a fuzzed round trip with and
// without a MAC, every kind of bad input rejected with its code (and nothing else ever thrown), any change to
// a signed frame refused, the verdicts of verifyHeartbeat (cluster, keys, rotation), the replay rule, the
// key and cluster-name settings, and the kernel filter passing exactly the frames the decoder could accept.
import t from 'tap'
import fc from 'fast-check'
import { createHmac } from 'node:crypto'
import { PacketError } from '../../speaker/core/ethernet.js'
import {
  ETHERTYPE_L2LB_HEARTBEAT, HEARTBEAT_MAC_LENGTH, decodeHeartbeat, encodeHeartbeat, heartbeatFilter, judgeFreshness,
  parseClusterName, parseHeartbeatKeys, senderRecord, verifyHeartbeat,
  type HeartbeatFrame, type HeartbeatKey, type HeartbeatTrust, type SenderRecord,
} from '../../speaker/core/peer-heartbeat.js'
import { checkBpf, runBpf } from '../lib/bpf-interpreter.js'

const SRC = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0b])
const KEY1: HeartbeatKey = { id: 1, secret: Buffer.alloc(32, 0x11) }
const KEY2: HeartbeatKey = { id: 2, secret: Buffer.alloc(32, 0x22) }
const BASE: HeartbeatFrame = {
  node: 'l2lb-node1', kind: 'alive', intervalMs: 200, sequence: 7, cluster: 'lab', bootId: 0x0102030405060708n, sentAtMs: 1_700_000_000_123,
  reachesApi: false,
}

function codeOf(f: () => unknown): string {
  try {
    f()
    return 'ok'
  } catch (err) {
    return err instanceof PacketError ? err.code : `not a PacketError: ${String(err)}`
  }
}

t.test('one unsigned frame, byte for byte', async t => {
  const frame = encodeHeartbeat(SRC, BASE, null)
  t.equal(frame.subarray(0, 14).toString('hex'), '036c326c6200' + '0200c000020b' + '88b5', 'group, source, EtherType')
  t.equal(frame.subarray(14, 42).toString('hex'),
    '4c324c42' + '03' + '01' + '00c8' + '0000' + '0102030405060708' + '018bcfe5687b' + '00000007',
    'magic, version 3, kind, interval, key id 0 (unsigned), boot id, sent-at, sequence')
  t.equal(frame.subarray(42, 46).toString('hex'), '03' + '6c6162', 'cluster name length and name')
  t.equal(frame.subarray(46, 57).toString('hex'), '0a' + Buffer.from('l2lb-node1').toString('hex'), 'node name length and name')
  t.equal(frame.length, 60, 'padded to the Ethernet minimum')
  const h = decodeHeartbeat(frame)
  t.same({ ...h, signed: undefined }, { ...BASE, src: SRC, keyId: 0, mac: null, signed: undefined })
  t.equal(h.signed.length, 57, 'the bytes a MAC would cover: header and payload')
})

t.test('the kind byte: alive 1, leaving 2, standby 3, and the high bit when the sender reaches the API server', async t => {
  for (const [kind, reachesApi, byte] of [['alive', false, 0x01], ['leaving', false, 0x02], ['standby', false, 0x03], ['alive', true, 0x81], ['standby', true, 0x83]] as const) {
    const frame = encodeHeartbeat(SRC, { ...BASE, kind, reachesApi }, null)
    t.equal(frame.readUInt8(19), byte, `${kind}${reachesApi ? ', reaching the API server' : ''}`)
    const h = decodeHeartbeat(frame)
    t.same([h.kind, h.reachesApi], [kind, reachesApi], 'and back')
  }
})

t.test('one signed frame: HMAC-SHA-256 over the header and every field, then the MAC', async t => {
  const frame = encodeHeartbeat(SRC, BASE, KEY2)
  t.equal(frame.readUInt16BE(22), 2, 'the key id')
  const body = frame.subarray(0, 57)
  const mac = createHmac('sha256', KEY2.secret).update(body).digest()
  t.same(frame.subarray(57, 57 + HEARTBEAT_MAC_LENGTH), mac, 'the MAC follows the node name')
  t.equal(frame.length, 57 + 32, 'no padding needed')
  const h = decodeHeartbeat(frame)
  t.equal(h.keyId, 2)
  t.same(h.mac, mac)
  t.equal(verifyHeartbeat(h, { cluster: 'lab', keys: [KEY2] }), null, 'verifies under its key')
})

const nodeName = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/)
const clusterName = fc.oneof(fc.constant(''), fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,61}[a-z0-9])?$/))
const heartbeat: fc.Arbitrary<HeartbeatFrame> = fc.record({
  node: nodeName,
  kind: fc.constantFrom('alive' as const, 'standby' as const, 'leaving' as const),
  reachesApi: fc.boolean(),
  intervalMs: fc.integer({ min: 1, max: 60_000 }),
  sequence: fc.integer({ min: 0, max: 0xffffffff }),
  cluster: clusterName,
  bootId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  sentAtMs: fc.integer({ min: 0, max: 2 ** 48 - 1 }),
})
const key: fc.Arbitrary<HeartbeatKey> = fc.record({
  id: fc.integer({ min: 1, max: 0xffff }),
  secret: fc.uint8Array({ minLength: 32, maxLength: 80 }).map(b => Buffer.from(b)),
})

function plain(h: HeartbeatFrame & { src?: Buffer }): string {
  return JSON.stringify({
    node: h.node, kind: h.kind, reachesApi: h.reachesApi, intervalMs: h.intervalMs, sequence: h.sequence, cluster: h.cluster,
    bootId: h.bootId.toString(), sentAtMs: h.sentAtMs, src: h.src === undefined ? undefined : [...h.src],
  })
}

t.test('fuzzed round trip: decode(encode(h)) is h, signed or not, and a signed one verifies under its key only', async t => {
  fc.assert(fc.property(heartbeat, fc.uint8Array({ minLength: 6, maxLength: 6 }), fc.option(key), key, (h, src, k, other) => {
    const got = decodeHeartbeat(encodeHeartbeat(Buffer.from(src), h, k))
    if (plain(got) !== plain({ ...h, src: Buffer.from(src) })) throw new Error(`${plain(got)} != ${plain(h)}`)
    if (got.keyId !== (k?.id ?? 0)) throw new Error(`key id ${got.keyId}`)
    const trust: HeartbeatTrust = { cluster: h.cluster, keys: k === null ? [] : [k] }
    if (verifyHeartbeat(got, trust) !== null) throw new Error('does not verify under its own key')
    if (k !== null && !other.secret.equals(k.secret)) {
      const verdict = verifyHeartbeat(got, { cluster: h.cluster, keys: [other] })
      if (verdict !== (other.id === k.id ? 'bad_mac' : 'unknown_key')) throw new Error(`another key: ${verdict}`)
    }
  }), { numRuns: 500 })
  t.pass('500 heartbeats survive the round trip')
})

t.test('fuzzed: any change to a signed frame, header, fields or MAC, is refused', async t => {
  fc.assert(fc.property(heartbeat, key, fc.nat(), fc.integer({ min: 1, max: 255 }), (h, k, at, xor) => {
    const frame = encodeHeartbeat(SRC, h, k)
    const covered = decodeHeartbeat(frame).signed.length + HEARTBEAT_MAC_LENGTH
    const bad = Buffer.from(frame)
    const i = at % covered
    bad[i] = (bad[i] ?? 0) ^ xor
    let verdict: string | null
    try {
      verdict = verifyHeartbeat(decodeHeartbeat(bad), { cluster: h.cluster, keys: [k] })
    } catch (err) {
      if (!(err instanceof PacketError)) throw err
      verdict = err.code
    }
    if (verdict === null) throw new Error(`byte ${i} changed and the frame still verifies`)
  }), { numRuns: 1000 })
  t.pass('1000 tampered frames, none taken')
})

t.test('bad input: each rejected with its code', async t => {
  const good = encodeHeartbeat(SRC, { ...BASE, node: 'n1', kind: 'leaving', cluster: '' }, null)
  const mutate = (f: (b: Buffer) => void, from: Buffer = good): Buffer => {
    const b = Buffer.from(from)
    f(b)
    return b
  }
  t.equal(codeOf(() => decodeHeartbeat(good.subarray(0, 10))), 'TRUNCATED', 'shorter than the Ethernet header')
  t.equal(codeOf(() => decodeHeartbeat(good.subarray(0, 40))), 'TRUNCATED', 'shorter than the heartbeat header')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt16BE(0x0806, 12)))), 'BAD_ETHERTYPE')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.write('XXXX', 14)))), 'BAD_MAGIC')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(1, 18)))), 'BAD_VERSION', 'version 1, the unsigned format')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(2, 18)))), 'BAD_VERSION', 'version 2, without standby and the API bit')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(4, 19)))), 'BAD_KIND')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(0x80, 19)))), 'BAD_KIND', 'the API bit alone is no kind')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt16BE(0, 20)))), 'BAD_INTERVAL')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(0, 43)))), 'BAD_NAME', 'empty node name')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(255, 43)))), 'TRUNCATED', 'node name overruns the frame')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(250, 42)))), 'TRUNCATED', 'cluster name overruns the frame')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.write('N', 44)))), 'BAD_NAME', 'upper case is no node name')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt16BE(1, 22)))), 'TRUNCATED', 'a key id but no room for the MAC')
  const named = encodeHeartbeat(SRC, { ...BASE, cluster: 'abc' }, null)
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.write('-', 43), named))), 'BAD_NAME', 'a cluster name starting with -')
  const signed = encodeHeartbeat(SRC, BASE, KEY1)
  t.equal(codeOf(() => decodeHeartbeat(signed.subarray(0, signed.length - 1))), 'TRUNCATED', 'a MAC cut short')
  const encode = (h: Partial<HeartbeatFrame>): string => codeOf(() => encodeHeartbeat(SRC, { ...BASE, ...h }, null))
  t.equal(encode({ node: 'a'.repeat(254) }), 'BAD_NAME')
  t.equal(encode({ cluster: 'a'.repeat(64) }), 'BAD_NAME', 'a cluster name longer than 63')
  t.equal(encode({ intervalMs: 60_001 }), 'BAD_INTERVAL')
  t.equal(encode({ sequence: 2 ** 32 }), 'BAD_SEQUENCE')
  t.equal(encode({ sentAtMs: 2 ** 48 }), 'BAD_SEQUENCE', 'sent-at is 48 bits')
  t.equal(encode({ bootId: 2n ** 64n }), 'BAD_SEQUENCE', 'the boot id is 64 bits')
  t.equal(codeOf(() => encodeHeartbeat(Buffer.alloc(5), BASE, null)), 'BAD_ADDRESS')
})

t.test('random bytes: a PacketError or a heartbeat, never anything else, and verifying one never throws', async t => {
  const near = fc.tuple(fc.uint8Array({ maxLength: 120 }), fc.boolean()).map(([bytes, fix]) => {
    const b = Buffer.from(bytes)
    // Half of them get a valid header start, so the later checks are reached too.
    if (fix && b.length >= 19) {
      b.writeUInt16BE(ETHERTYPE_L2LB_HEARTBEAT, 12)
      b.writeUInt32BE(0x4c324c42, 14)
      b.writeUInt8(2, 18)
    }
    return b
  })
  const trusts: HeartbeatTrust[] = [{ cluster: '', keys: [] }, { cluster: '', keys: [KEY1, KEY2] }]
  fc.assert(fc.property(near, b => {
    let h
    try {
      h = decodeHeartbeat(b)
    } catch (err) {
      if (!(err instanceof PacketError)) throw new Error(`not a PacketError: ${String(err)}`)
      return
    }
    for (const trust of trusts) verifyHeartbeat(h, trust)
  }), { numRuns: 3000 })
  t.pass('3000 frames')
})

t.test('verifyHeartbeat: the cluster, then the keys', async t => {
  const verdict = (frame: Buffer, trust: HeartbeatTrust): string | null => verifyHeartbeat(decodeHeartbeat(frame), trust)
  const lab = (keys: HeartbeatKey[]): HeartbeatTrust => ({ cluster: 'lab', keys })
  const by1 = encodeHeartbeat(SRC, BASE, KEY1)
  const by2 = encodeHeartbeat(SRC, BASE, KEY2)
  const unsigned = encodeHeartbeat(SRC, BASE, null)
  const forged = encodeHeartbeat(SRC, BASE, { id: 1, secret: Buffer.alloc(32, 0x99) })

  t.equal(verdict(by1, lab([KEY1])), null, 'signed with our key')
  t.equal(verdict(forged, lab([KEY1])), 'bad_mac', 'our key id, another secret: forged')
  t.equal(verdict(by2, lab([KEY1])), 'unknown_key', 'a key id we do not hold')
  t.equal(verdict(unsigned, lab([KEY1])), 'unsigned', 'unsigned, to a speaker with keys')
  t.equal(verdict(by1, { cluster: 'other', keys: [KEY1] }), 'other_cluster', 'another cluster, even with our key')
  t.equal(verdict(unsigned, { cluster: '', keys: [] }), 'other_cluster', 'a named cluster is not the unnamed one')

  t.equal(verdict(unsigned, lab([])), null, 'without keys: unsigned frames of the cluster are taken')
  t.equal(verdict(forged, lab([])), null, 'and signed ones, unchecked')
  t.equal(verdict(by1, { cluster: 'other', keys: [] }), 'other_cluster', 'but never another cluster\'s')

  // Rotation from key 1 to key 2, each step a rolling restart (README, "Heartbeat authentication").
  t.equal(verdict(by1, lab([KEY1, KEY2])), null, 'step 1, keys 1,2: 1 signs, a speaker not yet restarted (1) is heard')
  t.equal(verdict(by2, lab([KEY1, KEY2])), null, 'and so is one already on step 2')
  t.equal(verdict(by1, lab([KEY2, KEY1])), null, 'step 2, keys 2,1: 2 signs, step-1 speakers are still heard')
  t.equal(verdict(by2, lab([KEY2])), null, 'step 3, key 2 alone: 2 verifies')
  t.equal(verdict(by1, lab([KEY2])), 'unknown_key', 'and the old key is refused once removed')
})

t.test('the replay rule: newer sequence in one boot, later sent-at across boots', async t => {
  const at = (sequence: number, bootId = 1n, sentAtMs = 1000 + sequence): HeartbeatFrame => ({ ...BASE, sequence, bootId, sentAtMs })
  const last: SenderRecord = senderRecord(at(10))
  t.equal(judgeFreshness(undefined, at(10)), 'fresh', 'the first frame heard of a node')
  t.equal(judgeFreshness(last, at(11)), 'fresh', 'the next one')
  t.equal(judgeFreshness(last, at(15)), 'fresh', 'after losses')
  t.equal(judgeFreshness(last, at(10)), 'duplicate', 'the same frame again (a second interface)')
  t.equal(judgeFreshness(last, at(9)), 'replay', 'an older frame of the same process')
  t.equal(judgeFreshness(last, at(0, 2n, 5000)), 'fresh', 'a restarted sender: new boot id, sequence from 0, later sent-at')
  t.equal(judgeFreshness(last, at(500, 0n, 999)), 'replay', 'a frame of an earlier process: earlier sent-at')
  t.equal(judgeFreshness(last, at(0, 2n, 1010)), 'replay', 'sent-at equal to the last one taken is not later')
  t.equal(judgeFreshness(last, at(11, 1n, 0)), 'fresh', 'within one boot, only the sequence counts')

  // Property: a node's honest history (processes one after another, sent-at growing) is taken frame by
  // frame in order, and once any frame is taken, every frame sent before it is refused.
  const history = fc.tuple(
    fc.uniqueArray(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { minLength: 6, maxLength: 6 }),
    fc.array(fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 5000 })), { minLength: 1, maxLength: 6 }),
  ).map(([bootIds, procs]) => {
    const frames: HeartbeatFrame[] = []
    let clock = 1_700_000_000_000
    procs.forEach(([count, restartMs], p) => {
      clock += restartMs
      for (let sequence = 0; sequence < count; sequence++) frames.push(at(sequence, bootIds[p], (clock += 200)))
    })
    return frames
  })
  fc.assert(fc.property(history, fc.nat(), (frames, pick) => {
    let record: SenderRecord | undefined
    for (const f of frames) {
      if (judgeFreshness(record, f) !== 'fresh') throw new Error(`honest frame ${f.bootId}/${f.sequence} not taken`)
      record = senderRecord(f)
    }
    const taken = pick % frames.length
    const rec = senderRecord(frames[taken] as HeartbeatFrame)
    for (const f of frames.slice(0, taken)) {
      if (judgeFreshness(rec, f) !== 'replay') throw new Error(`frame ${f.bootId}/${f.sequence} replayed after ${rec.bootId}/${rec.sequence} was taken`)
    }
  }), { numRuns: 500 })
  t.pass('500 histories')
})

t.test('L2LB_HEARTBEAT_KEYS: id:base64 entries, the first signs; errors name the entry, never the key', async t => {
  const k1 = Buffer.alloc(32, 1).toString('base64')
  const k2 = Buffer.alloc(48, 2).toString('base64')
  const ok = parseHeartbeatKeys(`2:${k2}, 1:${k1}`)
  t.ok(ok.ok)
  if (ok.ok) t.same(ok.keys.map(k => [k.id, k.secret.length]), [[2, 48], [1, 32]], 'in order: 2 signs')
  const lines = parseHeartbeatKeys(`\n1:${k1}\n2:${k2}\n`)
  t.same(lines.ok && lines.keys.map(k => k.id), [1, 2], 'one per line, as a file would have them')
  t.same(parseHeartbeatKeys(''), { ok: true, keys: [] }, 'empty: no keys (unauthenticated)')
  t.same(parseHeartbeatKeys(`1:${k1.replace(/=+$/, '')}`).ok, true, 'base64 without its padding')
  const error = (text: string): string => {
    const r = parseHeartbeatKeys(text)
    return r.ok ? 'ok' : r.error
  }
  const short = Buffer.alloc(16, 3).toString('base64')
  t.match(error(`1:${short}`), /entry 1 of 1: the key of id 1 is 16 bytes; use at least 32/)
  t.match(error(`1:${k1},1:${k1}`), /entry 2 of 2: key id 1 is given twice/)
  t.match(error(`0:${k1}`), /key id 0 is not in 1\.\.65535/)
  t.match(error(`70000:${k1}`), /key id 70000 is not in 1\.\.65535/)
  t.match(error(k1), /entry 1 of 1 is not id:base64-key/)
  t.match(error(`x:${k1}`), /is not id:base64-key/)
  t.match(error(`1:${k1.slice(0, 20)}!!${k1.slice(22)}`), /the key of id 1 is not base64/)
  for (const text of [`1:${short}`, `1:${k1},1:${k1}`, `1:${k1.slice(0, 20)}!!${k1.slice(22)}`]) {
    t.notMatch(error(text), k1.slice(0, 12), 'no key material in the message')
    t.notMatch(error(text), short.slice(0, 12), 'no key material in the message')
  }
})

t.test('L2LB_CLUSTER_NAME: empty or a DNS label-like name', async t => {
  t.same(parseClusterName(''), { ok: true, cluster: '' })
  t.same(parseClusterName('prod-a.dc1'), { ok: true, cluster: 'prod-a.dc1' })
  t.notOk(parseClusterName('Prod').ok, 'upper case')
  t.notOk(parseClusterName('a'.repeat(64)).ok, 'longer than 63')
  t.notOk(parseClusterName('-a').ok, 'starts with -')
})

t.test('the kernel filter passes what the decoder accepts, and drops other frames of the EtherType', async t => {
  const program = heartbeatFilter()
  checkBpf(program)
  for (const k of [null, KEY1]) {
    const good = encodeHeartbeat(SRC, BASE, k)
    t.ok(runBpf(program, good) > 0, `a ${k === null ? 'n unsigned' : ' signed'} heartbeat passes`)
  }
  const good = encodeHeartbeat(SRC, BASE, KEY1)
  const other = Buffer.from(good)
  other.write('XXXX', 14)
  t.equal(runBpf(program, other), 0, 'another protocol on 0x88b5 does not wake the speaker')
  const v1 = Buffer.from(good)
  v1.writeUInt8(1, 18)
  t.equal(runBpf(program, v1), 0, 'nor a version 1 heartbeat (an older speaker: its peers judge it by its Lease)')
  const v2 = Buffer.from(good)
  v2.writeUInt8(2, 18)
  t.equal(runBpf(program, v2), 0, 'nor a version 2 heartbeat')
  const future = Buffer.from(good)
  future.writeUInt8(4, 18)
  t.equal(runBpf(program, future), 0, 'nor a heartbeat version it cannot read')
})
