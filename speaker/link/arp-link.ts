// The packet link the ARP responder runs on: a PacketSocket for EtherType ARP with the kernel filter that
// passes only ARP requests. Kept behind a small interface so the responder's timing and counting can be
// tested without privileges; the real socket is tested in test/integration/.
import { ETH_P_ARP, PacketSocket } from '../../native/index.js'
import { arpRequestFilter, assembleBpf } from '../core/bpf.js'

export interface FrameLink {
  /** The interface's MAC, 6 bytes. */
  readonly mac: Buffer
  readonly ifindex: number
  /** Sends a whole Ethernet frame; throws a Node-style error (code, errno, syscall) on failure. */
  send(frame: Buffer): void
  /** Frames never include our own sends. Receive errors go to onError; the link stays open. */
  subscribe(onFrame: (frame: Buffer) => void, onError: (err: Error) => void): void
  close(): void
}

export type OpenLink = (interfaceName: string) => FrameLink

/** Opens the ARP link on an interface of this process's network namespace. Needs CAP_NET_RAW. */
export function openArpLink(interfaceName: string): FrameLink {
  const sock = PacketSocket.open({ interface: interfaceName, protocol: ETH_P_ARP })
  try {
    sock.setFilter(assembleBpf(arpRequestFilter()))
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
    close: () => sock.close(),
  }
}
