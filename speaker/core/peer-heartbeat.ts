// Peer heartbeats: the speakers on one LAN tell each other, several times a second, that they are alive, so
// a killed speaker is passed over in well under a second (sub-second failover, docs/architecture.md) rather
// than when its Lease runs out
// (3 s). keepalived's VRRP does the same over IP; these are plain Ethernet frames, so they need no address
// and reach exactly the hosts of the segment the speakers answer ARP on:
//
//   dst  03:6c:32:6c:62:00   a locally administered group address (IEEE 802: first octet, I/G and U/L bits
//                            set), so NICs of hosts that did not join it drop the frame in hardware
//   type 0x88b5              IEEE 802 Local Experimental EtherType 1 (IEEE Std 802, clause 9.2.2)
//   payload (big-endian)     magic "L2LB" (4) | version 1 (1) | kind (1) | interval ms (2) | sequence (4)
//                            | name length (1) | node name (ASCII)
//
// kind 1 = alive; kind 2 = leaving (a speaker that stops says so, and peers pass it over at once).
import { ETH_ALEN, ETH_HLEN, PacketError, decodeEthernet, encodeEthernet } from './ethernet.js'
import { BPF_LD_B_ABS, BPF_LD_H_ABS, BPF_LD_W_ABS, allOf, type BpfInsn } from './bpf.js'

export const ETHERTYPE_L2LB_HEARTBEAT = 0x88b5
export const HEARTBEAT_GROUP_MAC: Readonly<Buffer> = Buffer.from([0x03, 0x6c, 0x32, 0x6c, 0x62, 0x00])
const MAGIC = 0x4c324c42 // "L2LB"
export const HEARTBEAT_VERSION = 1
const HEADER = 13 // magic, version, kind, interval, sequence, name length
/** Kubernetes node names are DNS subdomains (RFC 1123): at most 253 characters. */
const NAME_MAX = 253
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

export type HeartbeatKind = 'alive' | 'leaving'

export interface Heartbeat {
  readonly node: string
  readonly kind: HeartbeatKind
  /** How often the sender sends: a receiver passes it over after a few intervals without one. */
  readonly intervalMs: number
  /** Counts up by one per frame sent (wrapping at 2^32), so a receiver can count losses. */
  readonly sequence: number
}

export interface ReceivedHeartbeat extends Heartbeat {
  /** The sender's MAC. */
  readonly src: Buffer
}

function checkHeartbeat(h: Heartbeat): void {
  if (h.kind !== 'alive' && h.kind !== 'leaving') throw new PacketError('BAD_KIND', `heartbeat kind ${String(h.kind)} is neither alive nor leaving`)
  if (!Number.isInteger(h.intervalMs) || h.intervalMs < 1 || h.intervalMs > 60_000) {
    throw new PacketError('BAD_INTERVAL', `heartbeat interval ${h.intervalMs} ms is not an integer in 1..60000`)
  }
  if (!Number.isInteger(h.sequence) || h.sequence < 0 || h.sequence > 0xffffffff) {
    throw new PacketError('BAD_SEQUENCE', `heartbeat sequence ${h.sequence} is not a 32-bit unsigned integer`)
  }
  if (h.node.length === 0 || h.node.length > NAME_MAX || !NODE_NAME.test(h.node)) {
    throw new PacketError('BAD_NAME', `"${h.node}" is not a Kubernetes node name (RFC 1123 subdomain, at most ${NAME_MAX} characters)`)
  }
}

/** A whole Ethernet frame from `src` to the heartbeat group. Throws PacketError for a bad heartbeat. */
export function encodeHeartbeat(src: Buffer, h: Heartbeat): Buffer {
  checkHeartbeat(h)
  const payload = Buffer.alloc(HEADER + h.node.length)
  payload.writeUInt32BE(MAGIC, 0)
  payload.writeUInt8(HEARTBEAT_VERSION, 4)
  payload.writeUInt8(h.kind === 'alive' ? 1 : 2, 5)
  payload.writeUInt16BE(h.intervalMs, 6)
  payload.writeUInt32BE(h.sequence, 8)
  payload.writeUInt8(h.node.length, 12)
  payload.write(h.node, HEADER, 'ascii')
  return encodeEthernet({ dst: Buffer.from(HEARTBEAT_GROUP_MAC), src, etherType: ETHERTYPE_L2LB_HEARTBEAT, payload })
}

/** Decodes a heartbeat frame (padding ignored). Throws PacketError for anything else. */
export function decodeHeartbeat(frame: Buffer): ReceivedHeartbeat {
  const eth = decodeEthernet(frame)
  if (eth.etherType !== ETHERTYPE_L2LB_HEARTBEAT) {
    throw new PacketError('BAD_ETHERTYPE', `EtherType 0x${eth.etherType.toString(16)} is not the heartbeat's 0x88b5`)
  }
  const p = eth.payload
  if (p.length < HEADER) throw new PacketError('TRUNCATED', `heartbeat of ${p.length} bytes is shorter than its ${HEADER}-byte header`)
  if (p.readUInt32BE(0) !== MAGIC) throw new PacketError('BAD_MAGIC', 'a frame of EtherType 0x88b5 that is not an l2lb heartbeat')
  const version = p.readUInt8(4)
  if (version !== HEARTBEAT_VERSION) throw new PacketError('BAD_VERSION', `heartbeat version ${version}; this speaker speaks ${HEARTBEAT_VERSION}`)
  const kindByte = p.readUInt8(5)
  if (kindByte !== 1 && kindByte !== 2) throw new PacketError('BAD_KIND', `heartbeat kind ${kindByte} is neither 1 (alive) nor 2 (leaving)`)
  const nameLength = p.readUInt8(12)
  if (p.length < HEADER + nameLength) throw new PacketError('TRUNCATED', `heartbeat name of ${nameLength} bytes overruns the frame`)
  const h: ReceivedHeartbeat = {
    node: p.toString('latin1', HEADER, HEADER + nameLength),
    kind: kindByte === 1 ? 'alive' : 'leaving',
    intervalMs: p.readUInt16BE(6),
    sequence: p.readUInt32BE(8),
    src: Buffer.from(eth.src.subarray(0, ETH_ALEN)),
  }
  checkHeartbeat(h)
  return h
}

/** The kernel filter for a heartbeat socket: our EtherType, magic and version (the decoder checks the rest). */
export function heartbeatFilter(): BpfInsn[] {
  return allOf([
    [BPF_LD_H_ABS, 12, ETHERTYPE_L2LB_HEARTBEAT],
    [BPF_LD_W_ABS, ETH_HLEN, MAGIC],
    [BPF_LD_B_ABS, ETH_HLEN + 4, HEARTBEAT_VERSION],
  ])
}
