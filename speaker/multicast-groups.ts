// The Ethernet multicast groups a Layer-2 responder (layer2-responder.ts) has joined on its current link,
// counted per announced IP: several addresses may share a group (NDP's solicited-node group 33:33:ff:XX:XX:XX
// keeps an address's low 24 bits only, RFC 4861 §7.2.2, RFC 2464 §7), so a group is joined with the first
// and left after the last. The kernel counts per socket too; our own count makes the intent visible in stats.
import type { Logger } from 'pino'
import { formatMac } from './core/ethernet.js'
import type { FrameLink } from './link/packet-link.js'

/** Multicast groups an announced IP needs joined for its requests to get past the NIC. */
export interface GroupHooks<L extends FrameLink> {
  /** The group's Ethernet address for `ip` (several IPs may share one). */
  groupOf(ip: string): Buffer
  join(link: L, group: Buffer): void
  leave(link: L, group: Buffer): void
}

export class MulticastGroups<L extends FrameLink> {
  readonly #hooks: GroupHooks<L>
  readonly #log: Logger
  /** Groups joined on the current link (key: MAC hex): how many announced IPs share each, and whether the join worked. */
  readonly #groups = new Map<string, { group: Buffer; count: number; joined: boolean }>()
  #errors = 0

  constructor(hooks: GroupHooks<L>, log: Logger) {
    this.#hooks = hooks
    this.#log = log
  }

  /** Failed joins or leaves (logged, never thrown). */
  get errors(): number {
    return this.#errors
  }

  /** `ip` needs its group on `link`: joined unless another IP already shares it. */
  join(link: L, ip: string): void {
    const group = this.#hooks.groupOf(ip)
    const key = group.toString('hex')
    const g = this.#groups.get(key)
    if (g !== undefined) {
      g.count++
      return
    }
    let joined = true
    try {
      this.#hooks.join(link, group)
    } catch (err) {
      // Counted anyway, so that the address still shares the group; a NIC without the filter entry may
      // still let the request in (promiscuous, or another listener joined it).
      joined = false
      this.#errors++
      this.#log.warn({ err, ip, group: formatMac(group) }, 'joining the multicast group failed')
    }
    this.#groups.set(key, { group, count: 1, joined })
  }

  /** `ip` no longer needs its group: left on `link` when no other IP shares it. */
  leave(link: L, ip: string): void {
    const key = this.#hooks.groupOf(ip).toString('hex')
    const g = this.#groups.get(key)
    if (g === undefined) return
    if (--g.count > 0) return
    this.#groups.delete(key)
    if (!g.joined) return
    try {
      this.#hooks.leave(link, g.group)
    } catch (err) {
      this.#errors++
      this.#log.warn({ err, ip, group: formatMac(g.group) }, 'leaving the multicast group failed')
    }
  }

  /** Forgets every group without leaving it: the link that had them joined is closed (which leaves them all). */
  clear(): void {
    this.#groups.clear()
  }

  /** Groups joined, '33:33:ff:..', sorted, with how many announced addresses share each. */
  counts(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const key of [...this.#groups.keys()].sort()) {
      const g = this.#groups.get(key)
      if (g !== undefined) out[formatMac(g.group)] = g.count
    }
    return out
  }
}
