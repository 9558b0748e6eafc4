// Ethernet II framing (IEEE 802.3 with the DIX EtherType field) for the frames the speaker reads and writes
// on its AF_PACKET socket. 802.1Q tags are not handled: the kernel strips them before a packet socket bound
// to one EtherType sees the frame.

/** Destination, source, EtherType. */
export const ETH_HLEN = 14
/** Minimum frame length without the FCS (IEEE 802.3 §3.2.8): shorter frames are padded with zeros. */
export const ETH_ZLEN = 60
export const ETH_ALEN = 6
export const ETHERTYPE_IPV4 = 0x0800
export const ETHERTYPE_ARP = 0x0806
export const ETHERTYPE_IPV6 = 0x86dd

export const BROADCAST_MAC: Readonly<Buffer> = Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
export const ZERO_MAC: Readonly<Buffer> = Buffer.alloc(ETH_ALEN)

export type PacketErrorCode =
  | 'TRUNCATED' // shorter than its headers (or than the IPv6 payload length says)
  | 'BAD_ETHERTYPE'
  | 'BAD_HTYPE' // ARP hardware type not Ethernet
  | 'BAD_PTYPE' // ARP protocol type not IPv4
  | 'BAD_HLEN'
  | 'BAD_PLEN'
  | 'BAD_OP' // ARP op neither request nor reply
  | 'BAD_ADDRESS' // an encoder was given a bad MAC or IP address
  | 'BAD_VERSION' // IPv6 version field is not 6; a peer heartbeat of a version we do not speak
  | 'BAD_NEXT_HEADER' // not ICMPv6 directly (extension headers are not accepted for NDP)
  | 'BAD_LENGTH' // ICMPv6 message shorter than 24 bytes (RFC 4861 §7.1.1, §7.1.2)
  | 'BAD_HOP_LIMIT' // not 255: the message may come from off-link (RFC 4861 §7.1.1)
  | 'BAD_TYPE' // ICMPv6 type neither 135 (NS) nor 136 (NA)
  | 'BAD_CODE' // ICMPv6 code not 0
  | 'BAD_CHECKSUM' // RFC 4443 §2.3 over the RFC 8200 §8.1 pseudo-header
  | 'BAD_TARGET' // NDP target address is multicast
  | 'BAD_OPTION' // zero-length or overrunning option, a link-layer option that is not 6 bytes, SLLA from ::
  | 'BAD_DESTINATION' // NS from :: not sent to the target's solicited-node address (RFC 4861 §7.1.1)
  | 'BAD_FLAGS' // NA to a multicast address with Solicited set (RFC 4861 §7.1.2)
  | 'BAD_MAGIC' // a frame of the peer-heartbeat EtherType that is not an l2lb heartbeat
  | 'BAD_KIND' // a heartbeat neither 'alive' nor 'leaving'
  | 'BAD_INTERVAL' // a heartbeat interval outside 1..60000 ms
  | 'BAD_SEQUENCE' // a heartbeat sequence number that is not a 32-bit unsigned integer
  | 'BAD_NAME' // a heartbeat node name that is empty, too long or not a Kubernetes node name

/** The one error every decoder and encoder of speaker/core (Ethernet, ARP, IPv6, NDP) throws for bad input. */
export class PacketError extends Error {
  readonly code: PacketErrorCode
  constructor(code: PacketErrorCode, message: string) {
    super(message)
    this.name = 'PacketError'
    this.code = code
  }
}

export interface EthernetFrame {
  dst: Buffer
  src: Buffer
  etherType: number
  /** Everything after the header, padding included (Ethernet does not say where the payload ends). */
  payload: Buffer
}

/** Decodes the header; the Buffers are views into `frame`, not copies. */
export function decodeEthernet(frame: Buffer): EthernetFrame {
  if (frame.length < ETH_HLEN) {
    throw new PacketError('TRUNCATED', `Ethernet frame of ${frame.length} bytes is shorter than its 14-byte header`)
  }
  return {
    dst: frame.subarray(0, 6),
    src: frame.subarray(6, 12),
    etherType: frame.readUInt16BE(12),
    payload: frame.subarray(ETH_HLEN),
  }
}

/** Builds a frame, zero-padded to the 60-byte minimum. */
export function encodeEthernet(f: EthernetFrame): Buffer {
  checkMac(f.dst, 'dst')
  checkMac(f.src, 'src')
  if (!Number.isInteger(f.etherType) || f.etherType < 0x0600 || f.etherType > 0xffff) {
    // Values below 0x0600 are 802.3 lengths, not EtherTypes.
    throw new PacketError('BAD_ETHERTYPE', `EtherType ${f.etherType} is not in 0x0600..0xffff`)
  }
  const out = Buffer.alloc(Math.max(ETH_ZLEN, ETH_HLEN + f.payload.length))
  f.dst.copy(out, 0)
  f.src.copy(out, 6)
  out.writeUInt16BE(f.etherType, 12)
  f.payload.copy(out, ETH_HLEN)
  return out
}

export function checkMac(mac: Buffer, what: string): void {
  if (mac.length !== ETH_ALEN) {
    throw new PacketError('BAD_ADDRESS', `${what} MAC must be 6 bytes, got ${mac.length}`)
  }
}

/** Compares 6 bytes of `buf` at `offset` with `mac`, without allocating. */
export function macEquals(buf: Buffer, offset: number, mac: Buffer): boolean {
  for (let i = 0; i < ETH_ALEN; i++) {
    if (buf[offset + i] !== mac[i]) return false
  }
  return true
}

export function isBroadcastAt(buf: Buffer, offset: number): boolean {
  for (let i = 0; i < ETH_ALEN; i++) {
    if (buf[offset + i] !== 0xff) return false
  }
  return true
}

/** 'aa:bb:cc:dd:ee:ff', lower case. */
export function formatMac(mac: Buffer): string {
  checkMac(mac, 'formatted')
  const parts: string[] = []
  for (const b of mac) parts.push(b.toString(16).padStart(2, '0'))
  return parts.join(':')
}

/** Parses 'aa:bb:cc:dd:ee:ff' (or with '-'); throws PacketError('BAD_ADDRESS'). */
export function parseMac(text: string): Buffer {
  const parts = text.split(/[:-]/)
  if (parts.length !== ETH_ALEN || !parts.every((p) => /^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new PacketError('BAD_ADDRESS', `'${text}' is not a MAC address`)
  }
  return Buffer.from(parts.map((p) => Number.parseInt(p, 16)))
}
