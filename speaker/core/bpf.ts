// Classic BPF (the socket filter of linux/filter.h, SO_ATTACH_FILTER) built in TypeScript: the kernel
// drops what the speaker would drop anyway before it is copied to user space. The C addon only passes the
// bytes through. Opcodes from include/uapi/linux/bpf_common.h.
import { endianness } from 'node:os'
import { ipOf, type CanonicalIP, type IPFamily } from '../../internal/core/ip.js'
import { ETHERTYPE_ARP, ETHERTYPE_IPV4, ETHERTYPE_IPV6, PacketError } from './ethernet.js'
import { ARP_HTYPE_ETHERNET, ARP_OP_REPLY, ARP_OP_REQUEST, OFF_OP, OFF_SPA, OFF_TPA } from './arp.js'
import {
  ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION, NDP_HOP_LIMIT, OFF_ICMP_TYPE, OFF_NEXT_HEADER, OFF_SRC, OFF_TARGET,
} from './ndp.js'
import { IPPROTO_ICMPV6 } from './ipv6.js'

export const BPF_LD_W_ABS = 0x20 // A <- u32 at k
export const BPF_LD_H_ABS = 0x28 // A <- u16 at k
export const BPF_LD_B_ABS = 0x30 // A <- u8 at k
export const BPF_JEQ_K = 0x15 // pc += (A == k) ? jt : jf
export const BPF_RET_K = 0x06 // accept k bytes (0 = drop)
export const BPF_JA = 0x05 // pc += k (32-bit offset, unconditional)

/** struct sock_filter { __u16 code; __u8 jt; __u8 jf; __u32 k; } */
export interface BpfInsn {
  code: number
  jt: number
  jf: number
  k: number
}

export const BPF_INSN_SIZE = 8
/** Bytes kept of an accepted packet: all of it (tcpdump's default snap length). */
export const BPF_ACCEPT_ALL = 0x40000

/** The bytes of `struct sock_filter[]` in host byte order, as SO_ATTACH_FILTER expects. */
export function assembleBpf(program: readonly BpfInsn[], littleEndian: boolean = endianness() === 'LE'): Buffer {
  const out = Buffer.alloc(program.length * BPF_INSN_SIZE)
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength)
  program.forEach((insn, i) => {
    const o = i * BPF_INSN_SIZE
    view.setUint16(o, insn.code, littleEndian)
    view.setUint8(o + 2, insn.jt)
    view.setUint8(o + 3, insn.jf)
    view.setUint32(o + 4, insn.k >>> 0, littleEndian)
  })
  return out
}

/** One test of a filter: load `size` bytes at `offset` and compare them with `value`. */
export type BpfCheck = readonly [code: typeof BPF_LD_W_ABS | typeof BPF_LD_H_ABS | typeof BPF_LD_B_ABS, offset: number, value: number]

/**
 * The program shape both responder filters use: accept the whole packet when every check holds, drop it
 * at the first that does not. Each check is a load and a compare whose mismatch jumps to the final `ret 0`.
 */
export function allOf(checks: readonly BpfCheck[]): BpfInsn[] {
  const program: BpfInsn[] = []
  checks.forEach(([code, offset, value], i) => {
    const remaining = checks.length - 1 - i
    program.push({ code, jt: 0, jf: 0, k: offset })
    // On mismatch skip the remaining checks (2 insns each) and the accept.
    program.push({ code: BPF_JEQ_K, jt: 0, jf: remaining * 2 + 1, k: value >>> 0 })
  })
  program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT_ALL })
  program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: 0 })
  return program
}

/**
 * Accepts only ARP for Ethernet/IPv4, request or reply: EtherType 0x0806, htype 1, ptype 0x0800, hlen 6,
 * plen 4, op 1 or 2. Other protocols and malformed ARP never reach the responder. The filter a link is
 * opened with and the fallback above ARP_FILTER_MAX_IPS: a superset of every arpFilterFor program.
 */
export function arpFilter(): BpfInsn[] {
  const program = headerChecks(ARP_HEADER_CHECKS)
  program.push(
    { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: OFF_OP },
    { code: BPF_JEQ_K, jt: 1, jf: 0, k: ARP_OP_REQUEST },
    { code: BPF_JEQ_K, jt: 0, jf: 1, k: ARP_OP_REPLY },
    { code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT_ALL },
    { code: BPF_RET_K, jt: 0, jf: 0, k: 0 },
  )
  return program
}

const ARP_HEADER_CHECKS: readonly BpfCheck[] = [
  [BPF_LD_H_ABS, 12, ETHERTYPE_ARP],
  [BPF_LD_W_ABS, 14, (ARP_HTYPE_ETHERNET << 16) | ETHERTYPE_IPV4],
  [BPF_LD_H_ABS, 18, (6 << 8) | 4],
]

/**
 * Most addresses arpFilterFor matches in the kernel. Each costs four instructions (two in the target list,
 * two in the sender list): 4 * 1000 + 16 = 4016, inside classic BPF's BPF_MAXINSNS (4096); above it the
 * filter falls back to arpFilter() (every ARP frame reaches user space and decideArp drops the others),
 * which is still correct, only not flood-proof. A node announcing more than 1000 IPs on one interface is
 * far beyond what the chain's linear scan was sized for anyway.
 */
export const ARP_FILTER_MAX_IPS = 1000

/** The value of a canonical address of `family` (read, not parsed: ip.ts ipOf); throws PacketError('BAD_ADDRESS'). */
function valueOf(ip: CanonicalIP, family: IPFamily): bigint {
  const v = ipOf(ip)
  if (v.family !== family) throw new PacketError('BAD_ADDRESS', `'${ip}' is not an ${family} address`)
  return v.value
}

/** The IPv4 address as the u32 a BPF_W load of its 4 bytes yields (network order). */
function ipv4Word(ip: number | CanonicalIP): number {
  return typeof ip === 'number' ? ip >>> 0 : Number(valueOf(ip, 'IPv4'))
}

/** `ld w [offset]`, then per word `jeq word, 0, 1; ret ACCEPT`: every jump is one instruction long. */
function wordList(offset: number, words: readonly number[]): BpfInsn[] {
  const program: BpfInsn[] = [{ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: offset }]
  for (const w of words) {
    program.push({ code: BPF_JEQ_K, jt: 0, jf: 1, k: w })
    program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT_ALL })
  }
  return program
}

/**
 * arpFilter() narrowed to the frames the responder acts on for `ips` (canonical dotted quads, or u32 in
 * network order): a request whose target (TPA, offset 38) is one of them (to answer it), and a request or reply
 * whose sender (SPA, offset 28) is one of them (another host using the address: a conflict, RFC 5227
 * §2.4, or during a probe the answer that the address is taken, §2.1.1). Requests between other hosts, an
 * ARP flood for other addresses included, are dropped in the kernel and cost no user-space CPU; so are
 * replies about other addresses.
 *
 * With no IPs it accepts nothing: decideArp would drop every frame anyway, and the only thing lost is the
 * 'not-announced' drop count, which counts exactly the frames this filter exists to keep out.
 *
 * Layout: the header checks; the op (a reply jumps over the target list with a 32-bit `ja`); the target
 * list; the sender list; `ret 0`. The addresses are sorted and deduplicated, so one set always yields one
 * program; each match returns right there, so no conditional jump is longer than three instructions (jt/jf
 * are 8 bits; a shared accept at the end would be out of reach past ~127 IPs). Linear in the number of
 * IPs; fine up to ARP_FILTER_MAX_IPS, above which it is arpFilter().
 */
export function arpFilterFor(ips: readonly number[] | readonly CanonicalIP[]): BpfInsn[] {
  const words = [...new Set<number>((ips as ReadonlyArray<number | CanonicalIP>).map(ipv4Word))].sort((a, b) => a - b)
  if (words.length > ARP_FILTER_MAX_IPS) return arpFilter()
  if (words.length === 0) return [{ code: BPF_RET_K, jt: 0, jf: 0, k: 0 }]
  const targets = wordList(OFF_TPA, words)
  const program = headerChecks(ARP_HEADER_CHECKS)
  // A request lands on the target list; a reply jumps over it to the sender list.
  program.push(
    { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: OFF_OP },
    { code: BPF_JEQ_K, jt: 3, jf: 0, k: ARP_OP_REQUEST }, // to the target list
    { code: BPF_JEQ_K, jt: 1, jf: 0, k: ARP_OP_REPLY }, // to the `ja`
    { code: BPF_RET_K, jt: 0, jf: 0, k: 0 }, // neither: not ARP checkArpFrame accepts
    { code: BPF_JA, jt: 0, jf: 0, k: targets.length },
  )
  program.push(...targets, ...wordList(OFF_SPA, words))
  program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: 0 })
  return program
}

/**
 * allOf(checks) without its accept: the header checks, falling through to what follows when all hold. A
 * mismatch cannot jump to a final `ret 0` past a long address list (jf is 8 bits), so the checks exit
 * through a `ret 0` of their own right after them, which a match jumps over.
 */
function headerChecks(checks: readonly BpfCheck[]): BpfInsn[] {
  const program: BpfInsn[] = []
  checks.forEach(([code, offset, value], i) => {
    const remaining = checks.length - 1 - i
    program.push({ code, jt: 0, jf: 0, k: offset })
    program.push({ code: BPF_JEQ_K, jt: 0, jf: remaining * 2 + 1, k: value >>> 0 })
  })
  program.push({ code: BPF_JA, jt: 0, jf: 0, k: 1 })
  program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: 0 })
  return program
}

/**
 * Accepts only what can be a valid IPv6 Neighbor Solicitation or Advertisement on Ethernet: EtherType
 * 0x86DD, next header 58 (ICMPv6) with hop limit 255 (RFC 4861 §7.1.1, §7.1.2: anything lower crossed a
 * router and is discarded anyway), ICMPv6 type 135 or 136, code 0. The responder still validates the rest
 * (checksum, options). The filter a link is opened with and the fallback above NDP_FILTER_MAX_IPS: a
 * superset of every ndpFilterFor program.
 */
export function ndpFilter(): BpfInsn[] {
  const program = headerChecks(NDP_HEADER_CHECKS)
  program.push(
    { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: OFF_ICMP_TYPE }, // type, code 0
    { code: BPF_JEQ_K, jt: 1, jf: 0, k: ICMPV6_NEIGHBOR_SOLICITATION << 8 },
    { code: BPF_JEQ_K, jt: 0, jf: 1, k: ICMPV6_NEIGHBOR_ADVERTISEMENT << 8 },
    { code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT_ALL },
    { code: BPF_RET_K, jt: 0, jf: 0, k: 0 },
  )
  return program
}

const NDP_HEADER_CHECKS: readonly BpfCheck[] = [
  [BPF_LD_H_ABS, 12, ETHERTYPE_IPV6],
  [BPF_LD_H_ABS, OFF_NEXT_HEADER, (IPPROTO_ICMPV6 << 8) | NDP_HOP_LIMIT], // next header, hop limit
]

/**
 * Most addresses ndpFilterFor matches in the kernel: 18 instructions each (the target list and the
 * source list, each 4 loads, 4 compares and an accept per address), 200 * 18 + 14 = 3614 of BPF_MAXINSNS
 * (4096). Above it, ndpFilter().
 */
export const NDP_FILTER_MAX_IPS = 200

/**
 * Per address the 16 bytes at `offset` compared as 4 words, each mismatch skipping to the next address;
 * a full match returns at once, so every jump is short.
 */
function addressList(offset: number, keys: readonly string[]): BpfInsn[] {
  const program: BpfInsn[] = []
  for (const key of keys) {
    const addr = Buffer.from(key, 'hex')
    for (let w = 0; w < 4; w++) {
      program.push({ code: BPF_LD_W_ABS, jt: 0, jf: 0, k: offset + w * 4 })
      // On mismatch skip this address's remaining words (2 insns each) and its accept.
      program.push({ code: BPF_JEQ_K, jt: 0, jf: (3 - w) * 2 + 1, k: addr.readUInt32BE(w * 4) })
    }
    program.push({ code: BPF_RET_K, jt: 0, jf: 0, k: BPF_ACCEPT_ALL })
  }
  return program
}

/**
 * ndpFilter() narrowed to the frames the responder acts on for `ips`: a solicitation or advertisement
 * whose target (Ethernet offset 62: the message follows the fixed IPv6 header directly, since the checks
 * require next header ICMPv6) is one of them (a solicitation to answer; an advertisement by another host
 * for our address, a conflict, or during a probe the answer that the address is taken), and a
 * solicitation whose IPv6 source (offset 22) is one of them (another host using our address to resolve
 * its neighbours: the static-configuration conflict that RFC 5227 §2.4 catches through ARP's sender
 * field). Same rules as arpFilterFor: sorted and deduplicated, nothing accepted with no addresses, the
 * unnarrowed program above NDP_FILTER_MAX_IPS.
 */
export function ndpFilterFor(ips: readonly CanonicalIP[]): BpfInsn[] {
  // 32 hex digits: the 16 bytes in network order, and a sort key.
  const keys = [...new Set(ips.map(ip => valueOf(ip, 'IPv6').toString(16).padStart(32, '0')))].sort()
  if (keys.length > NDP_FILTER_MAX_IPS) return ndpFilter()
  if (keys.length === 0) return [{ code: BPF_RET_K, jt: 0, jf: 0, k: 0 }]
  const program = headerChecks(NDP_HEADER_CHECKS)
  program.push(
    { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: OFF_ICMP_TYPE },
    { code: BPF_JEQ_K, jt: 2, jf: 0, k: ICMPV6_NEIGHBOR_SOLICITATION << 8 }, // to the target list
    { code: BPF_JEQ_K, jt: 1, jf: 0, k: ICMPV6_NEIGHBOR_ADVERTISEMENT << 8 },
    { code: BPF_RET_K, jt: 0, jf: 0, k: 0 },
    ...addressList(OFF_TARGET, keys),
    // No target matched: only a solicitation goes on, to the source list.
    { code: BPF_LD_H_ABS, jt: 0, jf: 0, k: OFF_ICMP_TYPE },
    { code: BPF_JEQ_K, jt: 1, jf: 0, k: ICMPV6_NEIGHBOR_SOLICITATION << 8 },
    { code: BPF_RET_K, jt: 0, jf: 0, k: 0 },
    ...addressList(OFF_SRC, keys),
    { code: BPF_RET_K, jt: 0, jf: 0, k: 0 },
  )
  return program
}
