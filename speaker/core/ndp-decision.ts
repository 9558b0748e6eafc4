// The NDP decision, pure: given one received frame, answer it with a Neighbor Advertisement or
// drop it with a reason the shell counts. Rules from RFC 4861 §7.1.1 (validity), §7.2.3 (answer only
// solicitations for our addresses) and §7.2.4 (how to answer), and docs/reference.md, "IPv6 Neighbor Discovery".
// Another host using one of our addresses — an advertisement for it, or a solicitation from it — is a
// conflict (as RFC 5227 §2.4 has it for ARP): the shell announces the address again once that host is quiet.
// While the node probes an address (duplicate address detection, RFC 4862 §5.4), the same frames say the
// address is in use.
import { PacketError, macEquals } from './ethernet.js'
import {
  ICMPV6_NEIGHBOR_SOLICITATION, OFF_DST, OFF_SRC, OFF_TARGET, advertisementFor, checkNdpFrame, type NdpCheck,
} from './ndp.js'
import { IPV6_ALEN, ipv6At, isSolicitedNodeFor, isUnspecifiedAt } from './ipv6.js'
import type { Layer2Context, Layer2Decision } from './layer2-decision.js'

export const NDP_DROP_REASONS = [
  'malformed', // not a valid NS/NA over Ethernet (the PacketError says why)
  'own-frame', // sent by this interface (Ethernet source or source link-layer address is our MAC)
  'not-solicitation', // an advertisement for an address we neither announce nor probe: we never answer one
  'wrong-destination', // neither to the target's solicited-node group nor unicast to the target at our MAC
  'not-announced', // a solicitation for an address this node does not announce (on this interface)
] as const
export type NdpDropReason = (typeof NDP_DROP_REASONS)[number]

function bytesEqual(buf: Buffer, a: number, b: number, n: number): boolean {
  for (let i = 0; i < n; i++) if (buf[a + i] !== buf[b + i]) return false
  return true
}

/** Whether the Ethernet destination is 33:33 and the low 32 bits of the IPv6 destination (RFC 2464 §7). */
function ethDstMatchesIpGroup(frame: Buffer): boolean {
  return frame[0] === 0x33 && frame[1] === 0x33 && bytesEqual(frame, 2, OFF_DST + 12, 4)
}

/**
 * Decides what to do with one frame received on the NDP socket. Never throws for a bad frame: one that
 * fails validation is dropped as 'malformed' with the PacketError attached. Allocates only the target's text
 * and, for an answer, the advertisement.
 */
export function decideNdp(frame: Buffer, ctx: Layer2Context): Layer2Decision<NdpDropReason> {
  let check: NdpCheck
  try {
    check = checkNdpFrame(frame)
  } catch (err) {
    if (err instanceof PacketError) return { kind: 'drop', reason: 'malformed', error: err }
    throw err
  }
  const { type, linkAddressAt } = check
  if (macEquals(frame, 6, ctx.mac) || (linkAddressAt >= 0 && macEquals(frame, linkAddressAt, ctx.mac))) {
    return { kind: 'drop', reason: 'own-frame' }
  }
  // Who the other host is: the link-layer option (TLLA of an NA, SLLA of an NS) when present, else the
  // Ethernet source.
  const fromAt = linkAddressAt >= 0 ? linkAddressAt : 6
  const from = (): Buffer => Buffer.from(frame.subarray(fromAt, fromAt + 6))
  if (type !== ICMPV6_NEIGHBOR_SOLICITATION) {
    // RFC 4861 §7.2.5/§7.2.6: an advertisement for our address from another MAC redirects caches to it.
    // During a probe, RFC 4862 §5.4.4: an advertisement for the tentative address means it is a duplicate.
    const target = ipv6At(frame, OFF_TARGET)
    if (ctx.announced.has(target)) return { kind: 'conflict', ip: target, from: from() }
    if (ctx.probing?.has(target) === true) return { kind: 'in-use', ip: target, from: from() }
    return { kind: 'drop', reason: 'not-solicitation' }
  }
  // A solicitation from one of our addresses: another host has it configured (its neighbour resolution
  // carries it as source), the case ARP's sender field shows (RFC 5227 §2.4). A DAD probe comes from ::,
  // which is never announced. (Another host's DAD probe for an address we probe is not counted, as on
  // the ARP side: two nodes of this cluster may probe at once while the election settles.)
  if (!isUnspecifiedAt(frame, OFF_SRC)) {
    const src = ipv6At(frame, OFF_SRC)
    if (ctx.announced.has(src)) return { kind: 'conflict', ip: src, from: from() }
    if (ctx.probing?.has(src) === true) return { kind: 'in-use', ip: src, from: from() }
  }
  // RFC 4861 §7.2.2 sends a solicitation to the target's solicited-node address (address resolution,
  // duplicate address detection) or unicast to the target itself (neighbour unreachability detection),
  // which reaches us at our MAC. Anything else was not meant for the owner of the target.
  const toGroup = isSolicitedNodeFor(frame, OFF_DST, OFF_TARGET) && ethDstMatchesIpGroup(frame)
  const toUs = bytesEqual(frame, OFF_DST, OFF_TARGET, IPV6_ALEN) && macEquals(frame, 0, ctx.mac)
  if (!toGroup && !toUs) return { kind: 'drop', reason: 'wrong-destination' }
  const ip = ipv6At(frame, OFF_TARGET)
  if (!ctx.announced.has(ip)) return { kind: 'drop', reason: 'not-announced' }
  return { kind: 'reply', ip, frame: advertisementFor(frame, linkAddressAt, ctx.mac) }
}
