// IPv6 Neighbor Discovery (RFC 4861) over Ethernet: Neighbor Solicitation (type 135) and Neighbor
// Advertisement (type 136) with the Source/Target Link-Layer Address options, the only messages an
// address-announcing speaker needs.
//
// Layout (offsets from the frame start; no extension headers: RFC 4861 messages are sent without them):
//   0 Ethernet dst(6) src(6) type(2)=0x86DD
//   14 IPv6: version/class/flow(4)  18 payload length(2)  20 next header(1)=58  21 hop limit(1)=255
//            22 source(16)  38 destination(16)
//   54 ICMPv6: type(1) code(1)=0 checksum(2)  58 NA flags R|S|O (NS: reserved)(4)  62 target(16)
//   78 options: type(1) length(1, units of 8 bytes) value; link-layer address options are 8 bytes on
//      Ethernet (RFC 2464 §8): type 1 source, type 2 target, then the 6-byte MAC.
import { ETH_ALEN, ETH_HLEN, ETH_ZLEN, ETHERTYPE_IPV6, PacketError, checkMac } from './ethernet.js'
import {
  ALL_NODES,
  ALL_NODES_MAC,
  IPPROTO_ICMPV6,
  IPV6_ALEN,
  IPV6_HLEN,
  icmpv6Sum,
  ipv6At,
  ipv6Bytes,
  isMulticastAt,
  isSolicitedNodeFor,
  isUnspecifiedAt,
  multicastMacAt,
  solicitedNodeAddress,
  writeIpv6,
} from './ipv6.js'

export const ICMPV6_NEIGHBOR_SOLICITATION = 135
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136
export const ND_OPT_SOURCE_LINKADDR = 1
export const ND_OPT_TARGET_LINKADDR = 2
/** RFC 4861 §7.1.1: a hop limit below 255 means the message crossed a router; it is discarded. */
export const NDP_HOP_LIMIT = 255

export const OFF_PAYLOAD_LEN = 18
export const OFF_NEXT_HEADER = 20
export const OFF_HOP_LIMIT = 21
export const OFF_SRC = 22
export const OFF_DST = 38
export const OFF_ICMP = ETH_HLEN + IPV6_HLEN // 54
export const OFF_ICMP_TYPE = OFF_ICMP
export const OFF_ICMP_CODE = OFF_ICMP + 1
export const OFF_CHECKSUM = OFF_ICMP + 2
export const OFF_FLAGS = OFF_ICMP + 4
export const OFF_TARGET = OFF_ICMP + 8 // 62
export const OFF_OPTIONS = OFF_TARGET + IPV6_ALEN // 78
/** Type, code, checksum, flags/reserved and target: the fixed part of both messages (RFC 4861 §4.3, §4.4). */
export const NDP_FIXED_LEN = 24
/** A link-layer address option on Ethernet: type, length 1, 6-byte MAC. */
export const LINKADDR_OPTION_LEN = 8

const FLAG_ROUTER = 0x80
const FLAG_SOLICITED = 0x40
const FLAG_OVERRIDE = 0x20

export type NdpType = typeof ICMPV6_NEIGHBOR_SOLICITATION | typeof ICMPV6_NEIGHBOR_ADVERTISEMENT

export interface NeighborSolicitation {
  type: typeof ICMPV6_NEIGHBOR_SOLICITATION
  target: string
  /** The Source Link-Layer Address option's MAC, when present. */
  sourceLinkAddress: Buffer | null
}

export interface NeighborAdvertisement {
  type: typeof ICMPV6_NEIGHBOR_ADVERTISEMENT
  target: string
  router: boolean
  solicited: boolean
  override: boolean
  /** The Target Link-Layer Address option's MAC, when present. */
  targetLinkAddress: Buffer | null
}

export type NdpMessage = NeighborSolicitation | NeighborAdvertisement

/** One NDP frame. The hop limit is not a field: it is always 255 (RFC 4861 §7.1.1, §7.1.2). */
export interface NdpFrame {
  ethDst: Buffer
  ethSrc: Buffer
  /** IPv6 source and destination, canonical text. */
  src: string
  dst: string
  message: NdpMessage
}

/** What checkNdpFrame found: the type and where the MAC of its link-layer option starts (-1: none). */
export interface NdpCheck {
  type: NdpType
  /** Offset of the MAC in the SLLA option (NS) or TLLA option (NA), -1 when the option is absent. */
  linkAddressAt: number
}

/**
 * Validates an Ethernet frame carrying an NS or NA as RFC 4861 §7.1.1 / §7.1.2 require of a receiver,
 * allocating only the result. Bytes after the IPv6 payload (Ethernet padding) are ignored. Unknown
 * options are skipped (RFC 4861 §4.6) but must have a non-zero length. Throws PacketError.
 */
export function checkNdpFrame(frame: Buffer): NdpCheck {
  if (frame.length < ETH_HLEN) {
    throw new PacketError('TRUNCATED', `frame of ${frame.length} bytes is shorter than an Ethernet header`)
  }
  const etherType = frame.readUInt16BE(12)
  if (etherType !== ETHERTYPE_IPV6) {
    throw new PacketError('BAD_ETHERTYPE', `EtherType 0x${etherType.toString(16)} is not IPv6 (0x86dd)`)
  }
  if (frame.length < OFF_ICMP) {
    throw new PacketError('TRUNCATED', `IPv6 frame of ${frame.length} bytes is shorter than ${OFF_ICMP}`)
  }
  const version = (frame[ETH_HLEN] ?? 0) >> 4
  if (version !== 6) throw new PacketError('BAD_VERSION', `IP version ${version} is not 6`)
  const nextHeader = frame[OFF_NEXT_HEADER]
  if (nextHeader !== IPPROTO_ICMPV6) {
    throw new PacketError('BAD_NEXT_HEADER', `next header ${String(nextHeader)} is not ICMPv6 (58)`)
  }
  const len = frame.readUInt16BE(OFF_PAYLOAD_LEN)
  if (OFF_ICMP + len > frame.length) {
    throw new PacketError('TRUNCATED', `IPv6 payload length ${len} overruns the ${frame.length - OFF_ICMP} bytes received`)
  }
  if (len < NDP_FIXED_LEN) throw new PacketError('BAD_LENGTH', `ICMPv6 length ${len} is shorter than ${NDP_FIXED_LEN}`)
  const hopLimit = frame[OFF_HOP_LIMIT]
  if (hopLimit !== NDP_HOP_LIMIT) throw new PacketError('BAD_HOP_LIMIT', `hop limit ${String(hopLimit)} is not 255`)
  const type = frame[OFF_ICMP_TYPE]
  if (type !== ICMPV6_NEIGHBOR_SOLICITATION && type !== ICMPV6_NEIGHBOR_ADVERTISEMENT) {
    throw new PacketError('BAD_TYPE', `ICMPv6 type ${String(type)} is neither NS (135) nor NA (136)`)
  }
  const code = frame[OFF_ICMP_CODE]
  if (code !== 0) throw new PacketError('BAD_CODE', `ICMPv6 code ${String(code)} is not 0`)
  if (icmpv6Sum(frame, OFF_SRC, OFF_DST, OFF_ICMP, len) !== 0xffff) {
    throw new PacketError('BAD_CHECKSUM', `ICMPv6 checksum 0x${frame.readUInt16BE(OFF_CHECKSUM).toString(16)} is wrong`)
  }
  if (isMulticastAt(frame, OFF_TARGET)) throw new PacketError('BAD_TARGET', `target ${ipv6At(frame, OFF_TARGET)} is multicast`)

  const wanted = type === ICMPV6_NEIGHBOR_SOLICITATION ? ND_OPT_SOURCE_LINKADDR : ND_OPT_TARGET_LINKADDR
  const end = OFF_ICMP + len
  let linkAddressAt = -1
  for (let off = OFF_OPTIONS; off < end; ) {
    if (off + 2 > end) throw new PacketError('BAD_OPTION', `option at ${off} is cut short`)
    const optType = frame[off] ?? 0
    const optLen = (frame[off + 1] ?? 0) * 8
    if (optLen === 0) throw new PacketError('BAD_OPTION', `option type ${optType} has length 0`)
    if (off + optLen > end) throw new PacketError('BAD_OPTION', `option type ${optType} of ${optLen} bytes overruns the message`)
    if (optType === wanted) {
      // Ethernet's link-layer option is exactly 8 bytes (RFC 2464 §8); Linux discards the message
      // otherwise. A repeated one is ignored, as Linux does (first wins).
      if (optLen !== LINKADDR_OPTION_LEN) {
        throw new PacketError('BAD_OPTION', `link-layer address option of ${optLen} bytes is not 8 on Ethernet`)
      }
      if (linkAddressAt < 0) linkAddressAt = off + 2
    }
    off += optLen
  }

  if (type === ICMPV6_NEIGHBOR_SOLICITATION) {
    if (isUnspecifiedAt(frame, OFF_SRC)) {
      // RFC 4861 §7.1.1: a solicitation from :: (duplicate address detection) goes to the target's
      // solicited-node address and carries no source link-layer address option.
      if (!isSolicitedNodeFor(frame, OFF_DST, OFF_TARGET)) {
        throw new PacketError('BAD_DESTINATION', `NS from :: to ${ipv6At(frame, OFF_DST)}, not the target's solicited-node address`)
      }
      if (linkAddressAt >= 0) throw new PacketError('BAD_OPTION', 'NS from :: carries a source link-layer address option')
    }
    return { type, linkAddressAt }
  }
  // RFC 4861 §7.1.2: an advertisement to a multicast address must not claim to be solicited.
  if (isMulticastAt(frame, OFF_DST) && ((frame[OFF_FLAGS] ?? 0) & FLAG_SOLICITED) !== 0) {
    throw new PacketError('BAD_FLAGS', `NA to multicast ${ipv6At(frame, OFF_DST)} has the Solicited flag set`)
  }
  return { type, linkAddressAt }
}

/** Decodes a whole NS or NA frame into fresh values (MACs are copies). Throws PacketError. */
export function decodeNdpFrame(frame: Buffer): NdpFrame {
  const { type, linkAddressAt } = checkNdpFrame(frame)
  const lla = linkAddressAt < 0 ? null : Buffer.from(frame.subarray(linkAddressAt, linkAddressAt + ETH_ALEN))
  const target = ipv6At(frame, OFF_TARGET)
  const flags = frame[OFF_FLAGS] ?? 0
  const message: NdpMessage = type === ICMPV6_NEIGHBOR_SOLICITATION
    ? { type, target, sourceLinkAddress: lla }
    : {
        type,
        target,
        router: (flags & FLAG_ROUTER) !== 0,
        solicited: (flags & FLAG_SOLICITED) !== 0,
        override: (flags & FLAG_OVERRIDE) !== 0,
        targetLinkAddress: lla,
      }
  return {
    ethDst: Buffer.from(frame.subarray(0, 6)),
    ethSrc: Buffer.from(frame.subarray(6, 12)),
    src: ipv6At(frame, OFF_SRC),
    dst: ipv6At(frame, OFF_DST),
    message,
  }
}

/** Writes the Ethernet and IPv6 headers for an ICMPv6 payload of `len` bytes; hop limit 255. */
function writeHeaders(out: Buffer, ethDst: Buffer, ethSrc: Buffer, len: number): void {
  ethDst.copy(out, 0)
  ethSrc.copy(out, 6)
  out.writeUInt16BE(ETHERTYPE_IPV6, 12)
  out[ETH_HLEN] = 0x60 // version 6, traffic class 0, flow label 0
  out.writeUInt16BE(len, OFF_PAYLOAD_LEN)
  out[OFF_NEXT_HEADER] = IPPROTO_ICMPV6
  out[OFF_HOP_LIMIT] = NDP_HOP_LIMIT
}

/** Fills in the checksum of the ICMPv6 message of `len` bytes (its checksum field must be zero). */
function writeChecksum(out: Buffer, len: number): void {
  out.writeUInt16BE(~icmpv6Sum(out, OFF_SRC, OFF_DST, OFF_ICMP, len) & 0xffff, OFF_CHECKSUM)
}

/**
 * Encodes an NS or NA with hop limit 255 and a correct checksum; the link-layer option is written when
 * its MAC is given. Frames shorter than 60 bytes are padded (never the case here: the smallest is 78).
 * Throws PacketError('BAD_ADDRESS') for a MAC that is not 6 bytes or an address that is not IPv6.
 */
export function encodeNdpFrame(f: NdpFrame): Buffer {
  checkMac(f.ethDst, 'Ethernet destination')
  checkMac(f.ethSrc, 'Ethernet source')
  const m = f.message
  const lla = m.type === ICMPV6_NEIGHBOR_SOLICITATION ? m.sourceLinkAddress : m.targetLinkAddress
  if (lla !== null) checkMac(lla, 'link-layer option')
  const len = NDP_FIXED_LEN + (lla === null ? 0 : LINKADDR_OPTION_LEN)
  const out = Buffer.alloc(Math.max(ETH_ZLEN, OFF_ICMP + len))
  writeHeaders(out, f.ethDst, f.ethSrc, len)
  writeIpv6(f.src, out, OFF_SRC)
  writeIpv6(f.dst, out, OFF_DST)
  out[OFF_ICMP_TYPE] = m.type
  if (m.type === ICMPV6_NEIGHBOR_ADVERTISEMENT) {
    out[OFF_FLAGS] = (m.router ? FLAG_ROUTER : 0) | (m.solicited ? FLAG_SOLICITED : 0) | (m.override ? FLAG_OVERRIDE : 0)
  }
  writeIpv6(m.target, out, OFF_TARGET)
  if (lla !== null) {
    out[OFF_OPTIONS] = m.type === ICMPV6_NEIGHBOR_SOLICITATION ? ND_OPT_SOURCE_LINKADDR : ND_OPT_TARGET_LINKADDR
    out[OFF_OPTIONS + 1] = LINKADDR_OPTION_LEN / 8
    lla.copy(out, OFF_OPTIONS + 2)
  }
  writeChecksum(out, len)
  return out
}

/**
 * A Neighbor Solicitation from (mac, src) for `target` (RFC 4861 §7.2.2): to the target's solicited-node
 * address and its 33:33:ff:XX:XX:XX group unless `to` says otherwise (a unicast NUD probe); with the SLLA
 * option except from :: (duplicate address detection), where it MUST NOT be included.
 */
export function neighborSolicitation(
  mac: Buffer,
  src: string,
  target: string,
  to?: { ip: string; mac: Buffer },
): Buffer {
  const dst = to?.ip ?? solicitedNodeAddress(target)
  const ethDst = to?.mac ?? multicastMacAt(ipv6Bytes(dst), 0)
  const fromUnspecified = isUnspecifiedAt(ipv6Bytes(src), 0)
  return encodeNdpFrame({
    ethDst,
    ethSrc: mac,
    src,
    dst,
    message: { type: ICMPV6_NEIGHBOR_SOLICITATION, target, sourceLinkAddress: fromUnspecified ? null : mac },
  })
}

/**
 * The answer to a solicitation for `target` (RFC 4861 §7.2.4): Override=1 (this node takes the address
 * over: caches must replace whatever they hold), Router=0, TLLA = mac, source address = target. To the
 * soliciter's unicast address and MAC with Solicited=1; when the solicitation came from :: (duplicate
 * address detection) to ff02::1 / 33:33:00:00:00:01 with Solicited=0, as §7.2.4 requires.
 */
export function solicitedAdvertisement(mac: Buffer, target: string, toMac: Buffer, toIp: string): Buffer {
  const dad = isUnspecifiedAt(ipv6Bytes(toIp), 0)
  return encodeNdpFrame({
    ethDst: dad ? ALL_NODES_MAC : toMac,
    ethSrc: mac,
    src: target,
    dst: dad ? ALL_NODES : toIp,
    message: { type: ICMPV6_NEIGHBOR_ADVERTISEMENT, target, router: false, solicited: !dad, override: true, targetLinkAddress: mac },
  })
}

/**
 * An unsolicited advertisement (RFC 4861 §7.2.6) announcing that `target` is now at `mac`: to ff02::1 /
 * 33:33:00:00:00:01, Solicited=0, Override=1 so that existing cache entries are replaced, TLLA = mac.
 */
export function unsolicitedAdvertisement(mac: Buffer, target: string): Buffer {
  return encodeNdpFrame({
    ethDst: ALL_NODES_MAC,
    ethSrc: mac,
    src: target,
    dst: ALL_NODES,
    message: { type: ICMPV6_NEIGHBOR_ADVERTISEMENT, target, router: false, solicited: false, override: true, targetLinkAddress: mac },
  })
}

const ALL_NODES_BYTES: Readonly<Buffer> = Buffer.from([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])
const NA_LEN = NDP_FIXED_LEN + LINKADDR_OPTION_LEN
const NA_FRAME_LEN = OFF_ICMP + NA_LEN

/**
 * The answer to a solicitation already validated by checkNdpFrame (`linkAddressAt` from its result),
 * built by copying bytes (no address text: this is the responder's hot path). The same frame as
 * solicitedAdvertisement(mac, target, SLLA or Ethernet source, NS source): the soliciter's MAC is its
 * SLLA option when present (RFC 4861 §7.2.4 relies on that option to reach it), else the Ethernet source.
 */
export function advertisementFor(solicitation: Buffer, linkAddressAt: number, mac: Buffer): Buffer {
  checkMac(mac, 'our')
  const out = Buffer.alloc(NA_FRAME_LEN)
  const dad = isUnspecifiedAt(solicitation, OFF_SRC)
  // Byte loops rather than Buffer#copy: a dozen short copies, each cheaper inline (hot path).
  const ethDstFrom = dad ? -1 : linkAddressAt >= 0 ? linkAddressAt : 6
  for (let i = 0; i < ETH_ALEN; i++) {
    out[i] = ethDstFrom < 0 ? (ALL_NODES_MAC[i] ?? 0) : (solicitation[ethDstFrom + i] ?? 0)
    out[6 + i] = mac[i] ?? 0
  }
  out[12] = ETHERTYPE_IPV6 >> 8
  out[13] = ETHERTYPE_IPV6 & 0xff
  out[ETH_HLEN] = 0x60 // version 6, traffic class 0, flow label 0
  out[OFF_PAYLOAD_LEN + 1] = NA_LEN
  out[OFF_NEXT_HEADER] = IPPROTO_ICMPV6
  out[OFF_HOP_LIMIT] = NDP_HOP_LIMIT
  for (let i = 0; i < IPV6_ALEN; i++) {
    const target = solicitation[OFF_TARGET + i] ?? 0
    out[OFF_SRC + i] = target // we answer from the address asked for
    out[OFF_DST + i] = dad ? (ALL_NODES_BYTES[i] ?? 0) : (solicitation[OFF_SRC + i] ?? 0)
    out[OFF_TARGET + i] = target
  }
  out[OFF_ICMP_TYPE] = ICMPV6_NEIGHBOR_ADVERTISEMENT
  out[OFF_FLAGS] = dad ? FLAG_OVERRIDE : FLAG_SOLICITED | FLAG_OVERRIDE
  out[OFF_OPTIONS] = ND_OPT_TARGET_LINKADDR
  out[OFF_OPTIONS + 1] = LINKADDR_OPTION_LEN / 8
  for (let i = 0; i < ETH_ALEN; i++) out[OFF_OPTIONS + 2 + i] = mac[i] ?? 0
  writeChecksum(out, NA_LEN)
  return out
}
