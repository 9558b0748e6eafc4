// What this node announces, and where: a pure function of what the speaker has observed (Services, their
// EndpointSlices, Nodes, the live set from core/membership.ts, the pool index from core/advertisement.ts).
// For every Service l2lb serves, the election (core/election.ts) picks a node per IP among the live nodes an
// advertisement lets announce it; this node keeps the IPs it wins, each on the interfaces the advertisement
// names (all of them when it names none). speaker.ts only gathers the inputs and hands the plan to the
// responders.
import type { EndpointSliceView, NodeView, ServiceView } from '../../internal/core/views.js'
import type { CanonicalIP } from '../../internal/core/ip.js'
import { isOurs } from '../../internal/core/load-balancer-class.js'
import { advertisementOf, interfacesFor, nodeMayAnnounce, type IPAdvertisement, type PoolIndex } from './advertisement.js'
import { electService, shouldAnnounce } from './election.js'
import { needsProbe } from './claims.js'

export interface PlanInput {
  readonly me: string
  readonly services: Iterable<ServiceView>
  readonly slices: Iterable<EndpointSliceView>
  readonly nodes: Iterable<NodeView>
  readonly live: ReadonlySet<string>
  /** The pool config in force; null before the first valid one (nothing is announced then). */
  readonly pools: PoolIndex | null
  /** spec.loadBalancerClass served; null: Services without a class. */
  readonly loadBalancerClass: string | null
  /** The interfaces this speaker answers on. */
  readonly interfaces: readonly string[]
}

export interface AnnouncementPlan {
  /** Service key -> the IPs this node announces for it (only Services it wins something of). */
  readonly mine: ReadonlyMap<string, ReadonlySet<CanonicalIP>>
  /** Interface -> the IPs to answer for on it. */
  readonly perInterface: ReadonlyMap<string, ReadonlySet<CanonicalIP>>
  /** IPs no node of this cluster announced before (core/claims.ts): probed before they are claimed. */
  readonly fresh: ReadonlySet<CanonicalIP>
}

export function planAnnouncements(input: PlanInput): AnnouncementPlan {
  const { me, pools } = input
  const nodes = new Map<string, NodeView>()
  for (const n of input.nodes) nodes.set(n.name, n)
  const adverts = new Map<CanonicalIP, IPAdvertisement | null>()
  const advertOf = (ip: CanonicalIP): IPAdvertisement | null => {
    if (pools === null) return null
    let a = adverts.get(ip)
    if (a === undefined) { a = advertisementOf(ip, pools); adverts.set(ip, a) }
    return a
  }
  const mayAnnounce = (ip: CanonicalIP, node: string): boolean => {
    const a = advertOf(ip)
    const n = nodes.get(node)
    return a !== null && n !== undefined && nodeMayAnnounce(a, n.labels)
  }
  const slicesByService = new Map<string, EndpointSliceView[]>()
  for (const s of input.slices) {
    if (!s.serviceName) continue
    const k = `${s.namespace}/${s.serviceName}`
    const list = slicesByService.get(k)
    if (list) list.push(s)
    else slicesByService.set(k, [s])
  }
  const mine = new Map<string, Set<CanonicalIP>>()
  const fresh = new Set<CanonicalIP>()
  for (const svc of input.services) {
    if (!isOurs(svc, input.loadBalancerClass)) continue
    const a = electService(svc, slicesByService.get(svc.key) ?? [], input.live, mayAnnounce)
    const won = new Set<CanonicalIP>()
    for (const ip of a.winners.keys()) if (shouldAnnounce(me, ip, a)) won.add(ip)
    if (won.size > 0) mine.set(svc.key, won)
    for (const ip of won) if (needsProbe(ip, svc.annotations)) fresh.add(ip)
  }
  const myLabels = nodes.get(me)?.labels ?? {}
  const perInterface = new Map(input.interfaces.map(name => [name, new Set<CanonicalIP>()]))
  for (const ips of mine.values()) {
    for (const ip of ips) {
      const adv = advertOf(ip)
      const only = adv ? interfacesFor(adv, myLabels) : null
      for (const [name, set] of perInterface) if (only === null || only.has(name)) set.add(ip)
    }
  }
  return { mine, perInterface, fresh }
}
