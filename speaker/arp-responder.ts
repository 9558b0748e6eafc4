// The ARP responder for one interface: the Layer-2 responder (layer2-responder.ts) with ARP's decision
// (core/arp-decision.ts), its gratuitous forms and its timing. It answers requests for the IPs it is told to
// announce, sends gratuitous ARP when it takes an IP over, and counts everything.
import { ETHERTYPE_ARP } from './core/ethernet.js'
import { arpRequest, gratuitousReply, gratuitousRequest } from './core/arp.js'
import { arpFilter, arpFilterFor, assembleBpf } from './core/bpf.js'
import { decideArp, type ArpDropReason } from './core/arp-decision.js'
import { Layer2Responder, type Layer2Protocol, type Layer2ResponderOptions, type Layer2Stats } from './layer2-responder.js'
import { openPacketLink, type FrameLink, type OpenLink } from './link/packet-link.js'

/**
 * Gratuitous ARP is repeated because Linux ignores an ARP update for a neighbour entry changed less than
 * `locktime` (1 s) ago unless it arrives as a gratuitous frame it recognises; MetalLB repeats every 1.1 s
 * for 5 s (MetalLB #172; docs/reference.md, "Gratuitous ARP"): rounds at 0, 1.1, 2.2, 3.3 and 4.4 s.
 */
export const GRATUITOUS_INTERVAL_MS = 1100
export const GRATUITOUS_ROUNDS = 5

export interface ArpResponderOptions extends Omit<Layer2ResponderOptions<FrameLink>, 'openLink'> {
  /** How to open the link; tests pass a fake. Default: an AF_PACKET socket (openArpLink). */
  openLink?: OpenLink
  gratuitous?: { intervalMs?: number; rounds?: number }
}

export type ArpResponderStats = Layer2Stats<ArpDropReason>

/**
 * Opens the ARP link: EtherType ARP, kernel filter passing only ARP requests and replies (any address: the
 * responder narrows it to the announced IPs right after, through filterFor). Needs CAP_NET_RAW.
 */
export function openArpLink(interfaceName: string): FrameLink {
  return openPacketLink(interfaceName, ETHERTYPE_ARP, assembleBpf(arpFilter()))
}

function arpProtocol(opts: ArpResponderOptions): Layer2Protocol<ArpDropReason, FrameLink> {
  return {
    name: 'ARP',
    family: 'IPv4',
    decide: decideArp,
    // Both forms: Junos learns from the RFC 5227 request, Linux from a reply with THA = SHA
    // (docs/reference.md, "Gratuitous ARP").
    announcements: (mac, ip) => [gratuitousRequest(mac, ip), gratuitousReply(mac, ip)],
    // RFC 5227 §2.1.1 ARP Probe: a broadcast request with sender IP 0.0.0.0 (so no cache learns anything
    // from it), target IP the address, THA zero.
    probes: (mac, ip) => [arpRequest(mac, '0.0.0.0', ip)],
    // Requests for IPs we do not announce (an ARP flood for other hosts) are dropped in the kernel; frames
    // whose sender is one of ours (a conflict) get through.
    filterFor: announced => assembleBpf(arpFilterFor(announced)),
    // Documentation addresses and a locally administered MAC: decided only, never sent.
    warmUpRequest: () => ({ frame: arpRequest(Buffer.from([0x02, 0, 0, 0, 0, 0xfe]), '192.0.2.254', '192.0.2.253'), ip: '192.0.2.253' }),
    intervalMs: opts.gratuitous?.intervalMs ?? GRATUITOUS_INTERVAL_MS,
    rounds: opts.gratuitous?.rounds ?? GRATUITOUS_ROUNDS,
    zeroDrops,
    dropMetric: { name: 'l2lb_layer2_arp_dropped', help: 'ARP frames received and not answered, by reason' },
  }
}

export class ArpResponder extends Layer2Responder<ArpDropReason, FrameLink> {
  constructor(opts: ArpResponderOptions) {
    super(arpProtocol(opts), { ...opts, openLink: opts.openLink ?? openArpLink })
  }
}

// A literal rather than a loop over ARP_DROP_REASONS so that the compiler flags a reason added there.
function zeroDrops(): Record<ArpDropReason, number> {
  return { malformed: 0, 'own-frame': 0, 'wrong-destination': 0, 'not-request': 0, 'not-announced': 0 }
}
