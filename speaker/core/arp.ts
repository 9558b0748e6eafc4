// ARP for IPv4 over Ethernet (RFC 826), with the gratuitous forms the speaker sends when it takes an
// address over: the RFC 5227 §3 "ARP Announcement" (a request with SPA = TPA) and the RFC 5944 §4.6
// gratuitous reply (THA = SHA; Linux only takes a reply as gratuitous in that form).
//
// Layout after the 14-byte Ethernet header (offsets from the frame start):
//   14 htype(2)=1  16 ptype(2)=0x0800  18 hlen(1)=6  19 plen(1)=4  20 op(2)
//   22 sha(6)  28 spa(4)  32 tha(6)  38 tpa(4)  -> 42 bytes, padded to 60 on the wire.
import {
  BROADCAST_MAC,
  ETH_HLEN,
  ETH_ZLEN,
  ETHERTYPE_ARP,
  ETHERTYPE_IPV4,
  PacketError,
  ZERO_MAC,
  checkMac,
} from './ethernet.js'
import type { CanonicalIP } from '../../internal/core/ip.js'

export const ARP_HTYPE_ETHERNET = 1
export const ARP_OP_REQUEST = 1
export const ARP_OP_REPLY = 2
/** Ethernet header + ARP body for Ethernet/IPv4. */
export const ARP_FRAME_LEN = ETH_HLEN + 28

export const OFF_OP = 20
export const OFF_SHA = 22
export const OFF_SPA = 28
export const OFF_THA = 32
export const OFF_TPA = 38

export type ArpOp = typeof ARP_OP_REQUEST | typeof ARP_OP_REPLY

export interface ArpPacket {
  op: ArpOp
  /** Sender hardware address (6 bytes). */
  sha: Buffer
  /** Sender protocol address, dotted quad (canonical when decoded). */
  spa: string
  tha: Buffer
  tpa: string
}

export interface ArpFrame {
  ethDst: Buffer
  ethSrc: Buffer
  arp: ArpPacket
}

/**
 * Validates an Ethernet frame carrying ARP for Ethernet/IPv4 and returns its op, allocating nothing.
 * Trailing bytes (padding) are allowed. Throws PacketError.
 */
export function checkArpFrame(frame: Buffer): ArpOp {
  if (frame.length < ETH_HLEN) {
    throw new PacketError('TRUNCATED', `frame of ${frame.length} bytes is shorter than an Ethernet header`)
  }
  const etherType = frame.readUInt16BE(12)
  if (etherType !== ETHERTYPE_ARP) {
    throw new PacketError('BAD_ETHERTYPE', `EtherType 0x${etherType.toString(16)} is not ARP (0x0806)`)
  }
  if (frame.length < ARP_FRAME_LEN) {
    throw new PacketError('TRUNCATED', `ARP frame of ${frame.length} bytes is shorter than ${ARP_FRAME_LEN}`)
  }
  const htype = frame.readUInt16BE(14)
  if (htype !== ARP_HTYPE_ETHERNET) throw new PacketError('BAD_HTYPE', `ARP hardware type ${htype} is not Ethernet (1)`)
  const ptype = frame.readUInt16BE(16)
  if (ptype !== ETHERTYPE_IPV4) {
    throw new PacketError('BAD_PTYPE', `ARP protocol type 0x${ptype.toString(16)} is not IPv4 (0x0800)`)
  }
  if (frame[18] !== 6) throw new PacketError('BAD_HLEN', `ARP hardware address length ${frame[18]} is not 6`)
  if (frame[19] !== 4) throw new PacketError('BAD_PLEN', `ARP protocol address length ${frame[19]} is not 4`)
  const op = frame.readUInt16BE(OFF_OP)
  if (op !== ARP_OP_REQUEST && op !== ARP_OP_REPLY) throw new PacketError('BAD_OP', `ARP op ${op} is neither request (1) nor reply (2)`)
  return op
}

/**
 * Dotted quad of the 4 bytes at `offset`: canonical by construction (decimal octets, no leading zeros), so
 * an address read off the wire compares equal to the same address from a Service's status.
 */
export function ipv4At(buf: Buffer, offset: number): CanonicalIP {
  return `${buf[offset]}.${buf[offset + 1]}.${buf[offset + 2]}.${buf[offset + 3]}` as CanonicalIP
}

/** Parses a dotted-quad IPv4 address into `out` at `offset`; throws PacketError('BAD_ADDRESS'). */
export function writeIpv4(ip: string, out: Buffer, offset: number): void {
  const parts = ip.split('.')
  if (parts.length !== 4) throw new PacketError('BAD_ADDRESS', `'${ip}' is not an IPv4 address`)
  for (let i = 0; i < 4; i++) {
    const p = parts[i] ?? ''
    // Decimal only, no leading zeros: '010' would be octal to some parsers and decimal to others.
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) {
      throw new PacketError('BAD_ADDRESS', `'${ip}' is not an IPv4 address`)
    }
    out[offset + i] = Number(p)
  }
}

/** Decodes a whole ARP frame into fresh values (the MACs are copies, not views). Throws PacketError. */
export function decodeArpFrame(frame: Buffer): ArpFrame {
  const op = checkArpFrame(frame)
  return {
    ethDst: Buffer.from(frame.subarray(0, 6)),
    ethSrc: Buffer.from(frame.subarray(6, 12)),
    arp: {
      op,
      sha: Buffer.from(frame.subarray(OFF_SHA, OFF_SHA + 6)),
      spa: ipv4At(frame, OFF_SPA),
      tha: Buffer.from(frame.subarray(OFF_THA, OFF_THA + 6)),
      tpa: ipv4At(frame, OFF_TPA),
    },
  }
}

/** Encodes an ARP frame, zero-padded to 60 bytes. Throws PacketError on a bad address or op. */
export function encodeArpFrame(f: ArpFrame): Buffer {
  checkMac(f.ethDst, 'Ethernet destination')
  checkMac(f.ethSrc, 'Ethernet source')
  checkMac(f.arp.sha, 'ARP sender')
  checkMac(f.arp.tha, 'ARP target')
  if (f.arp.op !== ARP_OP_REQUEST && f.arp.op !== ARP_OP_REPLY) {
    throw new PacketError('BAD_OP', `ARP op ${String(f.arp.op)} is neither request (1) nor reply (2)`)
  }
  const out = Buffer.alloc(ETH_ZLEN)
  f.ethDst.copy(out, 0)
  f.ethSrc.copy(out, 6)
  out.writeUInt16BE(ETHERTYPE_ARP, 12)
  out.writeUInt16BE(ARP_HTYPE_ETHERNET, 14)
  out.writeUInt16BE(ETHERTYPE_IPV4, 16)
  out[18] = 6
  out[19] = 4
  out.writeUInt16BE(f.arp.op, OFF_OP)
  f.arp.sha.copy(out, OFF_SHA)
  writeIpv4(f.arp.spa, out, OFF_SPA)
  f.arp.tha.copy(out, OFF_THA)
  writeIpv4(f.arp.tpa, out, OFF_TPA)
  return out
}

/** A who-has request from (mac, spa) for tpa, broadcast, THA zero (RFC 826). */
export function arpRequest(mac: Buffer, spa: string, tpa: string): Buffer {
  return encodeArpFrame({
    ethDst: BROADCAST_MAC,
    ethSrc: mac,
    arp: { op: ARP_OP_REQUEST, sha: mac, spa, tha: ZERO_MAC, tpa },
  })
}

/**
 * The answer to a request: "ip is at mac", unicast to the requester's MAC (RFC 826: swap sender and
 * target, put our address in the sender fields). For an RFC 5227 probe (SPA 0.0.0.0) TPA is 0.0.0.0, as
 * Linux answers it.
 */
export function arpReply(mac: Buffer, ip: string, toMac: Buffer, toIp: string): Buffer {
  return encodeArpFrame({
    ethDst: toMac,
    ethSrc: mac,
    arp: { op: ARP_OP_REPLY, sha: mac, spa: ip, tha: toMac, tpa: toIp },
  })
}

/**
 * The reply to a request already validated by checkArpFrame, built by copying bytes (no address parsing:
 * this is the responder's hot path). Same frame as arpReply(mac, tpa, sha, spa) of the request.
 */
export function arpReplyTo(request: Buffer, mac: Buffer): Buffer {
  checkMac(mac, 'our')
  const out = Buffer.alloc(ETH_ZLEN)
  request.copy(out, 0, OFF_SHA, OFF_SHA + 6) // Ethernet destination: the asker's hardware address
  mac.copy(out, 6)
  request.copy(out, 12, 12, OFF_OP) // EtherType, htype, ptype, hlen, plen: identical by validation
  out.writeUInt16BE(ARP_OP_REPLY, OFF_OP)
  mac.copy(out, OFF_SHA)
  request.copy(out, OFF_SPA, OFF_TPA, OFF_TPA + 4) // our address is the one asked for
  request.copy(out, OFF_THA, OFF_SHA, OFF_SHA + 6)
  request.copy(out, OFF_TPA, OFF_SPA, OFF_SPA + 4)
  return out
}

/** RFC 5227 §3 ARP Announcement: a broadcast request with SPA = TPA = ip and THA zero. */
export function gratuitousRequest(mac: Buffer, ip: string): Buffer {
  return arpRequest(mac, ip, ip)
}

/** RFC 5944 §4.6 gratuitous reply: broadcast, SPA = TPA = ip, THA = SHA = mac. */
export function gratuitousReply(mac: Buffer, ip: string): Buffer {
  return encodeArpFrame({
    ethDst: BROADCAST_MAC,
    ethSrc: mac,
    arp: { op: ARP_OP_REPLY, sha: mac, spa: ip, tha: mac, tpa: ip },
  })
}
