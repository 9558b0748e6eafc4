// Peer heartbeats: the speakers on one LAN tell each other, several times a second, that they are alive, so
// a killed speaker is passed over in well under a second (sub-second failover, docs/architecture.md) rather
// than when its Lease runs out
// (3 s). keepalived's VRRP does the same over IP; these are plain Ethernet frames, so they need no address
// and reach exactly the hosts of the segment the speakers answer ARP on:
//
//   dst  03:6c:32:6c:62:00   a locally administered group address (IEEE 802: first octet, I/G and U/L bits
//                            set), so NICs of hosts that did not join it drop the frame in hardware
//   type 0x88b5              IEEE 802 Local Experimental EtherType 1 (IEEE Std 802, clause 9.2.2)
//   payload (big-endian)     magic "L2LB" (4) | version 3 (1) | kind (1) | interval ms (2) | key id (2)
//                            | boot id (8) | sent-at ms (6) | sequence (4) | cluster length (1) | cluster name
//                            | node name length (1) | node name | MAC (32, only when key id is not 0)
//
// kind, low 7 bits: 1 = alive (serving); 2 = leaving (a speaker that stops says so, and peers pass it over at
// once); 3 = standby (alive, announces nothing: core/membership.ts says when). High bit: the sender reaches
// the API server (its last Lease renewal succeeded), which tells a peer cut from the API server to stand by.
//
// Authentication. MAC = HMAC-SHA-256 (RFC 2104, FIPS 180-4) under the key `key id` names, over the whole
// frame before it: Ethernet header (so the source MAC too) and every payload field. The keys are the
// cluster's (README, "Heartbeat authentication"): the first one signs, every one verifies, so a key is
// rotated in three rolling steps with two keys accepted meanwhile (hashicorp/memberlist's keyring, which
// MetalLB's speaker keys from a Secret, works the same way: the primary key encrypts, all keys decrypt).
// Key id 0 is an unsigned frame. A speaker with keys refuses unsigned frames, unknown key ids and bad MACs;
// one without keys takes every frame of its cluster, signed or not (it cannot check them, and it trusts the
// LAN anyway: that is the risk it warns about at start).
//
// Cluster identity. The cluster name (L2LB_CLUSTER_NAME, '' when unset) is in every frame (under the MAC when
// signed): frames of another l2lb cluster on the segment are counted (`other_cluster`) and ignored, with or
// without keys.
//
// Replay (judgeFreshness). Each sending process draws a random 64-bit boot id and counts its frames from 0;
// sent-at is its wall-clock time when the process started plus monotonic time since, so it never steps
// back while the process runs and is later than every frame of the process before it (same node, restarted)
// as long as the node's clock was not set back across the restart. A receiver keeps, per sending node, the
// boot id, sequence and sent-at of the last frame it took, and takes a frame only when it is newer:
//   same boot id       its sequence is higher (equal: the same frame heard twice, e.g. on two interfaces)
//   another boot id    its sent-at is later (the sender restarted; a frame of an earlier process is a replay)
// Sent-at is only ever compared with the same sender's earlier sent-at, never with the receiver's clock, so
// the speakers' clocks need not agree (as for the Leases, docs/architecture.md). Limits:
// - A receiver takes the first frame it hears of a peer (it has nothing to compare with): one captured frame
//   can be replayed to a speaker that just started, once per peer; the peer's next real frame is later and
//   replaces it within one interval, and from then on the replay is refused.
// - A sender whose clock was set back by more than its restart took is refused (`replay`) after that
//   restart until its clock passes the old mark; its peers judge it by its Lease meanwhile.
// - The key is the cluster's, not a node's: a frame proves it comes from a holder of the key (a speaker of
//   this cluster, or whoever can read the Secret), not from the node it names.
// - Frames are signed, not encrypted: node and cluster names are visible on the LAN.
import { createHmac, timingSafeEqual } from 'node:crypto'
import { ETH_ALEN, ETH_HLEN, PacketError, decodeEthernet, encodeEthernet } from './ethernet.js'
import { BPF_LD_B_ABS, BPF_LD_H_ABS, BPF_LD_W_ABS, allOf, type BpfInsn } from './bpf.js'

export const ETHERTYPE_L2LB_HEARTBEAT = 0x88b5
export const HEARTBEAT_GROUP_MAC: Readonly<Buffer> = Buffer.from([0x03, 0x6c, 0x32, 0x6c, 0x62, 0x00])
const MAGIC = 0x4c324c42 // "L2LB"
/**
 * Version 2 added key id, boot id, sent-at, cluster name and MAC; version 3 the standby kind and the
 * reaches-API bit. Frames of other versions are dropped in the kernel.
 */
export const HEARTBEAT_VERSION = 3
/** magic, version, kind, interval, key id, boot id, sent-at, sequence */
const FIXED = 28
const OFF_CLUSTER_LENGTH = FIXED
/** The fixed fields and the two length bytes. */
const HEADER = FIXED + 2
/** HMAC-SHA-256, untruncated. */
export const HEARTBEAT_MAC_LENGTH = 32
/** The key id of an unsigned frame. */
export const UNSIGNED_KEY_ID = 0
const KEY_ID_MAX = 0xffff
/** RFC 2104 §3: a key shorter than the hash output (32 bytes for SHA-256) is strongly discouraged. */
export const HEARTBEAT_KEY_MIN_BYTES = 32
const SENT_AT_MAX = 2 ** 48 - 1
const BOOT_ID_MAX = 2n ** 64n - 1n
/** Kubernetes node names are DNS subdomains (RFC 1123): at most 253 characters. */
const NAME_MAX = 253
/** A cluster name is a DNS label's length at most (RFC 1123). */
const CLUSTER_MAX = 63
const NODE_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/

export type HeartbeatKind = 'alive' | 'standby' | 'leaving'
const KIND_CODES: Readonly<Record<HeartbeatKind, number>> = { alive: 1, leaving: 2, standby: 3 }
const KIND_BY_CODE: ReadonlyMap<number, HeartbeatKind> = new Map(Object.entries(KIND_CODES).map(([k, c]) => [c, k as HeartbeatKind]))
const REACHES_API_BIT = 0x80

/** What the speaker needs of a peer's heartbeat. */
export interface Heartbeat {
  readonly node: string
  readonly kind: HeartbeatKind
  /** How often the sender sends: a receiver passes it over after a few intervals without one. */
  readonly intervalMs: number
  /** Counts up by one per frame sent by one process (boot id), from 0. */
  readonly sequence: number
  /** The sender's last Lease renewal succeeded. */
  readonly reachesApi: boolean
}

export interface ReceivedHeartbeat extends Heartbeat {
  /** The sender's MAC. */
  readonly src: Buffer
}

/** Everything a heartbeat frame says, but its signature. */
export interface HeartbeatFrame extends Heartbeat {
  /** The sender's cluster name; '' when unnamed. */
  readonly cluster: string
  /** Random per sending process (64 bits): another one from the same node means the sender restarted. */
  readonly bootId: bigint
  /**
   * The sender's clock (ms) when it sent: wall-clock time at its process start plus monotonic time since.
   * Compared only with the same node's earlier frames (judgeFreshness).
   */
  readonly sentAtMs: number
}

export interface DecodedHeartbeat extends HeartbeatFrame, ReceivedHeartbeat {
  /** The key that signed it; UNSIGNED_KEY_ID when unsigned. */
  readonly keyId: number
  /** The HMAC the frame carries; null when unsigned. */
  readonly mac: Buffer | null
  /** The bytes the MAC covers (a view into the frame): Ethernet header and payload up to the MAC. */
  readonly signed: Buffer
}

/** One key of the cluster: `id:base64` in L2LB_HEARTBEAT_KEYS. */
export interface HeartbeatKey {
  readonly id: number
  readonly secret: Buffer
}

/** What a speaker trusts: its cluster name, and the cluster's keys (the first signs; none: unauthenticated). */
export interface HeartbeatTrust {
  readonly cluster: string
  readonly keys: readonly HeartbeatKey[]
}

function checkFrame(h: HeartbeatFrame): void {
  if (typeof h.kind !== 'string' || !Object.hasOwn(KIND_CODES, h.kind)) throw new PacketError('BAD_KIND', `heartbeat kind ${String(h.kind)} is not alive, standby or leaving`)
  if (typeof h.reachesApi !== 'boolean') throw new PacketError('BAD_KIND', `heartbeat reachesApi ${String(h.reachesApi)} is not a boolean`)
  if (!Number.isInteger(h.intervalMs) || h.intervalMs < 1 || h.intervalMs > 60_000) {
    throw new PacketError('BAD_INTERVAL', `heartbeat interval ${h.intervalMs} ms is not an integer in 1..60000`)
  }
  if (!Number.isInteger(h.sequence) || h.sequence < 0 || h.sequence > 0xffffffff) {
    throw new PacketError('BAD_SEQUENCE', `heartbeat sequence ${h.sequence} is not a 32-bit unsigned integer`)
  }
  if (!Number.isInteger(h.sentAtMs) || h.sentAtMs < 0 || h.sentAtMs > SENT_AT_MAX) {
    throw new PacketError('BAD_SEQUENCE', `heartbeat sent-at ${h.sentAtMs} ms is not a 48-bit unsigned integer`)
  }
  if (typeof h.bootId !== 'bigint' || h.bootId < 0n || h.bootId > BOOT_ID_MAX) {
    throw new PacketError('BAD_SEQUENCE', `heartbeat boot id ${String(h.bootId)} is not a 64-bit unsigned integer`)
  }
  if (h.node.length === 0 || h.node.length > NAME_MAX || !NODE_NAME.test(h.node)) {
    throw new PacketError('BAD_NAME', `"${h.node}" is not a Kubernetes node name (RFC 1123 subdomain, at most ${NAME_MAX} characters)`)
  }
  const clusterError = clusterNameError(h.cluster)
  if (clusterError !== null) throw new PacketError('BAD_NAME', clusterError)
}

function clusterNameError(name: string): string | null {
  if (name === '' || (name.length <= CLUSTER_MAX && NODE_NAME.test(name))) return null
  return `cluster name "${name}" must be empty, or lower-case letters, digits, '-' and '.' starting and ending with a letter or digit, at most ${CLUSTER_MAX}`
}

function hmac(secret: Buffer, bytes: Buffer): Buffer {
  return createHmac('sha256', secret).update(bytes).digest()
}

/**
 * A whole Ethernet frame from `src` to the heartbeat group, signed with `key` (null: unsigned; a key comes
 * from parseHeartbeatKeys, so its id is 1..65535). Throws PacketError for a bad heartbeat.
 */
export function encodeHeartbeat(src: Buffer, h: HeartbeatFrame, key: HeartbeatKey | null): Buffer {
  checkFrame(h)
  const body = HEADER + h.cluster.length + h.node.length
  const payload = Buffer.alloc(body + (key === null ? 0 : HEARTBEAT_MAC_LENGTH))
  payload.writeUInt32BE(MAGIC, 0)
  payload.writeUInt8(HEARTBEAT_VERSION, 4)
  payload.writeUInt8(KIND_CODES[h.kind] | (h.reachesApi ? REACHES_API_BIT : 0), 5)
  payload.writeUInt16BE(h.intervalMs, 6)
  payload.writeUInt16BE(key === null ? UNSIGNED_KEY_ID : key.id, 8)
  payload.writeBigUInt64BE(h.bootId, 10)
  payload.writeUIntBE(h.sentAtMs, 18, 6)
  payload.writeUInt32BE(h.sequence, 24)
  payload.writeUInt8(h.cluster.length, OFF_CLUSTER_LENGTH)
  payload.write(h.cluster, OFF_CLUSTER_LENGTH + 1, 'ascii')
  const offName = OFF_CLUSTER_LENGTH + 1 + h.cluster.length
  payload.writeUInt8(h.node.length, offName)
  payload.write(h.node, offName + 1, 'ascii')
  const frame = encodeEthernet({ dst: Buffer.from(HEARTBEAT_GROUP_MAC), src, etherType: ETHERTYPE_L2LB_HEARTBEAT, payload })
  if (key !== null) hmac(key.secret, frame.subarray(0, ETH_HLEN + body)).copy(frame, ETH_HLEN + body)
  return frame
}

/** Decodes a heartbeat frame (padding ignored) without judging its MAC. Throws PacketError for anything else. */
export function decodeHeartbeat(frame: Buffer): DecodedHeartbeat {
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
  const kind = KIND_BY_CODE.get(kindByte & ~REACHES_API_BIT)
  if (kind === undefined) throw new PacketError('BAD_KIND', `heartbeat kind ${kindByte & ~REACHES_API_BIT} is not 1 (alive), 2 (leaving) or 3 (standby)`)
  const clusterLength = p.readUInt8(OFF_CLUSTER_LENGTH)
  const offName = OFF_CLUSTER_LENGTH + 1 + clusterLength
  if (p.length < offName + 1) throw new PacketError('TRUNCATED', `heartbeat cluster name of ${clusterLength} bytes overruns the frame`)
  const nameLength = p.readUInt8(offName)
  const body = offName + 1 + nameLength
  if (p.length < body) throw new PacketError('TRUNCATED', `heartbeat node name of ${nameLength} bytes overruns the frame`)
  const keyId = p.readUInt16BE(8)
  if (keyId !== UNSIGNED_KEY_ID && p.length < body + HEARTBEAT_MAC_LENGTH) {
    throw new PacketError('TRUNCATED', `heartbeat signed with key ${keyId} ends before its ${HEARTBEAT_MAC_LENGTH}-byte MAC`)
  }
  const h: DecodedHeartbeat = {
    node: p.toString('latin1', offName + 1, body),
    kind,
    reachesApi: (kindByte & REACHES_API_BIT) !== 0,
    intervalMs: p.readUInt16BE(6),
    sequence: p.readUInt32BE(24),
    src: Buffer.from(eth.src.subarray(0, ETH_ALEN)),
    cluster: p.toString('latin1', OFF_CLUSTER_LENGTH + 1, offName),
    bootId: p.readBigUInt64BE(10),
    sentAtMs: p.readUIntBE(18, 6),
    keyId,
    mac: keyId === UNSIGNED_KEY_ID ? null : Buffer.from(p.subarray(body, body + HEARTBEAT_MAC_LENGTH)),
    signed: frame.subarray(0, ETH_HLEN + body),
  }
  checkFrame(h)
  return h
}

/** Why a well-formed heartbeat is refused (the reason label of l2lb_speaker_heartbeats_rejected_total). */
export type RejectReason = 'other_cluster' | 'unsigned' | 'unknown_key' | 'bad_mac' | 'replay'
export const REJECT_REASONS: readonly RejectReason[] = ['other_cluster', 'unsigned', 'unknown_key', 'bad_mac', 'replay']

/**
 * Whether a decoded heartbeat is of our cluster and, when we hold keys, signed by one of them: null when
 * it is, else why not. The cluster name is checked first; a forger who changes it only gets its own frame
 * dropped. Without keys every frame of the cluster passes, signed or not.
 */
export function verifyHeartbeat(h: DecodedHeartbeat, trust: HeartbeatTrust): RejectReason | null {
  if (h.cluster !== trust.cluster) return 'other_cluster'
  if (trust.keys.length === 0) return null
  if (h.keyId === UNSIGNED_KEY_ID || h.mac === null) return 'unsigned'
  const key = trust.keys.find(k => k.id === h.keyId)
  if (key === undefined) return 'unknown_key'
  const expected = hmac(key.secret, h.signed)
  return expected.length === h.mac.length && timingSafeEqual(expected, h.mac) ? null : 'bad_mac'
}

/** What a receiver remembers of the last frame it took from one node. */
export interface SenderRecord {
  readonly bootId: bigint
  readonly sequence: number
  readonly sentAtMs: number
}

export function senderRecord(h: HeartbeatFrame): SenderRecord {
  return { bootId: h.bootId, sequence: h.sequence, sentAtMs: h.sentAtMs }
}

/**
 * The replay rule (see the top of this file): `fresh` when the frame is newer than the last one taken from
 * its node (`last`; undefined when none), `duplicate` when it is that same frame again (same boot id and
 * sequence: heard on a second interface, or replayed at once, which changes nothing), else `replay`.
 */
export function judgeFreshness(last: SenderRecord | undefined, h: HeartbeatFrame): 'fresh' | 'duplicate' | 'replay' {
  if (last === undefined) return 'fresh'
  if (h.bootId === last.bootId) {
    if (h.sequence > last.sequence) return 'fresh'
    return h.sequence === last.sequence ? 'duplicate' : 'replay'
  }
  return h.sentAtMs > last.sentAtMs ? 'fresh' : 'replay'
}

export type ParsedKeys = { readonly ok: true; readonly keys: HeartbeatKey[] } | { readonly ok: false; readonly error: string }

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/

/**
 * The keys of L2LB_HEARTBEAT_KEYS: entries `id:base64` separated by commas, spaces or newlines; id 1..65535,
 * each key at least 32 bytes (`openssl rand -base64 32`). The first signs, every one verifies. Empty text:
 * no keys. Errors never quote a key.
 */
export function parseHeartbeatKeys(text: string): ParsedKeys {
  const entries = text.split(/[\s,]+/).filter(e => e !== '')
  const keys: HeartbeatKey[] = []
  for (const [i, entry] of entries.entries()) {
    const where = `entry ${i + 1} of ${entries.length}`
    const colon = entry.indexOf(':')
    const idText = colon < 0 ? '' : entry.slice(0, colon)
    const b64 = colon < 0 ? '' : entry.slice(colon + 1)
    if (!/^[0-9]{1,5}$/.test(idText)) return { ok: false, error: `${where} is not id:base64-key with a numeric id (e.g. 1:$(openssl rand -base64 32))` }
    const id = Number(idText)
    if (id < 1 || id > KEY_ID_MAX) return { ok: false, error: `${where}: key id ${id} is not in 1..${KEY_ID_MAX}` }
    const secret = Buffer.from(b64, 'base64')
    if (!BASE64.test(b64) || secret.toString('base64').replace(/=+$/, '') !== b64.replace(/=+$/, '')) {
      return { ok: false, error: `${where}: the key of id ${id} is not base64` }
    }
    if (secret.length < HEARTBEAT_KEY_MIN_BYTES) {
      return { ok: false, error: `${where}: the key of id ${id} is ${secret.length} bytes; use at least ${HEARTBEAT_KEY_MIN_BYTES} (openssl rand -base64 32)` }
    }
    if (keys.some(k => k.id === id)) return { ok: false, error: `${where}: key id ${id} is given twice` }
    keys.push({ id, secret })
  }
  return { ok: true, keys }
}

/** L2LB_CLUSTER_NAME: '' (unnamed) or a DNS label-like name of at most 63 characters. */
export function parseClusterName(text: string): { readonly ok: true; readonly cluster: string } | { readonly ok: false; readonly error: string } {
  const error = clusterNameError(text)
  return error === null ? { ok: true, cluster: text } : { ok: false, error }
}

/** The kernel filter for a heartbeat socket: our EtherType, magic and version (the decoder checks the rest). */
export function heartbeatFilter(): BpfInsn[] {
  return allOf([
    [BPF_LD_H_ABS, 12, ETHERTYPE_L2LB_HEARTBEAT],
    [BPF_LD_W_ABS, ETH_HLEN, MAGIC],
    [BPF_LD_B_ABS, ETH_HLEN + 4, HEARTBEAT_VERSION],
  ])
}
