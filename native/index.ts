// The typed API over the l2lb_packet addon (native/src/packet.c): an AF_PACKET socket bound to one
// interface and one EtherType. Frames arrive as 'frame' events carrying fresh Buffers (never our own
// sends); errors while receiving arrive as 'error' events. No protocol logic here either.
import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'

/** A Node-style system error, as thrown by `fs` or `net`: `code` 'EPERM', `errno` -1, `syscall` 'socket'. */
export interface PacketSocketError extends Error {
  code: string
  errno: number
  syscall: string
}

export interface OpenOptions {
  /** Interface name in the network namespace of this process, e.g. 'eth0'. */
  interface: string
  /**
   * EtherType to receive and send, host order, e.g. 0x0806. The numbers belong to the protocols, not to this
   * wrapper: speaker/core/ethernet.ts has them (ETHERTYPE_ARP, ETHERTYPE_IPV6).
   */
  protocol: number
}

declare const handleBrand: unique symbol
type Handle = { readonly [handleBrand]: true }

interface Binding {
  open(
    ifname: string,
    protocol: number,
    onFrame: (err: PacketSocketError | undefined, frame: Buffer | undefined) => void,
  ): { handle: Handle; ifindex: number; mac: Buffer }
  send(handle: Handle, frame: Buffer): number
  setFilter(handle: Handle, program: Buffer): void
  addMembership(handle: Handle, mac: Buffer): void
  dropMembership(handle: Handle, mac: Buffer): void
  close(handle: Handle): void
  ifindex(ifname: string): number
}

// node-gyp builds the addon into native/build under the package root. This module runs from there as
// native/index.ts (tsx, tests), or bundled into dist/<program>/main.js (build/bundle.ts), two folders below the
// root like any compiled .js under dist/: find the root from either.
const PACKAGE_ROOT = new URL(import.meta.url.endsWith('.js') ? '../../' : '../', import.meta.url)
export const ADDON_PATH = new URL('native/build/Release/l2lb_packet.node', PACKAGE_ROOT).pathname

function isBinding(value: unknown): value is Binding {
  if (typeof value !== 'object' || value === null) return false
  const names = ['open', 'send', 'setFilter', 'addMembership', 'dropMembership', 'close', 'ifindex']
  return names.every((n) => typeof Reflect.get(value, n) === 'function')
}

export class AddonLoadError extends Error {
  readonly code = 'ADDON_NOT_BUILT'
  constructor(cause: unknown) {
    super(`cannot load the packet addon at ${ADDON_PATH}: run \`npm run install\` (node-gyp rebuild)`, { cause })
    this.name = 'AddonLoadError'
  }
}

// Loaded on first use rather than at import, so that importing this module (e.g. for its types or
// constants) works on a machine where the addon has not been built. require() caches the module itself.
function loadBinding(): Binding {
  let loaded: unknown
  try {
    loaded = createRequire(import.meta.url)(ADDON_PATH)
  } catch (err) {
    throw new AddonLoadError(err)
  }
  if (!isBinding(loaded)) throw new AddonLoadError(new Error('unexpected exports'))
  return loaded
}

function systemError(syscall: string, code: string, errno: number, text: string): PacketSocketError {
  return Object.assign(new Error(`${syscall} ${code}: ${text}`), { code, errno, syscall })
}

/** Destination, source and EtherType: the shortest thing that is an Ethernet frame (IEEE 802.3). */
const ETH_HLEN = 14

/**
 * The index of interface `name` in this process's network namespace (if_nametoindex), 0 when there is none.
 * A socket whose `ifindex` no longer matches is bound to an interface that was deleted: it stays deaf even
 * if one of the same name is created again, so its owner should open a new one.
 */
export function interfaceIndex(name: string): number {
  return loadBinding().ifindex(name)
}

export interface PacketSocketEvents {
  frame: [frame: Buffer]
  error: [err: PacketSocketError]
  close: []
}

export class PacketSocket extends EventEmitter<PacketSocketEvents> {
  readonly ifindex: number
  /** The interface's hardware address (SIOCGIFHWADDR), 6 bytes. */
  readonly mac: Buffer
  readonly interface: string
  readonly protocol: number
  #handle: Handle | undefined
  #binding: Binding

  private constructor(
    b: Binding,
    opened: { handle: Handle; ifindex: number; mac: Buffer },
    opts: OpenOptions,
  ) {
    super()
    this.#binding = b
    this.#handle = opened.handle
    this.ifindex = opened.ifindex
    this.mac = opened.mac
    this.interface = opts.interface
    this.protocol = opts.protocol
  }

  /**
   * Opens and binds the socket; receiving starts at once (frames are emitted from the next loop turn on).
   * Throws a PacketSocketError: ENODEV for a missing interface, EPERM without CAP_NET_RAW.
   */
  static open(opts: OpenOptions): PacketSocket {
    const b = loadBinding()
    // The listener must exist before the socket does; it reaches the instance through this cell.
    const cell: { sock?: PacketSocket } = {}
    const opened = b.open(opts.interface, opts.protocol, (err, frame) => {
      const sock = cell.sock
      if (sock === undefined) return
      if (err !== undefined) sock.emit('error', err)
      else if (frame !== undefined) sock.emit('frame', frame)
    })
    const sock = new PacketSocket(b, opened, opts)
    cell.sock = sock
    return sock
  }

  get closed(): boolean {
    return this.#handle === undefined
  }

  #live(syscall: string): Handle {
    if (this.#handle === undefined) throw systemError(syscall, 'EBADF', -9, 'the packet socket is closed')
    return this.#handle
  }

  /**
   * Sends one complete Ethernet frame (header included). Throws on failure: EINVAL for less than a
   * header (checked here: the C knows nothing of Ethernet), ENETDOWN, EAGAIN, ENODEV from the kernel.
   */
  send(frame: Buffer): void {
    const handle = this.#live('sendto')
    if (frame.length < ETH_HLEN) {
      throw systemError('sendto', 'EINVAL', -22, `a frame of ${frame.length} bytes is shorter than an Ethernet header`)
    }
    this.#binding.send(handle, frame)
  }

  /** Attaches a classic BPF program: the bytes of `struct sock_filter[]` (8 bytes per instruction). */
  setFilter(program: Buffer): void {
    this.#binding.setFilter(this.#live('setsockopt'), program)
  }

  /** Joins a link-layer multicast group (PACKET_ADD_MEMBERSHIP), e.g. 33:33:ff:xx:xx:xx for NDP. */
  addMembership(mac: Buffer): void {
    this.#binding.addMembership(this.#live('setsockopt'), mac)
  }

  dropMembership(mac: Buffer): void {
    this.#binding.dropMembership(this.#live('setsockopt'), mac)
  }

  /** Stops delivery at once and releases the fd. Idempotent; safe inside a 'frame' listener. */
  close(): void {
    const handle = this.#handle
    if (handle === undefined) return
    this.#handle = undefined
    this.#binding.close(handle)
    this.emit('close')
  }
}
