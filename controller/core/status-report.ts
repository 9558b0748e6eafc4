// `l2lb status` (kubectl l2lb): one screen that says which pool gave which Service which IP, which node
// announces it, whether every speaker is alive, and what is wrong — users' recurring question is "which node
// answers for my IP?" (docs/reference.md, "Users' recurring complaints"). Pure: built from views the CLI
// listed, with the real allocator replaying the controller's restore, so the usage and the conflicts shown are
// the ones the controller sees.
import { Allocator } from './allocator.js'
import { ALLOCATED_FROM_POOL, addressesInUse } from '../../internal/core/annotations.js'
import { formatConfigError, parsePoolConfig, type PoolConfig } from '../../internal/core/pool-config.js'
import { restore } from './reconcile.js'
import { isOurs } from '../../internal/core/load-balancer-class.js'
import { formatIP } from '../../internal/core/ip.js'
import type { LeaseView, NodeView, ServiceView } from '../../internal/core/views.js'

export interface StatusInput {
  /** The ConfigMap's `config` text; null when the ConfigMap or the key is missing. */
  readonly configText: string | null
  readonly services: readonly ServiceView[]
  readonly nodes: readonly NodeView[]
  /** The speakers' per-node Leases. */
  readonly leases: readonly LeaseView[]
  /** Per Service key, the newest `nodeAssigned` Event: "announcing from node X". */
  readonly announcements: ReadonlyMap<string, { readonly node: string; readonly at: string }>
  readonly loadBalancerClass: string | null
  /** Wall clock (ms since the epoch): only to show how long ago a Lease was renewed. */
  readonly nowMs: number
}

export interface PoolRow {
  readonly name: string
  readonly addresses: readonly string[]
  readonly autoAssign: boolean
  readonly inUse: bigint
  readonly capacity: bigint
}

export interface ServiceRow {
  readonly service: string
  readonly ips: readonly string[]
  readonly pool: string | null
  /** From the newest nodeAssigned Event; null when no speaker has announced it. */
  readonly announcedBy: string | null
}

export interface SpeakerRow {
  readonly node: string
  readonly ready: boolean
  /** 'renewed 0.4 s ago', 'expired 12 s ago', 'no Lease' */
  readonly lease: string
  readonly alive: boolean
}

export interface StatusReport {
  readonly pools: readonly PoolRow[]
  readonly services: readonly ServiceRow[]
  readonly speakers: readonly SpeakerRow[]
  /** Each a sentence that says what is wrong and where. */
  readonly problems: readonly string[]
}

export function buildStatus(input: StatusInput): StatusReport {
  const problems: string[] = []
  let config: PoolConfig | null = null
  if (input.configText === null) problems.push('the pool ConfigMap (or its key "config") is missing: no pools, nothing is allocated')
  else {
    const parsed = parsePoolConfig(input.configText)
    if (parsed.ok) config = parsed.config
    else for (const e of parsed.errors) problems.push(`pool config: ${formatConfigError(e)}`)
  }
  const ours = input.services.filter(s => isOurs(s, input.loadBalancerClass))
  const pools: PoolRow[] = []
  if (config !== null) {
    const allocator = new Allocator()
    allocator.setConfig(config)
    const outcome = restore(allocator, ours, input.loadBalancerClass)
    if (outcome.restored) for (const c of outcome.cleared) problems.push(`${c.key}: ${c.message}`)
    const usage = new Map(allocator.usage().map(u => [u.pool, u]))
    for (const p of config.pools) {
      const u = usage.get(p.name)
      pools.push({
        name: p.name,
        addresses: p.ranges.map(r => (r.start === r.end ? formatIP({ family: r.family, value: r.start }) : `${formatIP({ family: r.family, value: r.start })}-${formatIP({ family: r.family, value: r.end })}`)),
        autoAssign: p.autoAssign,
        inUse: u?.inUse ?? 0n,
        capacity: u?.capacity ?? 0n,
      })
    }
  }
  const services: ServiceRow[] = ours
    .map(s => ({
      service: s.key,
      ips: s.ingressIPs,
      pool: s.annotations[ALLOCATED_FROM_POOL] ?? null,
      announcedBy: s.ingressIPs.length > 0 ? (input.announcements.get(s.key)?.node ?? null) : null,
    }))
    .sort((a, b) => (a.service < b.service ? -1 : a.service > b.service ? 1 : 0))
  const inUse = new Map(ours.map(s => [s.key, addressesInUse(s.annotations)]))
  for (const s of services) {
    // A speaker's probe found the IP held by another host (speaker/core/claims.ts, internal/core/annotations.ts) and refused it.
    for (const [ip, mac] of inUse.get(s.service) ?? []) {
      if (s.ips.includes(ip)) problems.push(`${s.service}: ${ip} is held by another host on the LAN (MAC ${mac}), so no node announces it (kubectl describe svc: Event AddressInUse). Free the address on that host or take it out of the pool`)
    }
    if (s.ips.length === 0) problems.push(`${s.service}: no EXTERNAL-IP yet (kubectl describe svc shows why: Event AllocationFailed)`)
    else if (s.announcedBy === null) problems.push(`${s.service}: ${s.ips.join(', ')} is not announced by any node (no ready endpoint, no live speaker, or its pool has no l2-advertisement for any node)`)
  }
  const leaseOf = new Map<string, LeaseView>()
  for (const l of input.leases) {
    const node = l.holderIdentity ?? l.labels['l2lb.dev/node'] ?? null
    if (node !== null) leaseOf.set(node, l)
  }
  const speakers: SpeakerRow[] = [...input.nodes]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map(n => {
      const l = leaseOf.get(n.name)
      const renewed = l === undefined ? NaN : Date.parse(l.renewTime)
      if (l === undefined || Number.isNaN(renewed) || l.leaseDurationSeconds === null) {
        return { node: n.name, ready: n.ready, lease: 'no Lease: no speaker runs here', alive: false }
      }
      const ageS = Math.max(0, (input.nowMs - renewed) / 1000)
      const expired = ageS > l.leaseDurationSeconds
      const lease = expired ? `expired: renewed ${ageS.toFixed(1)} s ago (lasts ${l.leaseDurationSeconds} s)` : `renewed ${ageS.toFixed(1)} s ago`
      return { node: n.name, ready: n.ready, lease, alive: !expired && n.ready && !n.excludedFromLoadBalancers }
    })
  if (speakers.length > 0 && !speakers.some(s => s.alive)) problems.push('no node has a live speaker: nothing is announced')
  return { pools, services, speakers, problems }
}

/** Columns padded to their widest cell. */
function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (r: readonly string[]): string => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd()
  return [line(head), ...rows.map(line)].join('\n')
}

export function formatStatus(r: StatusReport): string {
  const out: string[] = []
  out.push(table(['POOL', 'AUTO-ASSIGN', 'IN USE', 'ADDRESSES'], r.pools.map(p => [
    p.name, p.autoAssign ? 'yes' : 'no', `${p.inUse}/${p.capacity}`, p.addresses.join(', '),
  ])))
  out.push('')
  out.push(table(['SERVICE', 'EXTERNAL-IP', 'POOL', 'ANNOUNCED BY'], r.services.map(s => [
    s.service, s.ips.join(',') || '<pending>', s.pool ?? '-', s.announcedBy ?? '-',
  ])))
  out.push('')
  out.push(table(['NODE', 'READY', 'SPEAKER'], r.speakers.map(s => [s.node, s.ready ? 'yes' : 'no', s.lease])))
  if (r.problems.length > 0) {
    out.push('')
    out.push('PROBLEMS')
    for (const p of r.problems) out.push(`- ${p}`)
  }
  return `${out.join('\n')}\n`
}
