// A packet link without a socket, for the responder shells' unit tests: records what is sent and which
// groups are joined, delivers frames and errors on demand, and fails sends or joins when told to.
import { setTimeout as sleep } from 'node:timers/promises'
import { formatMac } from '../../speaker/core/ethernet.js'
import type { MulticastLink } from '../../speaker/link/packet-link.js'

export function systemError(syscall: string, code: string, errno: number): Error {
  return Object.assign(new Error(`${syscall} ${code}`), { code, errno, syscall })
}

export class FakeLink implements MulticastLink {
  readonly mac: Buffer
  readonly ifindex: number
  readonly sent: Buffer[] = []
  /** Every membership call, in order: '+33:33:ff:00:00:f0' or '-...'. */
  readonly membership: string[] = []
  closed = false
  /** The error every send throws while set. */
  failSends: Error | undefined
  failJoins = false
  /** What interfaceGone() answers. */
  gone = false
  /** Every filter attached (assembled BPF), in order. */
  readonly filters: Buffer[] = []
  /** The error setFilter throws while set. */
  failFilter: Error | undefined
  /** Called at each successful send, before it returns (to see what the responder had done by then). */
  onSend: (() => void) | undefined
  #onFrame: ((f: Buffer) => void) | undefined
  #onError: ((e: Error) => void) | undefined

  constructor(mac: Buffer, ifindex = 7) {
    this.mac = mac
    this.ifindex = ifindex
  }
  send(frame: Buffer): void {
    if (this.closed) throw systemError('sendto', 'EBADF', -9)
    if (this.failSends !== undefined) throw this.failSends
    this.sent.push(frame)
    this.onSend?.()
  }
  subscribe(onFrame: (f: Buffer) => void, onError: (e: Error) => void): void {
    this.#onFrame = onFrame
    this.#onError = onError
  }
  setFilter(program: Buffer): void {
    if (this.failFilter !== undefined) throw this.failFilter
    this.filters.push(program)
  }
  addMembership(mac: Buffer): void {
    if (this.failJoins) throw systemError('setsockopt', 'ENOBUFS', -105)
    this.membership.push(`+${formatMac(mac)}`)
  }
  dropMembership(mac: Buffer): void {
    this.membership.push(`-${formatMac(mac)}`)
  }
  interfaceGone(): boolean {
    return this.gone
  }
  close(): void {
    this.closed = true
  }
  receive(frame: Buffer): void {
    this.#onFrame?.(frame)
  }
  fail(err: Error): void {
    this.#onError?.(err)
  }
}

/** Waits for a condition with a deadline, so a loaded machine delays the test rather than failing it. */
export async function until(cond: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs
  while (!cond()) {
    if (Date.now() > end) return false
    await sleep(10)
  }
  return true
}
