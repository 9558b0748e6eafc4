// IPv6 pieces the NDP codec needs: addresses as 16 bytes in a frame, their canonical text, the multicast
// mappings of RFC 4291 §2.7.1 and RFC 2464 §7, and the ICMPv6 checksum over the pseudo-header (RFC 8200
// §8.1, RFC 4443 §2.3). Also home of NdpError, the one error the IPv6/NDP codecs throw: it lives here rather
// than in ndp.ts so that this module needs nothing from ndp.ts (ndp.ts re-exports it).
import { parseIP, formatValue } from '../../controller/core/ip.js'
import { ETH_ALEN } from './ethernet.js'

export const IPV6_ALEN = 16
/** Version/traffic class/flow label, payload length, next header, hop limit, source, destination. */
export const IPV6_HLEN = 40
export const IPPROTO_ICMPV6 = 58

export type NdpErrorCode =
  | 'TRUNCATED' // shorter than its headers or than the IPv6 payload length says
  | 'BAD_ETHERTYPE' // not 0x86DD
  | 'BAD_VERSION' // IPv6 version field is not 6
  | 'BAD_NEXT_HEADER' // not ICMPv6 directly (extension headers are not accepted for NDP)
  | 'BAD_LENGTH' // ICMPv6 message shorter than 24 bytes (RFC 4861 §7.1.1, §7.1.2)
  | 'BAD_HOP_LIMIT' // not 255: the message may come from off-link (RFC 4861 §7.1.1)
  | 'BAD_TYPE' // ICMPv6 type neither 135 (NS) nor 136 (NA)
  | 'BAD_CODE' // ICMPv6 code not 0
  | 'BAD_CHECKSUM' // RFC 4443 §2.3 over the RFC 8200 §8.1 pseudo-header
  | 'BAD_TARGET' // target address is multicast
  | 'BAD_OPTION' // zero-length or overrunning option, a link-layer option that is not 6 bytes, SLLA from ::
  | 'BAD_DESTINATION' // NS from :: not sent to the target's solicited-node address (RFC 4861 §7.1.1)
  | 'BAD_FLAGS' // NA to a multicast address with Solicited set (RFC 4861 §7.1.2)
  | 'BAD_ADDRESS' // an encoder was given a bad MAC or IPv6 address

/** The one error the IPv6 and NDP decoders and encoders throw for bad input. */
export class NdpError extends Error {
  readonly code: NdpErrorCode
  constructor(code: NdpErrorCode, message: string) {
    super(message)
    this.name = 'NdpError'
    this.code = code
  }
}

export function checkMac6(mac: Buffer, what: string): void {
  if (mac.length !== ETH_ALEN) throw new NdpError('BAD_ADDRESS', `${what} MAC must be 6 bytes, got ${mac.length}`)
}

/**
 * The RFC 5952 text of the 16 bytes at `offset` (lower case, longest run of two or more zero groups
 * compressed, leftmost on a tie): the same text as controller/core/ip.ts formatValue, so that addresses
 * read off the wire compare equal to the announced set. Built from the bytes without a bigint: this runs
 * for every solicitation received.
 */
export function ipv6At(buf: Buffer, offset: number): string {
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push(((buf[offset + 2 * i] ?? 0) << 8) | (buf[offset + 2 * i + 1] ?? 0))
  let bestStart = -1
  let bestLen = 1 // RFC 5952 §4.2.2: a single zero group is not compressed
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++
      continue
    }
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLen) {
      bestStart = i
      bestLen = j - i
    }
    i = j
  }
  let out = ''
  for (let i = 0; i < 8; i++) {
    if (i === bestStart) {
      out += '::'
      i += bestLen - 1
      continue
    }
    if (i > 0 && i !== bestStart + bestLen) out += ':'
    out += (groups[i] ?? 0).toString(16)
  }
  return out
}

/** Writes IPv6 address `ip` as 16 bytes at `offset`; throws NdpError('BAD_ADDRESS'). */
export function writeIpv6(ip: string, out: Buffer, offset: number): void {
  const p = parseIP(ip)
  if (!p.ok || p.value.family !== 'IPv6') throw new NdpError('BAD_ADDRESS', `'${ip}' is not an IPv6 address`)
  let v = p.value.value
  for (let i = IPV6_ALEN - 1; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn)
    v >>= 8n
  }
}

/** The 16 bytes of an IPv6 address; throws NdpError('BAD_ADDRESS'). */
export function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(IPV6_ALEN)
  writeIpv6(ip, out, 0)
  return out
}

/** The canonical (RFC 5952) text of an IPv6 address, or undefined when `ip` is not one (IPv4 included). */
export function canonicalIpv6(ip: string): string | undefined {
  const p = parseIP(ip)
  if (!p.ok || p.value.family !== 'IPv6') return undefined
  return formatValue('IPv6', p.value.value)
}

export function isMulticastAt(buf: Buffer, offset: number): boolean {
  return buf[offset] === 0xff
}

export function isUnspecifiedAt(buf: Buffer, offset: number): boolean {
  for (let i = 0; i < IPV6_ALEN; i++) if (buf[offset + i] !== 0) return false
  return true
}

/** ff02::1, the link-local all-nodes group (RFC 4291 §2.7.1). */
export const ALL_NODES = 'ff02::1'
/** Its Ethernet group address, 33:33 and the low 32 bits (RFC 2464 §7). */
export const ALL_NODES_MAC: Readonly<Buffer> = Buffer.from([0x33, 0x33, 0, 0, 0, 1])

/** Whether the 16 bytes at `offset` are ff02::1:ffXX:XXXX with the low 24 bits of the target at `target`. */
export function isSolicitedNodeFor(buf: Buffer, offset: number, target: number): boolean {
  const prefix = [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff]
  for (let i = 0; i < prefix.length; i++) if (buf[offset + i] !== prefix[i]) return false
  return buf[offset + 13] === buf[target + 13] && buf[offset + 14] === buf[target + 14] && buf[offset + 15] === buf[target + 15]
}

/** RFC 4291 §2.7.1: ff02::1:ff00:0/104 plus the low 24 bits of `ip`. Throws NdpError('BAD_ADDRESS'). */
export function solicitedNodeAddress(ip: string): string {
  const b = ipv6Bytes(ip)
  const sn = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, b[13] ?? 0, b[14] ?? 0, b[15] ?? 0])
  return ipv6At(sn, 0)
}

/** RFC 2464 §7: 33:33 followed by the low 32 bits of the IPv6 multicast address at `offset`. */
export function multicastMacAt(buf: Buffer, offset: number): Buffer {
  return Buffer.from([0x33, 0x33, buf[offset + 12] ?? 0, buf[offset + 13] ?? 0, buf[offset + 14] ?? 0, buf[offset + 15] ?? 0])
}

/** The Ethernet group of `ip`'s solicited-node address: 33:33:ff:XX:XX:XX. Throws NdpError('BAD_ADDRESS'). */
export function solicitedNodeMac(ip: string): Buffer {
  return multicastMacAt(ipv6Bytes(solicitedNodeAddress(ip)), 0)
}

/**
 * The ones' complement sum (RFC 1071) of the RFC 8200 §8.1 pseudo-header (source, destination, 32-bit
 * upper-layer length, three zero bytes, next header 58) and the ICMPv6 message `frame[icmp, icmp + len)`,
 * folded to 16 bits. A received message is intact when this is 0xffff; an encoder stores its complement.
 */
export function icmpv6Sum(frame: Buffer, srcOffset: number, dstOffset: number, icmp: number, len: number): number {
  // Byte indexing rather than readUInt16BE: this runs twice per answered solicitation (verify, then sign)
  // and the bounds-checked reads were most of its cost. Callers pass offsets inside the frame.
  let sum = 0
  for (let i = 0; i < IPV6_ALEN; i += 2) {
    sum += (((frame[srcOffset + i] ?? 0) << 8) | (frame[srcOffset + i + 1] ?? 0)) +
      (((frame[dstOffset + i] ?? 0) << 8) | (frame[dstOffset + i + 1] ?? 0))
  }
  sum += (len >>> 16) + (len & 0xffff) + IPPROTO_ICMPV6
  const end = icmp + len
  let i = icmp
  for (; i + 1 < end; i += 2) sum += ((frame[i] ?? 0) << 8) | (frame[i + 1] ?? 0)
  if (i < end) sum += (frame[i] ?? 0) << 8 // an odd last byte is padded with a zero byte
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}
