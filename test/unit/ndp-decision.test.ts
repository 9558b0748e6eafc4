// The pure NDP decision (decideNdp) and the kernel filter for Neighbor Solicitations and Advertisements.
import t from 'tap'
import { ips } from '../lib/canonical-ip.js'
import fc from 'fast-check'
import { parseMac } from '../../speaker/core/ethernet.js'
import { ALL_NODES_MAC, icmpv6Sum, ipv6At, solicitedNodeAddress, solicitedNodeMac } from '../../speaker/core/ipv6.js'
import {
  OFF_CHECKSUM, OFF_DST, OFF_ICMP, OFF_SRC, checkNdpFrame, decodeNdpFrame, encodeNdpFrame, neighborSolicitation,
  solicitedAdvertisement, unsolicitedAdvertisement,
} from '../../speaker/core/ndp.js'
import { NDP_DROP_REASONS, decideNdp } from '../../speaker/core/ndp-decision.js'
import type { Layer2Context } from '../../speaker/core/layer2-decision.js'
import {
  BPF_INSN_SIZE, NDP_FILTER_MAX_IPS, assembleBpf, ndpFilter, ndpFilterFor,
} from '../../speaker/core/bpf.js'
import { checkBpf, runBpf } from '../lib/bpf-interpreter.js'

const ours = parseMac('02:00:00:00:09:01')
const client = parseMac('02:00:00:00:09:64')
const other = parseMac('02:00:00:00:09:0c')
const VIP = '2001:db8:0:9::f0'
const VIP2 = '2001:db8:0:9::1:f0' // same solicited-node group as VIP (low 24 bits 00:00:f0)
const ctx: Layer2Context = { mac: ours, announced: new Set([VIP, VIP2]) }
const CLIENT_IP = '2001:db8:0:9::64'

t.test('an NS to the solicited-node group for an announced IP is answered unicast: S=1, O=1, R=0, TLLA', async t => {
  const d = decideNdp(neighborSolicitation(client, CLIENT_IP, VIP), ctx)
  if (d.kind !== 'reply') throw new Error(`expected a reply, got ${JSON.stringify(d)}`)
  t.equal(d.ip, VIP)
  t.same(decodeNdpFrame(d.frame), {
    ethDst: client, ethSrc: ours, src: VIP, dst: CLIENT_IP,
    message: { type: 136, target: VIP, router: false, solicited: true, override: true, targetLinkAddress: ours },
  })
  t.equal(d.frame[21], 255, 'hop limit 255')
  t.ok(d.frame.equals(solicitedAdvertisement(ours, VIP, client, CLIENT_IP)))
})

t.test('the answer goes to the SLLA when it differs from the Ethernet source (RFC 4861 §7.2.4)', async t => {
  const f = encodeNdpFrame({
    ethDst: solicitedNodeMac(VIP), ethSrc: other, src: CLIENT_IP, dst: solicitedNodeAddress(VIP),
    message: { type: 135, target: VIP, sourceLinkAddress: client },
  })
  const d = decideNdp(f, ctx)
  t.same(d.kind === 'reply' ? decodeNdpFrame(d.frame).ethDst : d, client)
})

t.test('a unicast NS (neighbour unreachability detection) to our MAC is answered to its Ethernet source', async t => {
  const nud = encodeNdpFrame({
    ethDst: ours, ethSrc: client, src: CLIENT_IP, dst: VIP2, message: { type: 135, target: VIP2, sourceLinkAddress: null },
  })
  const d = decideNdp(nud, ctx)
  if (d.kind !== 'reply') throw new Error(`expected a reply, got ${JSON.stringify(d)}`)
  t.match(decodeNdpFrame(d.frame), { ethDst: client, dst: CLIENT_IP, message: { target: VIP2, solicited: true } })
})

t.test('duplicate address detection for our IP is answered to all-nodes with S=0, so the prober backs off', async t => {
  const d = decideNdp(neighborSolicitation(client, '::', VIP), ctx)
  if (d.kind !== 'reply') throw new Error(`expected a reply, got ${JSON.stringify(d)}`)
  t.match(decodeNdpFrame(d.frame), { ethDst: ALL_NODES_MAC, dst: 'ff02::1', src: VIP, message: { solicited: false, override: true } })
})

t.test('drops, each with its reason', async t => {
  const ns = (ethDst: Buffer, dst: string, target = VIP, ethSrc = client, slla: Buffer | null = client): Buffer => encodeNdpFrame({
    ethDst, ethSrc, src: CLIENT_IP, dst, message: { type: 135, target, sourceLinkAddress: slla },
  })
  const cases: Array<[string, Buffer, string]> = [
    ['not announced', neighborSolicitation(client, CLIENT_IP, '2001:db8:0:9::f1'), 'not-announced'],
    ['a node address: the kernel answers that', neighborSolicitation(client, CLIENT_IP, '2001:db8:0:9::1'), 'not-announced'],
    ['an IPv4-looking target is not an IPv4 address', neighborSolicitation(client, CLIENT_IP, '::ffff:192.0.2.240'), 'not-announced'],
    ['a solicited NA', solicitedAdvertisement(client, CLIENT_IP, ours, VIP), 'not-solicitation'],
    ['someone else\'s unsolicited NA for another IP', unsolicitedAdvertisement(client, '2001:db8:0:9::f1'), 'not-solicitation'],
    ['our own unsolicited NA reflected back', unsolicitedAdvertisement(ours, VIP), 'own-frame'],
    ['SLLA is our MAC behind another source', ns(solicitedNodeMac(VIP), solicitedNodeAddress(VIP), VIP, client, ours), 'own-frame'],
    ['to all-nodes rather than the solicited-node group', ns(ALL_NODES_MAC, 'ff02::1'), 'wrong-destination'],
    ['to the solicited-node group of another address', ns(solicitedNodeMac('2001:db8::ab'), solicitedNodeAddress('2001:db8::ab')), 'wrong-destination'],
    ['right IP group, wrong Ethernet group', ns(parseMac('33:33:ff:00:00:f1'), solicitedNodeAddress(VIP)), 'wrong-destination'],
    ['unicast to the target at another MAC', ns(other, VIP), 'wrong-destination'],
    ['unicast at our MAC to another address', ns(ours, '2001:db8:0:9::1'), 'wrong-destination'],
    ['hop limit 64', (() => { const b = neighborSolicitation(client, CLIENT_IP, VIP); b[21] = 64; return b })(), 'malformed'],
    ['truncated', neighborSolicitation(client, CLIENT_IP, VIP).subarray(0, 70), 'malformed'],
    ['an ARP frame', Buffer.concat([Buffer.alloc(12, 0xff), Buffer.from([0x08, 0x06]), Buffer.alloc(46)]), 'malformed'],
  ]
  for (const [name, frame, reason] of cases) {
    const d = decideNdp(frame, ctx)
    t.same(d.kind === 'drop' ? d.reason : d.kind, reason, name)
  }
  const m = decideNdp(Buffer.alloc(5), ctx)
  t.equal(m.kind === 'drop' ? m.error?.code : undefined, 'TRUNCATED', 'a malformed drop carries the PacketError')
})

t.test('another host using one of our addresses is a conflict: its NA for it, its NS from it', async t => {
  t.same(decideNdp(unsolicitedAdvertisement(other, VIP), ctx), { kind: 'conflict', ip: VIP, from: other }, 'an unsolicited NA (TLLA names the host)')
  const noTlla = encodeNdpFrame({
    ethDst: ALL_NODES_MAC, ethSrc: other, src: VIP2, dst: 'ff02::1',
    message: { type: 136, target: VIP2, router: false, solicited: false, override: false, targetLinkAddress: null },
  })
  t.same(decideNdp(noTlla, ctx), { kind: 'conflict', ip: VIP2, from: other }, 'an NA without TLLA: the Ethernet source')
  t.same(decideNdp(neighborSolicitation(other, VIP, '2001:db8:0:9::1'), ctx), { kind: 'conflict', ip: VIP, from: other }, 'an NS for its router from our address')
  t.equal(decideNdp(neighborSolicitation(other, '::', VIP), ctx).kind, 'reply', 'a DAD probe for our address is answered, not counted')
  t.equal(decideNdp(unsolicitedAdvertisement(ours, VIP), ctx).kind, 'drop', 'our own NA is no conflict')
})

t.test('while probing (DAD, RFC 4862 §5.4), an NA for the address or an NS from it says it is in use', async t => {
  const probing: Layer2Context = { mac: ours, announced: new Set([VIP]), probing: new Set([VIP2]) }
  // The holder answers our DAD probe (RFC 4861 §7.2.4): to all-nodes, S=0, TLLA its MAC.
  t.same(decideNdp(solicitedAdvertisement(other, VIP2, client, '::'), probing), { kind: 'in-use', ip: VIP2, from: other }, 'the answer to our probe')
  t.same(decideNdp(neighborSolicitation(other, VIP2, '2001:db8:0:9::1'), probing), { kind: 'in-use', ip: VIP2, from: other }, 'the holder resolving its router')
  t.same(decideNdp(neighborSolicitation(client, CLIENT_IP, VIP2), probing), { kind: 'drop', reason: 'not-announced' }, 'an NS for the probed address is not answered: not ours yet')
  t.equal(decideNdp(neighborSolicitation(other, '::', VIP2), probing).kind, 'drop', 'another DAD probe for it is no sign of use')
  t.equal(decideNdp(neighborSolicitation(ours, '::', VIP2), probing).kind, 'drop', 'our own probe reflected back')
})

t.test('announced set changes take effect on the next frame (no state in the decision)', async t => {
  const req = neighborSolicitation(client, CLIENT_IP, VIP)
  t.equal(decideNdp(req, ctx).kind, 'reply')
  t.same(decideNdp(req, { mac: ours, announced: new Set() }), { kind: 'drop', reason: 'not-announced' })
})

const arbMac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map(a => Buffer.from(a))
const pool = fc.constantFrom(VIP, VIP2, '2001:db8:0:9::f1', '2001:db8:0:9::1')

t.test('fuzz: decideNdp never throws, and replies exactly to valid solicitations for announced IPs', async t => {
  const anyFrame = fc.oneof(
    fc.uint8Array({ maxLength: 100, size: 'max' }).map(a => Buffer.from(a)),
    fc.record({
      ethDst: fc.oneof(fc.constant('group' as const), fc.constant(ours), arbMac),
      ethSrc: fc.oneof(arbMac, fc.constant(ours)),
      src: fc.constantFrom(CLIENT_IP, '::', 'fe80::64', VIP),
      dst: fc.constantFrom('group' as const, 'target' as const, 'ff02::1'),
      type: fc.constantFrom(135 as const, 136 as const),
      target: pool,
      lla: fc.option(fc.oneof(arbMac, fc.constant(ours)), { nil: null }),
      flags: fc.boolean(),
    }).map(r => {
      const dst = r.dst === 'group' ? solicitedNodeAddress(r.target) : r.dst === 'target' ? r.target : r.dst
      const ethDst = r.ethDst === 'group' ? solicitedNodeMac(r.target) : r.ethDst
      try {
        return encodeNdpFrame({
          ethDst, ethSrc: r.ethSrc, src: r.src, dst,
          message: r.type === 135
            ? { type: 135, target: r.target, sourceLinkAddress: r.lla }
            : { type: 136, target: r.target, router: false, solicited: r.flags, override: true, targetLinkAddress: r.lla },
        })
      } catch {
        return Buffer.alloc(0)
      }
    }),
  )
  const seen = new Map<string, number>()
  fc.assert(fc.property(anyFrame, frame => {
    const d = decideNdp(frame, ctx)
    const key = d.kind === 'drop' ? d.reason : d.kind
    seen.set(key, (seen.get(key) ?? 0) + 1)
    let expectReply = false
    let expectConflict = false
    try {
      const c = checkNdpFrame(frame)
      const f = decodeNdpFrame(frame)
      const lla = c.linkAddressAt < 0 ? null : frame.subarray(c.linkAddressAt, c.linkAddressAt + 6)
      const ethDst = frame.subarray(0, 6)
      const fromOther = !f.ethSrc.equals(ours) && !(lla?.equals(ours) ?? false)
      expectConflict = fromOther && (f.message.type === 136 ? ctx.announced.has(f.message.target) : ctx.announced.has(f.src))
      expectReply = !expectConflict && f.message.type === 135 && fromOther &&
        ((f.dst === solicitedNodeAddress(f.message.target) && ethDst.equals(solicitedNodeMac(f.message.target))) ||
          (f.dst === f.message.target && ethDst.equals(ours))) &&
        ctx.announced.has(f.message.target)
    } catch {
      expectReply = false
    }
    if (d.kind === 'drop') return !expectReply && !expectConflict && NDP_DROP_REASONS.includes(d.reason)
    if (d.kind === 'conflict') return expectConflict
    if (d.kind === 'in-use') return false // nothing is probed here
    const r = decodeNdpFrame(d.frame)
    return expectReply && r.src === d.ip && r.message.type === 136 && r.message.override
  }), { numRuns: 3000 })
  t.pass(`3000 random frames decided as the rules say: ${JSON.stringify(Object.fromEntries(seen))}`)
  t.ok((seen.get('reply') ?? 0) > 0 && (seen.get('not-announced') ?? 0) > 0 && (seen.get('conflict') ?? 0) > 0, 'the fuzz reached answers, conflicts and drops')
})


t.test('ndpFilter passes NS and NA frames only, and every frame checkNdpFrame accepts', async t => {
  const program = ndpFilter()
  checkBpf(program)
  t.equal(assembleBpf(program).length, program.length * BPF_INSN_SIZE)
  t.ok(runBpf(program, neighborSolicitation(client, CLIENT_IP, VIP)) > 0, 'NS accepted')
  t.ok(runBpf(program, neighborSolicitation(client, '::', VIP)) > 0, 'DAD NS accepted')
  t.ok(runBpf(program, unsolicitedAdvertisement(client, VIP)) > 0, 'NA accepted')
  t.equal(runBpf(program, Buffer.alloc(90)), 0, 'zeros dropped')
  const hop64 = neighborSolicitation(client, CLIENT_IP, VIP)
  hop64[21] = 64
  t.equal(runBpf(program, hop64), 0, 'hop limit below 255 dropped in the kernel (RFC 4861 §7.1.1)')
  const nearNs = fc.tuple(fc.constantFrom(VIP, VIP2, '2001:db8::1'), fc.nat(5), fc.nat(255), fc.boolean()).map(([target, breakAt, v, na]) => {
    const b = na ? unsolicitedAdvertisement(client, target) : neighborSolicitation(client, CLIENT_IP, target)
    // Half the time, change one of the bytes the filter checks (EtherType, next header, hop limit, type, code).
    const at = [12, 13, 20, 21, 54, 55][breakAt]
    if (at !== undefined && breakAt < 6 && v % 2 === 0) b[at] = v
    // Keep the checksum right so that only the changed field can make checkNdpFrame refuse it.
    b.writeUInt16BE(0, OFF_CHECKSUM)
    b.writeUInt16BE(~icmpv6Sum(b, OFF_SRC, OFF_DST, OFF_ICMP, 32) & 0xffff, OFF_CHECKSUM)
    return b
  })
  fc.assert(fc.property(nearNs, b => {
    let valid = false
    try {
      checkNdpFrame(b)
      valid = true
    } catch {
      valid = false
    }
    return (runBpf(program, b) > 0) === valid
  }), { numRuns: 2000 })
  t.pass('2000 near-NS/NA frames filtered as checkNdpFrame decides')
})

t.test('ndpFilterFor: NS for our addresses, NA for them, NS from them, whatever the set size', async t => {
  const program = ndpFilterFor(ips(VIP2, VIP, '2001:db8:0:9:0:0:0:f0'))
  checkBpf(program)
  t.same(program, ndpFilterFor(ips(VIP, VIP2)), 'order, spelling and duplicates do not matter')
  t.ok(runBpf(program, neighborSolicitation(client, CLIENT_IP, VIP)) > 0, 'NS for an announced address accepted')
  t.ok(runBpf(program, neighborSolicitation(client, '::', VIP2)) > 0, 'DAD NS for an announced address accepted')
  t.ok(runBpf(program, unsolicitedAdvertisement(other, VIP)) > 0, 'NA for an announced address accepted (a conflict)')
  t.ok(runBpf(program, neighborSolicitation(other, VIP2, '2001:db8:0:9::1')) > 0, 'NS from an announced address accepted (a conflict)')
  t.equal(runBpf(program, neighborSolicitation(client, CLIENT_IP, '2001:db8:0:9::f1')), 0, 'NS between other hosts dropped')
  t.equal(runBpf(program, unsolicitedAdvertisement(client, '2001:db8:0:9::f1')), 0, 'NA for another address dropped')
  t.equal(runBpf(program, solicitedAdvertisement(other, CLIENT_IP, client, VIP)), 0, 'NA to one of our addresses about another dropped')
  const none = ndpFilterFor([])
  checkBpf(none)
  t.equal(runBpf(none, neighborSolicitation(client, CLIENT_IP, VIP)), 0, 'nothing announced: nothing accepted')
  const many = Array.from({ length: NDP_FILTER_MAX_IPS }, (_, i) => `2001:db8:1::${(i * 3).toString(16)}`)
  const big = ndpFilterFor(ips(...many))
  checkBpf(big)
  t.ok(big.length <= 4096, `${big.length} instructions, within BPF_MAXINSNS`)
  t.ok(many.every(ip => runBpf(big, neighborSolicitation(client, CLIENT_IP, ip)) > 0), `NS for all ${many.length} addresses accepted`)
  t.ok(many.every(ip => runBpf(big, neighborSolicitation(other, ip, '2001:db8:1::1')) > 0), `NS from all ${many.length} addresses accepted`)
  t.equal(runBpf(big, neighborSolicitation(client, CLIENT_IP, '2001:db8:1::1')), 0, 'a gap between them dropped')
  t.same(ndpFilterFor(ips(...many, '2001:db8:2::1')), ndpFilter(), 'above the limit: every NS and NA')
})

t.test('fuzz: ndpFilterFor accepts every frame decideNdp answers or calls a conflict, and nothing else but frames for or from our addresses', async t => {
  // Addresses differing in one word at a time, so a wrong word offset or skip count shows.
  const v6 = fc.tuple(fc.nat(3), fc.nat(2)).map(([word, v]) => {
    const b = Buffer.from('20010db8000000090000000000000000', 'hex')
    b.writeUInt32BE(v + 1, word * 4)
    return ipv6At(b, 0)
  })
  const frame = fc.tuple(v6, v6, fc.boolean(), fc.nat(7)).map(([target, src, ns, flip]) => {
    const b = ns ? neighborSolicitation(client, flip === 0 ? '::' : flip < 4 ? CLIENT_IP : src, target) : unsolicitedAdvertisement(client, target)
    if (flip === 1) b[21] = 64 // hop limit: crossed a router
    return b
  })
  const seen = new Map<string, number>()
  fc.assert(fc.property(fc.uniqueArray(v6, { maxLength: 12 }), fc.array(frame, { minLength: 1, maxLength: 20 }), (ips, frames) => {
    const program = ndpFilterFor(ips)
    checkBpf(program)
    const c: Layer2Context = { mac: ours, announced: new Set(ips) }
    return frames.every(f => {
      const accepted = runBpf(program, f) > 0
      const d = decideNdp(f, c)
      const kind = d.kind === 'drop' ? d.reason : d.kind
      seen.set(kind, (seen.get(kind) ?? 0) + 1)
      let forOrFromUs = false
      try {
        const type = checkNdpFrame(f).type
        forOrFromUs = c.announced.has(ipv6At(f, 62)) || (type === 135 && c.announced.has(ipv6At(f, OFF_SRC)))
      } catch {
        forOrFromUs = false
      }
      return (d.kind === 'drop' || accepted) && accepted === forOrFromUs
    })
  }), { numRuns: 1500 })
  t.pass(`1500 announced sets, filter and decision agree: ${JSON.stringify(Object.fromEntries(seen))}`)
  t.ok((seen.get('conflict') ?? 0) > 0 && (seen.get('reply') ?? 0) > 0, 'the fuzz reached both answers and conflicts')
})
