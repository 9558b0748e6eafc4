import t from 'tap'
import { ips, ips as canonicalIPs } from '../lib/canonical-ip.js'
import fc from 'fast-check'
import { BROADCAST_MAC, ZERO_MAC, parseMac } from '../../speaker/core/ethernet.js'
import {
  ARP_OP_REPLY, ARP_OP_REQUEST, arpReply, arpRequest, checkArpFrame, decodeArpFrame, encodeArpFrame,
  gratuitousReply, gratuitousRequest,
} from '../../speaker/core/arp.js'
import { ARP_DROP_REASONS, decideArp } from '../../speaker/core/arp-decision.js'
import type { Layer2Context } from '../../speaker/core/layer2-decision.js'
import {
  ARP_FILTER_MAX_IPS, BPF_INSN_SIZE, BPF_LD_H_ABS, arpFilter, arpFilterFor, assembleBpf, type BpfInsn,
} from '../../speaker/core/bpf.js'
import { checkBpf, runBpf } from '../lib/bpf-interpreter.js'

const ours = parseMac('02:00:00:00:00:0b')
const client = parseMac('02:00:00:00:00:64')
const ctx: Layer2Context = { mac: ours, announced: new Set(['192.0.2.240', '192.0.2.241']) }

t.test('a broadcast request for an announced IP is answered unicast to the asker', async t => {
  const d = decideArp(arpRequest(client, '192.0.2.100', '192.0.2.240'), ctx)
  if (d.kind !== 'reply') throw new Error(`expected a reply, got ${JSON.stringify(d)}`)
  t.equal(d.ip, '192.0.2.240')
  const r = decodeArpFrame(d.frame)
  t.ok(r.ethDst.equals(client), 'Ethernet destination is the asker')
  t.ok(r.ethSrc.equals(ours))
  t.same(r.arp, { op: ARP_OP_REPLY, sha: ours, spa: '192.0.2.240', tha: client, tpa: '192.0.2.100' })
  t.equal(d.frame.length, 60)
})

t.test('a request unicast to our MAC (a cache refresh) is answered too', async t => {
  const f = encodeArpFrame({ ethDst: ours, ethSrc: client, arp: { op: 1, sha: client, spa: '192.0.2.100', tha: ours, tpa: '192.0.2.241' } })
  const d = decideArp(f, ctx)
  t.equal(d.kind, 'reply')
})

t.test('an RFC 5227 probe (SPA 0.0.0.0) for our IP is answered so the prober sees the address is taken', async t => {
  const d = decideArp(arpRequest(client, '0.0.0.0', '192.0.2.240'), ctx)
  if (d.kind !== 'reply') throw new Error('expected a reply')
  const r = decodeArpFrame(d.frame)
  t.ok(r.ethDst.equals(client))
  t.equal(r.arp.tpa, '0.0.0.0')
  t.equal(r.arp.spa, '192.0.2.240')
})

t.test('drops, each with its reason', async t => {
  const other = parseMac('02:00:00:00:00:0c')
  const cases: Array<[string, Buffer, string]> = [
    ['not announced', arpRequest(client, '192.0.2.100', '192.0.2.242'), 'not-announced'],
    ['a node address, the kernel answers that', arpRequest(client, '192.0.2.100', '192.0.2.11'), 'not-announced'],
    ['a reply', arpReply(client, '192.0.2.100', ours, '192.0.2.240'), 'not-request'],
    ['someone else\'s gratuitous reply', gratuitousReply(client, '192.0.2.100'), 'not-request'],
    ['unicast to another host', encodeArpFrame({ ethDst: other, ethSrc: client, arp: { op: 1, sha: client, spa: '192.0.2.100', tha: ZERO_MAC, tpa: '192.0.2.240' } }), 'wrong-destination'],
    ['our own announcement reflected back', gratuitousRequest(ours, '192.0.2.240'), 'own-frame'],
    ['ARP sender is our MAC behind another source', encodeArpFrame({ ethDst: BROADCAST_MAC, ethSrc: client, arp: { op: 1, sha: ours, spa: '192.0.2.100', tha: ZERO_MAC, tpa: '192.0.2.240' } }), 'own-frame'],
    ['truncated', arpRequest(client, '192.0.2.100', '192.0.2.240').subarray(0, 30), 'malformed'],
    ['IPv4 not ARP', Buffer.concat([BROADCAST_MAC, client, Buffer.from([0x08, 0x00]), Buffer.alloc(46)]), 'malformed'],
  ]
  for (const [name, frame, reason] of cases) {
    const d = decideArp(frame, ctx)
    t.same(d.kind === 'drop' ? d.reason : d.kind, reason, name)
  }
  const m = decideArp(Buffer.alloc(5), ctx)
  t.equal(m.kind === 'drop' ? m.error?.code : undefined, 'TRUNCATED', 'a malformed drop carries the PacketError')
})

t.test('another host announcing one of our IPs is a conflict, request or reply alike (RFC 5227 §2.4)', async t => {
  const other = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0c])
  t.same(decideArp(gratuitousRequest(other, '192.0.2.240'), ctx), { kind: 'conflict', ip: '192.0.2.240', from: other }, 'a gratuitous request')
  t.same(decideArp(gratuitousReply(other, '192.0.2.241'), ctx), { kind: 'conflict', ip: '192.0.2.241', from: other }, 'a gratuitous reply')
  t.equal(decideArp(gratuitousRequest(other, '192.0.2.242'), ctx).kind, 'drop', 'not for an IP we announce: nothing to defend')
  t.equal(decideArp(gratuitousRequest(ours, '192.0.2.240'), ctx).kind, 'drop', 'our own announcement is no conflict')
  t.equal(decideArp(arpRequest(other, '0.0.0.0', '192.0.2.240'), ctx).kind, 'reply', 'a probe (sender 0.0.0.0) is answered, as before')
})

t.test('while probing, any frame from another host with the probed IP as sender says it is in use (RFC 5227 §2.1.1)', async t => {
  const holder = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0d])
  const probing: Layer2Context = { mac: ours, announced: new Set(['192.0.2.240']), probing: new Set(['192.0.2.242']) }
  // The holder answers our probe: a reply unicast to us, sender the probed IP, target 0.0.0.0.
  t.same(decideArp(arpReply(holder, '192.0.2.242', ours, '0.0.0.0'), probing), { kind: 'in-use', ip: '192.0.2.242', from: holder }, 'the answer to our probe')
  t.same(decideArp(arpRequest(holder, '192.0.2.242', '192.0.2.1'), probing), { kind: 'in-use', ip: '192.0.2.242', from: holder }, 'the holder asking for its gateway')
  t.same(decideArp(gratuitousRequest(holder, '192.0.2.242'), probing), { kind: 'in-use', ip: '192.0.2.242', from: holder }, 'the holder announcing it')
  t.same(decideArp(arpRequest(client, '192.0.2.100', '192.0.2.242'), probing), { kind: 'drop', reason: 'not-announced' }, 'a request for a probed IP is not answered: not ours yet')
  t.equal(decideArp(arpRequest(holder, '0.0.0.0', '192.0.2.242'), probing).kind, 'drop', 'another probe for it is no sign of use')
  t.equal(decideArp(arpRequest(ours, '0.0.0.0', '192.0.2.242'), probing).kind, 'drop', 'our own probe reflected back')
})

t.test('a host with our IP configured statically is seen by what it sends: requests for its gateway, replies', async t => {
  const rogue = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0e])
  t.same(decideArp(arpRequest(rogue, '192.0.2.240', '192.0.2.1'), ctx), { kind: 'conflict', ip: '192.0.2.240', from: rogue }, 'its request for the gateway')
  t.same(decideArp(arpReply(rogue, '192.0.2.241', ours, '192.0.2.11'), ctx), { kind: 'conflict', ip: '192.0.2.241', from: rogue }, 'its reply to us')
})

t.test('announced set changes take effect on the next frame (no state in the decision)', async t => {
  const req = arpRequest(client, '192.0.2.100', '192.0.2.240')
  t.equal(decideArp(req, ctx).kind, 'reply')
  t.same(decideArp(req, { mac: ours, announced: new Set() }), { kind: 'drop', reason: 'not-announced' })
})

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map(a => Buffer.from(a))
const pool = fc.constantFrom('192.0.2.240', '192.0.2.241', '192.0.2.242', '192.0.2.11')

t.test('fuzz: decideArp never throws, reports exactly the conflicts, and replies exactly to valid requests for announced IPs', async t => {
  const anyFrame = fc.oneof(
    fc.uint8Array({ maxLength: 80, size: 'max' }).map(a => Buffer.from(a)),
    fc.record({
      ethDst: fc.oneof(fc.constant(BROADCAST_MAC), fc.constant(ours), mac),
      ethSrc: fc.oneof(mac, fc.constant(ours)),
      arp: fc.record({ op: fc.constantFrom(1 as const, 2 as const), sha: mac, spa: fc.constantFrom('192.0.2.100', '0.0.0.0', '192.0.2.241'), tha: mac, tpa: pool }),
    }).map(f => encodeArpFrame(f)),
  )
  fc.assert(fc.property(anyFrame, frame => {
    const d = decideArp(frame, ctx)
    let expectReply = false
    let expectConflict = false
    try {
      const op = checkArpFrame(frame)
      const fromOther = (frame.subarray(0, 6).equals(BROADCAST_MAC) || frame.subarray(0, 6).equals(ours)) &&
        !frame.subarray(6, 12).equals(ours) && !frame.subarray(22, 28).equals(ours)
      const arp = decodeArpFrame(frame).arp
      expectConflict = fromOther && ctx.announced.has(arp.spa)
      expectReply = !expectConflict && fromOther && op === ARP_OP_REQUEST && ctx.announced.has(arp.tpa)
    } catch {
      expectReply = false
    }
    if (d.kind === 'drop') return !expectReply && !expectConflict && ARP_DROP_REASONS.includes(d.reason)
    if (d.kind === 'conflict') return expectConflict && d.from.equals(frame.subarray(22, 28))
    if (d.kind === 'in-use') return false // nothing is probed here
    return expectReply && decodeArpFrame(d.frame).ethDst.equals(frame.subarray(22, 28))
  }), { numRuns: 2000 })
  t.pass('2000 random frames decided as the rules say')
})


t.test('arpFilter accepts exactly the frames checkArpFrame accepts: requests and replies', async t => {
  const program = arpFilter()
  checkBpf(program)
  t.ok(runBpf(program, arpRequest(client, '192.0.2.100', '192.0.2.240')) > 0, 'request accepted')
  t.ok(runBpf(program, gratuitousRequest(client, '192.0.2.100')) > 0, 'announcement accepted')
  t.ok(runBpf(program, arpReply(client, '192.0.2.100', ours, '192.0.2.240')) > 0, 'reply accepted')
  t.equal(runBpf(program, Buffer.alloc(60)), 0, 'zeros dropped')
  const nearArp = fc.tuple(fc.uint8Array({ maxLength: 70, size: 'max' }), fc.nat(3), fc.nat(7)).map(([bytes, op, breakAt]) => {
    const b = Buffer.from(bytes)
    if (b.length >= 22) {
      b.writeUInt16BE(0x0806, 12)
      b.writeUInt32BE(0x00010800, 14)
      b[18] = 6
      b[19] = 4
      b.writeUInt16BE(op, 20)
      // Half the time, break one of the fields the filter checks.
      if (breakAt < 4) b.writeUInt8(b.readUInt8(12 + breakAt * 2) ^ 0x40, 12 + breakAt * 2)
    }
    return b
  })
  fc.assert(fc.property(nearArp, b => {
    let valid = false
    try {
      checkArpFrame(b)
      valid = true
    } catch {
      valid = false
    }
    // The filter reads only up to the op (22 bytes); a frame cut between 22 and 42 bytes passes it and
    // is dropped as malformed by decideArp.
    const filterSays = runBpf(program, b) > 0
    return b.length >= 42 ? filterSays === valid : (filterSays ? b.length >= 22 : true)
  }), { numRuns: 3000 })
  t.pass('3000 frames filtered as checkArpFrame decides')
})

t.test('assembleBpf writes struct sock_filter in host byte order', async t => {
  const insn: BpfInsn = { code: BPF_LD_H_ABS, jt: 1, jf: 2, k: 0x01020304 }
  const le = assembleBpf([insn], true)
  t.same([...le], [0x28, 0x00, 1, 2, 0x04, 0x03, 0x02, 0x01])
  const be = assembleBpf([insn], false)
  t.same([...be], [0x00, 0x28, 1, 2, 0x01, 0x02, 0x03, 0x04])
  t.equal(assembleBpf(arpFilter()).length, arpFilter().length * BPF_INSN_SIZE)
})

t.test('arpFilterFor: requests for our IPs and frames from our IPs only, whatever the set size', async t => {
  const announced = ips('192.0.2.240', '192.0.2.241')
  const program = arpFilterFor(announced)
  checkBpf(program)
  t.ok(runBpf(program, arpRequest(client, '192.0.2.100', '192.0.2.240')) > 0, 'request for an announced IP accepted')
  t.ok(runBpf(program, arpRequest(client, '0.0.0.0', '192.0.2.241')) > 0, 'RFC 5227 probe for an announced IP accepted')
  t.ok(runBpf(program, arpRequest(client, '192.0.2.240', '192.0.2.1')) > 0, 'a request from an announced IP (another host has it) accepted')
  t.ok(runBpf(program, arpReply(client, '192.0.2.241', ours, '0.0.0.0')) > 0, 'a reply from an announced IP accepted')
  t.ok(runBpf(program, gratuitousReply(client, '192.0.2.240')) > 0, 'a gratuitous reply for an announced IP accepted')
  t.equal(runBpf(program, arpRequest(client, '192.0.2.100', '192.0.2.242')), 0, 'request for another IP dropped')
  t.equal(runBpf(program, arpReply(client, '192.0.2.100', ours, '192.0.2.240')), 0, 'a reply from another IP dropped, whatever its target')
  t.equal(runBpf(program, gratuitousRequest(client, '192.0.2.242')), 0, 'another host announcing another IP dropped')
  const op3 = arpRequest(client, '192.0.2.240', '192.0.2.240')
  op3.writeUInt16BE(3, 20)
  t.equal(runBpf(program, op3), 0, 'an op other than request or reply dropped')
  t.equal(runBpf(program, Buffer.alloc(60)), 0, 'zeros dropped')
  t.same(arpFilterFor([0xc00002f1, 0xc00002f0]), program, 'u32 words (network order) give the same program')
  t.same(arpFilterFor(ips('192.0.2.241', '192.0.2.240', '192.0.2.241')), program, 'order and duplicates do not matter')

  const none = arpFilterFor([])
  checkBpf(none)
  t.equal(runBpf(none, arpRequest(client, '192.0.2.100', '192.0.2.240')), 0, 'nothing announced: nothing accepted')

  // The largest chain still fits the kernel's limits; one IP more falls back to every request and reply.
  const many = Array.from({ length: ARP_FILTER_MAX_IPS }, (_, i) => (0xc6120000 + i * 7) >>> 0)
  const big = arpFilterFor(many)
  checkBpf(big)
  t.ok(big.length <= 4096, `${big.length} instructions, within BPF_MAXINSNS`)
  const ipOf = (w: number): string => [w >>> 24, (w >>> 16) & 255, (w >>> 8) & 255, w & 255].join('.')
  t.ok(many.every(w => runBpf(big, arpRequest(client, '192.0.2.100', ipOf(w))) > 0), `requests for all ${many.length} IPs accepted`)
  t.ok(many.every(w => runBpf(big, arpReply(client, ipOf(w), ours, '192.0.2.100')) > 0), `replies from all ${many.length} IPs accepted`)
  t.equal(runBpf(big, arpRequest(client, '192.0.2.100', ipOf(0xc6120001))), 0, 'a gap between them dropped')
  t.same(arpFilterFor([...many, 0xc6130000]), arpFilter(), 'above the limit: the accept-all-ARP program')
  t.throws(() => arpFilterFor(ips('2001:db8::1')), { code: 'BAD_ADDRESS' }, 'an IPv6 address has no place in an ARP filter')
})

t.test('fuzz: arpFilterFor accepts every frame decideArp answers or calls a conflict, and nothing else but frames to or from our IPs', async t => {
  const v4 = fc.tuple(fc.constantFrom(192, 198), fc.nat(3), fc.nat(255)).map(([a, c, d]) => `${a}.0.${c}.${d}`)
  const frameFor = (ips: string[]): fc.Arbitrary<Buffer> => {
    // Senders and targets drawn from the announced set half the time, so conflicts and answers are common.
    const addr = ips.length > 0 ? fc.oneof(v4, fc.constantFrom(...ips)) : v4
    const frame = fc.record({
      ethDst: fc.oneof(fc.constant(BROADCAST_MAC), fc.constant(ours), mac),
      ethSrc: mac,
      arp: fc.record({ op: fc.constantFrom(1 as const, 2 as const), sha: mac, spa: fc.oneof(addr, fc.constant('0.0.0.0')), tha: mac, tpa: addr }),
    }).map(f => encodeArpFrame(f))
    // Random bytes over an ARP header, to reach the header checks' failure paths as well.
    const mangled = fc.tuple(frame, fc.nat(27), fc.nat(255)).map(([f, at, byte]) => {
      const b = Buffer.from(f)
      b[12 + at] = byte
      return b
    })
    return fc.oneof(frame, mangled)
  }
  const seen = new Map<string, number>()
  fc.assert(fc.property(fc.uniqueArray(v4, { maxLength: 40 }).chain(ips => fc.tuple(fc.constant(ips), fc.array(frameFor(ips), { minLength: 1, maxLength: 20 }))), ([ips, frames]) => {
    const program = arpFilterFor(canonicalIPs(...ips))
    checkBpf(program)
    const c: Layer2Context = { mac: ours, announced: new Set(ips) }
    return frames.every(f => {
      const accepted = runBpf(program, f) > 0
      const d = decideArp(f, c)
      const kind = d.kind === 'drop' ? d.reason : d.kind
      seen.set(kind, (seen.get(kind) ?? 0) + 1)
      let forOrFromUs = false
      try {
        const op = checkArpFrame(f)
        const arp = decodeArpFrame(f).arp
        forOrFromUs = (op === ARP_OP_REQUEST && c.announced.has(arp.tpa)) || c.announced.has(arp.spa)
      } catch {
        forOrFromUs = false
      }
      // Every answer and every conflict gets through; nothing else does but frames for or from announced
      // IPs (which decideArp may still drop for their Ethernet addresses: the filter does not look at those).
      return (d.kind === 'drop' || accepted) && accepted === forOrFromUs
    })
  }), { numRuns: 1500 })
  t.pass(`1500 announced sets, filter and decision agree: ${JSON.stringify(Object.fromEntries(seen))}`)
  t.ok((seen.get('conflict') ?? 0) > 0 && (seen.get('reply') ?? 0) > 0, 'the fuzz reached both answers and conflicts')
})
