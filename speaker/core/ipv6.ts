// IPv6 pieces the NDP codec needs: addresses as 16 bytes in a frame, their canonical text, the multicast
// mappings of RFC 4291 §2.7.1 and RFC 2464 §7, and the ICMPv6 checksum over the pseudo-header (RFC 8200
// §8.1, RFC 4443 §2.3). Bad input raises ethernet.ts's PacketError, the one codec error of speaker/core.
import { joinIpv6Groups, parseIP, type CanonicalIP } from '../../internal/core/ip.js'
import { PacketError } from './ethernet.js'

export const IPV6_ALEN = 16
/** Version/traffic class/flow label, payload length, next header, hop limit, source, destination. */
export const IPV6_HLEN = 40
export const IPPROTO_ICMPV6 = 58

/**
 * The RFC 5952 text of the 16 bytes at `offset`, compressed by internal/core/ip.ts joinIpv6Groups (as
 * formatValue is), so that addresses read off the wire compare equal to the announced set. Built from the
 * bytes without a bigint: this runs for every solicitation received.
 */
export function ipv6At(buf: Buffer, offset: number): CanonicalIP {
  const groups: string[] = []
  for (let i = 0; i < 8; i++) groups.push((((buf[offset + 2 * i] ?? 0) << 8) | (buf[offset + 2 * i + 1] ?? 0)).toString(16))
  return joinIpv6Groups(groups)
}

/** Writes IPv6 address `ip` as 16 bytes at `offset`; throws PacketError('BAD_ADDRESS'). */
export function writeIpv6(ip: string, out: Buffer, offset: number): void {
  const p = parseIP(ip)
  if (!p.ok || p.value.family !== 'IPv6') throw new PacketError('BAD_ADDRESS', `'${ip}' is not an IPv6 address`)
  let v = p.value.value
  for (let i = IPV6_ALEN - 1; i >= 0; i--) {
    out[offset + i] = Number(v & 0xffn)
    v >>= 8n
  }
}

/** The 16 bytes of an IPv6 address; throws PacketError('BAD_ADDRESS'). */
export function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(IPV6_ALEN)
  writeIpv6(ip, out, 0)
  return out
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

/** RFC 4291 §2.7.1: ff02::1:ff00:0/104 plus the low 24 bits of `ip`. Throws PacketError('BAD_ADDRESS'). */
export function solicitedNodeAddress(ip: string): CanonicalIP {
  const b = ipv6Bytes(ip)
  const sn = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, b[13] ?? 0, b[14] ?? 0, b[15] ?? 0])
  return ipv6At(sn, 0)
}

/** RFC 2464 §7: 33:33 followed by the low 32 bits of the IPv6 multicast address at `offset`. */
export function multicastMacAt(buf: Buffer, offset: number): Buffer {
  return Buffer.from([0x33, 0x33, buf[offset + 12] ?? 0, buf[offset + 13] ?? 0, buf[offset + 14] ?? 0, buf[offset + 15] ?? 0])
}

/** The Ethernet group of `ip`'s solicited-node address: 33:33:ff:XX:XX:XX. Throws PacketError('BAD_ADDRESS'). */
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
