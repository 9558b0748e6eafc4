// The ARP decision, pure: given one received frame, answer it, report a conflict, or drop it
// with a reason the shell counts. Rules from RFC 826 and docs/reference.md, "ARP answers": answer only requests
// (op 1) whose target IP this node announces, with Ethernet destination broadcast or our MAC; reply unicast
// to the sender. A frame whose *sender* IP is one we announce, from another MAC, is another host announcing
// our address (RFC 5227 §2.4: a conflicting ARP packet), e.g. a node that took it over while we still hold
// it: the shell announces it again once that host has gone quiet. While the node probes an address before
// claiming it (RFC 5227 §2.1.1), any frame from another host with that address as sender says it is in use.
import { PacketError, isBroadcastAt, macEquals } from './ethernet.js'
import { ARP_OP_REQUEST, OFF_SHA, OFF_SPA, OFF_TPA, arpReplyTo, checkArpFrame, ipv4At } from './arp.js'
import type { Layer2Context, Layer2Decision } from './layer2-decision.js'

export const ARP_DROP_REASONS = [
  'malformed', // not a valid ARP-over-Ethernet/IPv4 frame (the PacketError says why)
  'own-frame', // sent by this interface (Ethernet source or ARP sender is our MAC)
  'wrong-destination', // Ethernet destination neither broadcast nor our MAC
  'not-request', // a reply: we learn nothing from it and never answer it
  'not-announced', // a request for an IP this node does not announce (on this interface)
] as const
export type ArpDropReason = (typeof ARP_DROP_REASONS)[number]

/**
 * Decides what to do with one frame received on the ARP socket. Never throws for a bad frame: a frame
 * that fails validation is dropped as 'malformed' with the PacketError attached. Allocates only the
 * target IP string and, for an answer, the reply frame.
 */
export function decideArp(frame: Buffer, ctx: Layer2Context): Layer2Decision<ArpDropReason> {
  let op: number
  try {
    op = checkArpFrame(frame)
  } catch (err) {
    if (err instanceof PacketError) return { kind: 'drop', reason: 'malformed', error: err }
    throw err
  }
  if (macEquals(frame, 6, ctx.mac) || macEquals(frame, OFF_SHA, ctx.mac)) return { kind: 'drop', reason: 'own-frame' }
  if (!isBroadcastAt(frame, 0) && !macEquals(frame, 0, ctx.mac)) return { kind: 'drop', reason: 'wrong-destination' }
  const spa = ipv4At(frame, OFF_SPA)
  if (ctx.announced.has(spa)) return { kind: 'conflict', ip: spa, from: Buffer.from(frame.subarray(OFF_SHA, OFF_SHA + 6)) }
  // RFC 5227 §2.1.1: a request or reply with the probed address as sender. (Another host's probe for it,
  // which the RFC also counts, is not: two nodes of this cluster may probe at once while the election
  // settles, and the winner would refuse the address because of the loser.)
  if (ctx.probing?.has(spa) === true) return { kind: 'in-use', ip: spa, from: Buffer.from(frame.subarray(OFF_SHA, OFF_SHA + 6)) }
  if (op !== ARP_OP_REQUEST) return { kind: 'drop', reason: 'not-request' }
  const ip = ipv4At(frame, OFF_TPA)
  if (!ctx.announced.has(ip)) return { kind: 'drop', reason: 'not-announced' }
  // RFC 826: swap sender and target, fill in our MAC. For an RFC 5227 probe the sender IP is 0.0.0.0 and
  // the answer goes back to the prober's MAC with TPA 0.0.0.0, as Linux does: it tells the prober the
  // address is taken.
  return { kind: 'reply', ip, frame: arpReplyTo(frame, ctx.mac) }
}
