// The NDP responder for one interface: the Layer-2 responder (layer2-responder.ts) with NDP's decision
// (core/ndp-decision.ts), unsolicited advertisements and solicited-node group membership. It joins the
// solicited-node group of every address it announces, answers Neighbor Solicitations for them, sends
// unsolicited Neighbor Advertisements when it takes an address over, and counts everything.
import { ETHERTYPE_IPV6 } from './core/ethernet.js'
import { assembleBpf, ndpFilter, ndpFilterFor } from './core/bpf.js'
import { solicitedNodeMac } from './core/ipv6.js'
import { neighborSolicitation, unsolicitedAdvertisement } from './core/ndp.js'
import { decideNdp, type NdpDropReason } from './core/ndp-decision.js'
import { Layer2Responder, type Layer2Protocol, type Layer2ResponderOptions, type Layer2Stats } from './layer2-responder.js'
import { openPacketLink, type MulticastLink, type OpenLink } from './link/packet-link.js'

/**
 * RFC 4861 §7.2.6: a node that takes an address over MAY send up to MAX_NEIGHBOR_ADVERTISEMENT (3)
 * unsolicited advertisements, separated by at least RetransTimer (RETRANS_TIMER, 1 s; §10). Repeating
 * covers a lost frame; unlike ARP there is no Linux locktime to wait out
 * (docs/reference.md, "IPv6 Neighbor Discovery").
 */
export const UNSOLICITED_NA_INTERVAL_MS = 1000
export const UNSOLICITED_NA_ROUNDS = 3

export interface NdpResponderOptions extends Omit<Layer2ResponderOptions<MulticastLink>, 'openLink'> {
  /** How to open the link; tests pass a fake. Default: an AF_PACKET socket (openNdpLink). */
  openLink?: OpenLink<MulticastLink>
  unsolicited?: { intervalMs?: number; rounds?: number }
}

export interface NdpResponderStats extends Layer2Stats<NdpDropReason> {
  /** Solicited-node groups joined, '33:33:ff:..', sorted, with how many announced addresses share each. */
  groups: Record<string, number>
  /** Failed joins or leaves of a multicast group (logged; answering goes on where the NIC lets frames in). */
  membershipErrors: number
}

/**
 * Opens the NDP link: EtherType IPv6, kernel filter passing only Neighbor Solicitations and Advertisements
 * (any address: the responder narrows it to the announced addresses right after, through filterFor). Needs
 * CAP_NET_RAW. A solicitation goes to the target's solicited-node group 33:33:ff:XX:XX:XX (RFC 4861
 * §7.2.2), which a NIC drops in hardware unless someone joined it: the responder joins per address.
 */
export function openNdpLink(interfaceName: string): MulticastLink {
  return openPacketLink(interfaceName, ETHERTYPE_IPV6, assembleBpf(ndpFilter()))
}

function ndpProtocol(opts: NdpResponderOptions): Layer2Protocol<NdpDropReason, MulticastLink> {
  return {
    name: 'NDP',
    family: 'IPv6',
    decide: decideNdp,
    announcements: (mac, ip) => [unsolicitedAdvertisement(mac, ip)],
    // RFC 4862 §5.4.2 duplicate address detection: a solicitation from :: to the address's solicited-node
    // group, without the source link-layer option. The holder answers to all-nodes (RFC 4861 §7.2.4), a
    // group every IPv6 interface has joined, so no join is needed to hear it.
    probes: (mac, ip) => [neighborSolicitation(mac, '::', ip)],
    // Documentation addresses and a locally administered MAC: decided only, never sent.
    warmUpRequest: () => ({ frame: neighborSolicitation(Buffer.from([0x02, 0, 0, 0, 0, 0xfe]), '2001:db8::fe', '2001:db8::fd'), ip: '2001:db8::fd' }),
    groups: {
      groupOf: solicitedNodeMac,
      join: (link, group) => link.addMembership(group),
      leave: (link, group) => link.dropMembership(group),
    },
    // Solicitations for addresses we do not announce are dropped in the kernel; advertisements for ours
    // and solicitations from ours (conflicts) get through.
    filterFor: announced => assembleBpf(ndpFilterFor(announced)),
    intervalMs: opts.unsolicited?.intervalMs ?? UNSOLICITED_NA_INTERVAL_MS,
    rounds: opts.unsolicited?.rounds ?? UNSOLICITED_NA_ROUNDS,
    zeroDrops,
    dropMetric: { name: 'l2lb_layer2_ndp_dropped', help: 'NDP frames received and not answered, by reason' },
  }
}

export class NdpResponder extends Layer2Responder<NdpDropReason, MulticastLink> {
  constructor(opts: NdpResponderOptions) {
    super(ndpProtocol(opts), { ...opts, openLink: opts.openLink ?? openNdpLink })
  }

  override stats(): NdpResponderStats {
    return { ...super.stats(), groups: this.groupStats(), membershipErrors: this.membershipErrors }
  }
}

// A literal rather than a loop over NDP_DROP_REASONS so that the compiler flags a reason added there.
function zeroDrops(): Record<NdpDropReason, number> {
  return { malformed: 0, 'own-frame': 0, 'not-solicitation': 0, 'wrong-destination': 0, 'not-announced': 0 }
}
