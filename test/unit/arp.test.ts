import t from 'tap'
import { familyOf } from '../../internal/core/ip.js'
import fc from 'fast-check'
import { PacketError, parseMac, BROADCAST_MAC, ZERO_MAC } from '../../speaker/core/ethernet.js'
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, arpReply, arpRequest, checkArpFrame, decodeArpFrame, ipv4At,
  encodeArpFrame, gratuitousReply, gratuitousRequest, arpReplyTo, type ArpFrame,
} from '../../speaker/core/arp.js'

const ours = parseMac('02:00:00:00:00:0b')
const theirs = parseMac('02:00:00:00:00:64')

// A request written out byte by byte from the RFC 826 layout: 192.0.2.100 (02:..:64) asks who has 192.0.2.240.
const GOLDEN_REQUEST = Buffer.from([
  0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x64, 0x08, 0x06, // Ethernet: dst, src, type ARP
  0x00, 0x01, 0x08, 0x00, 6, 4, 0x00, 0x01, // htype 1, ptype IPv4, hlen 6, plen 4, op request
  0x02, 0, 0, 0, 0, 0x64, 192, 0, 2, 100, // sha, spa
  0, 0, 0, 0, 0, 0, 192, 0, 2, 240, // tha (zero), tpa
  ...new Array<number>(18).fill(0), // padding to 60
])

t.test('arpRequest matches the RFC 826 layout byte for byte', async t => {
  t.same([...arpRequest(theirs, '192.0.2.100', '192.0.2.240')], [...GOLDEN_REQUEST])
  const d = decodeArpFrame(GOLDEN_REQUEST)
  t.same(d.arp, { op: ARP_OP_REQUEST, sha: theirs, spa: '192.0.2.100', tha: ZERO_MAC, tpa: '192.0.2.240' })
  t.ok(d.ethDst.equals(BROADCAST_MAC))
  t.ok(d.ethSrc.equals(theirs))
})

t.test('arpReply is unicast to the asker, sender and target swapped', async t => {
  const d = decodeArpFrame(arpReply(ours, '192.0.2.240', theirs, '192.0.2.100'))
  t.ok(d.ethDst.equals(theirs))
  t.ok(d.ethSrc.equals(ours))
  t.same(d.arp, { op: ARP_OP_REPLY, sha: ours, spa: '192.0.2.240', tha: theirs, tpa: '192.0.2.100' })
})

t.test('gratuitous request is an RFC 5227 announcement: broadcast, SPA = TPA, THA zero', async t => {
  const f = gratuitousRequest(ours, '192.0.2.240')
  t.equal(f.length, 60)
  const d = decodeArpFrame(f)
  t.ok(d.ethDst.equals(BROADCAST_MAC))
  t.same(d.arp, { op: ARP_OP_REQUEST, sha: ours, spa: '192.0.2.240', tha: ZERO_MAC, tpa: '192.0.2.240' })
})

t.test('gratuitous reply follows RFC 5944 §4.6: broadcast, THA = SHA, SPA = TPA', async t => {
  const d = decodeArpFrame(gratuitousReply(ours, '192.0.2.241'))
  t.ok(d.ethDst.equals(BROADCAST_MAC))
  t.same(d.arp, { op: ARP_OP_REPLY, sha: ours, spa: '192.0.2.241', tha: ours, tpa: '192.0.2.241' })
})

t.test('decode validates every fixed field with its own code', async t => {
  const mutate = (off: number, value: number): Buffer => {
    const b = Buffer.from(GOLDEN_REQUEST)
    b[off] = value
    return b
  }
  const cases: Array<[string, Buffer, string]> = [
    ['empty', Buffer.alloc(0), 'TRUNCATED'],
    ['header only', GOLDEN_REQUEST.subarray(0, 14), 'TRUNCATED'],
    ['one byte short of the ARP body', GOLDEN_REQUEST.subarray(0, 41), 'TRUNCATED'],
    ['IPv4 EtherType', mutate(13, 0x00), 'BAD_ETHERTYPE'],
    ['htype 6 (IEEE 802)', mutate(15, 6), 'BAD_HTYPE'],
    ['ptype IPv6', mutate(16, 0x86), 'BAD_PTYPE'],
    ['hlen 8', mutate(18, 8), 'BAD_HLEN'],
    ['plen 16', mutate(19, 16), 'BAD_PLEN'],
    ['op 3 (RARP request)', mutate(21, 3), 'BAD_OP'],
    ['op 0', mutate(21, 0), 'BAD_OP'],
  ]
  for (const [name, frame, code] of cases) {
    t.throws(() => decodeArpFrame(frame), { name: 'PacketError', code }, name)
  }
  t.equal(checkArpFrame(GOLDEN_REQUEST.subarray(0, 42)), ARP_OP_REQUEST, 'an unpadded 42-byte frame is accepted')
})

t.test('encode rejects bad addresses and ops with PacketError', async t => {
  const base: ArpFrame = { ethDst: BROADCAST_MAC, ethSrc: ours, arp: { op: 1, sha: ours, spa: '192.0.2.1', tha: ZERO_MAC, tpa: '192.0.2.2' } }
  for (const spa of ['192.0.2', '192.0.2.256', '192.0.2.01', '2001:db8::1', '192.0.2.1 ', '']) {
    t.throws(() => encodeArpFrame({ ...base, arp: { ...base.arp, spa } }), { code: 'BAD_ADDRESS' }, `spa '${spa}'`)
  }
  t.throws(() => encodeArpFrame({ ...base, ethSrc: Buffer.alloc(7) }), { code: 'BAD_ADDRESS' })
  t.throws(() => encodeArpFrame({ ...base, arp: { ...base.arp, sha: Buffer.alloc(4) } }), { code: 'BAD_ADDRESS' })
  // An op outside the type, as it could arrive from untyped callers.
  const arp = { ...base.arp }
  Reflect.set(arp, 'op', 3)
  t.throws(() => encodeArpFrame({ ...base, arp }), { code: 'BAD_OP' })
})

t.test('ipv4At: what comes off the wire is an IPv4 CanonicalIP, as the responder\'s family filter reads it', async t => {
  const read = ipv4At(Buffer.from([192, 0, 2, 7]), 0)
  t.equal(read, '192.0.2.7')
  t.equal(familyOf(read), 'IPv4')
  t.equal(ipv4At(Buffer.from([0, 0, 0, 0]), 0), '0.0.0.0')
})

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map(a => Buffer.from(a))
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map(a => a.join('.'))
const arpFrame: fc.Arbitrary<ArpFrame> = fc.record({
  ethDst: mac,
  ethSrc: mac,
  arp: fc.record({ op: fc.constantFrom(ARP_OP_REQUEST, ARP_OP_REPLY), sha: mac, spa: ipv4, tha: mac, tpa: ipv4 }),
})

function sameFrame(a: ArpFrame, b: ArpFrame): boolean {
  return a.ethDst.equals(b.ethDst) && a.ethSrc.equals(b.ethSrc) && a.arp.op === b.arp.op && a.arp.sha.equals(b.arp.sha) &&
    a.arp.spa === b.arp.spa && a.arp.tha.equals(b.arp.tha) && a.arp.tpa === b.arp.tpa
}

t.test('fuzz: decode(encode(p)) == p for any ARP frame', async t => {
  fc.assert(fc.property(arpFrame, f => sameFrame(decodeArpFrame(encodeArpFrame(f)), f)), { numRuns: 500 })
  t.pass('500 random frames round-tripped')
})

t.test('fuzz: encode(decode(x)) == x for any valid 60-byte ARP frame', async t => {
  // Valid wire frames: the fixed fields right, everything else arbitrary, zero padding (what encode emits).
  const valid = fc.tuple(fc.uint8Array({ minLength: 42, maxLength: 42 }), fc.constantFrom(1, 2)).map(([bytes, op]) => {
    const b = Buffer.alloc(60)
    Buffer.from(bytes).copy(b)
    b.writeUInt16BE(0x0806, 12)
    b.writeUInt16BE(1, 14)
    b.writeUInt16BE(0x0800, 16)
    b[18] = 6
    b[19] = 4
    b.writeUInt16BE(op, 20)
    return b
  })
  fc.assert(fc.property(valid, x => encodeArpFrame(decodeArpFrame(x)).equals(x)), { numRuns: 500 })
  t.pass('500 random wire frames re-encoded identically')
})

t.test('fuzz: random bytes never throw anything but PacketError', async t => {
  // Bias towards frames that get past the EtherType check so the deeper checks are reached too.
  const nearArp = fc.tuple(fc.uint8Array({ minLength: 0, maxLength: 80, size: 'max' }), fc.boolean(), fc.nat(3)).map(([bytes, fix, op]) => {
    const b = Buffer.from(bytes)
    if (fix && b.length >= 22) {
      b.writeUInt16BE(0x0806, 12)
      b.writeUInt32BE(0x00010800, 14)
      b[18] = 6
      b[19] = 4
      b.writeUInt16BE(op, 20)
    }
    return b
  })
  let accepted = 0
  fc.assert(fc.property(nearArp, b => {
    try {
      const d = decodeArpFrame(b)
      accepted++
      return d.arp.op === 1 || d.arp.op === 2
    } catch (err) {
      return err instanceof PacketError
    }
  }), { numRuns: 2000 })
  t.ok(accepted > 0, `the generator reaches valid frames too (accepted ${accepted} of 2000)`)
})

t.test('fuzz: arpReplyTo(request) is arpReply with sender and target swapped', async t => {
  fc.assert(fc.property(arpFrame, mac, (f, me) => {
    const req = encodeArpFrame({ ...f, arp: { ...f.arp, op: ARP_OP_REQUEST } })
    return arpReplyTo(req, me).equals(arpReply(me, f.arp.tpa, f.arp.sha, f.arp.spa))
  }), { numRuns: 500 })
  t.pass('500 requests answered identically by both builders')
})
