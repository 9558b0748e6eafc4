// The packet link a Layer-2 responder runs on: a PacketSocket bound to one EtherType with a kernel filter
// (speaker/core/bpf.ts) that passes only what the responder can answer. Behind a small interface so the
// responder's timing, counting and recovery can be tested without privileges; the real socket is tested in
// test/integration/.
import { PacketSocket, interfaceIndex } from '../../native/index.js'

export interface FrameLink {
  /** The interface's MAC, 6 bytes. */
  readonly mac: Buffer
  readonly ifindex: number
  /** Sends a whole Ethernet frame; throws a Node-style error (code, errno, syscall) on failure. */
  send(frame: Buffer): void
  /**
   * Frames never include our own sends. Receive errors go to onError; the link stays open, except after
   * an error with syscall 'uv_poll', which means delivery has stopped for good (native/README.md).
   */
  subscribe(onFrame: (frame: Buffer) => void, onError: (err: Error) => void): void
  /**
   * Whether the interface the link was bound to is gone (deleted, perhaps re-created under the same name
   * with a new index): the socket then never receives again, whatever the kernel reported.
   */
  interfaceGone(): boolean
  /**
   * Replaces the kernel filter (assembled classic BPF, SO_ATTACH_FILTER, which swaps the old program out
   * atomically); throws a Node-style error.
   */
  setFilter(program: Buffer): void
  close(): void
}

/**
 * A link that can also join Ethernet multicast groups, which a NIC otherwise filters out in hardware: NDP
 * needs the solicited-node groups 33:33:ff:XX:XX:XX (RFC 4861 §7.2.2, RFC 2464 §7).
 */
export interface MulticastLink extends FrameLink {
  /** Joins an Ethernet multicast group (PACKET_ADD_MEMBERSHIP); throws a Node-style error. */
  addMembership(mac: Buffer): void
  /** Leaves it again (PACKET_DROP_MEMBERSHIP); closing the link leaves every group too. */
  dropMembership(mac: Buffer): void
}

export type OpenLink<L extends FrameLink = FrameLink> = (interfaceName: string) => L

/** A string field of a Node-style error ('code', 'syscall'), undefined when absent. */
function errorField(err: unknown, key: 'code' | 'syscall'): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined
  const v: unknown = Reflect.get(err, key)
  return typeof v === 'string' ? v : undefined
}

/**
 * A receive error with syscall 'uv_poll': native stopped polling for good (native/src/packet.c on_poll,
 * native/README.md); the socket is deaf and only a new one receives again.
 */
export function isReceiveStoppedError(err: unknown): boolean {
  return errorField(err, 'syscall') === 'uv_poll'
}

/**
 * ENODEV/ENXIO (on send): the interface the socket was bound to is gone; one created again under the same
 * name has a new ifindex, which only a new socket binds to.
 */
export function isInterfaceGoneError(err: unknown): boolean {
  const code = errorField(err, 'code')
  return code === 'ENODEV' || code === 'ENXIO'
}

/**
 * Opens a packet socket for `etherType` on an interface of this process's network namespace and attaches
 * `filterProgram` (assembled BPF) before any frame is read. Needs CAP_NET_RAW; throws the socket's
 * Node-style error (ENODEV, EPERM).
 */
export function openPacketLink(interfaceName: string, etherType: number, filterProgram: Buffer): MulticastLink {
  const sock = PacketSocket.open({ interface: interfaceName, protocol: etherType })
  try {
    sock.setFilter(filterProgram)
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
    interfaceGone: () => interfaceIndex(interfaceName) !== sock.ifindex,
    setFilter: program => sock.setFilter(program),
    addMembership: mac => sock.addMembership(mac),
    dropMembership: mac => sock.dropMembership(mac),
    close: () => sock.close(),
  }
}
