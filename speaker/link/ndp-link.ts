// The packet link the NDP responder runs on: a PacketSocket for EtherType IPv6 with the kernel filter that
// passes only Neighbor Solicitations, plus link-layer multicast membership, because a solicitation is sent
// to the target's solicited-node group 33:33:ff:XX:XX:XX (RFC 4861 §7.2.2), which a NIC drops in hardware
// unless someone joined it. Behind a small interface so the responder can be tested without privileges;
// the real socket is tested in test/integration/ndp-responder.test.ts.
import { ETH_P_IPV6, PacketSocket } from '../../native/index.js'
import { assembleBpf, ndpSolicitationFilter } from '../core/bpf.js'
import type { FrameLink } from './arp-link.js'

export interface NdpLink extends FrameLink {
  /** Joins an Ethernet multicast group (PACKET_ADD_MEMBERSHIP); throws a Node-style error. */
  addMembership(mac: Buffer): void
  /** Leaves it again (PACKET_DROP_MEMBERSHIP); closing the link leaves every group too. */
  dropMembership(mac: Buffer): void
}

export type OpenNdpLink = (interfaceName: string) => NdpLink

/** Opens the NDP link on an interface of this process's network namespace. Needs CAP_NET_RAW. */
export function openNdpLink(interfaceName: string): NdpLink {
  const sock = PacketSocket.open({ interface: interfaceName, protocol: ETH_P_IPV6 })
  try {
    sock.setFilter(assembleBpf(ndpSolicitationFilter()))
  } catch (err) {
    sock.close()
    throw err
  }
  return {
    mac: sock.mac,
    ifindex: sock.ifindex,
    send: frame => sock.send(frame),
    subscribe: (onFrame, onError) => {
      sock.on('frame', onFrame)
      sock.on('error', onError)
    },
    addMembership: mac => sock.addMembership(mac),
    dropMembership: mac => sock.dropMembership(mac),
    close: () => sock.close(),
  }
}
