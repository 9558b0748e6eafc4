// The lab plays two cluster roles that l2lb relies on but does not provide:
//  - the endpoints controller: for every Service whose selector matches a lab pod, an EndpointSlice per IP
//    family of the Service (label kubernetes.io/service-name, addressType IPv4 / IPv6) listing those pods as
//    ready endpoints;
//  - kube-proxy (iptables-mode semantics, written in nftables), only where the nodes do not run the real one:
//    on every node a table `inet l2lb-kube-proxy` that DNATs each LoadBalancer ingress IP:port (IPv4 and IPv6)
//    in prerouting to the Service's endpoints of that family, and masquerades DNATed traffic that leaves through
//    the LAN to another node's pod (externalTrafficPolicy Cluster).
// The decisions (which slices, which rules) are pure functions below; `KubeRoles` only watches and writes.
import {
  CoreV1Api, DiscoveryV1Api,
  type KubeConfig, type V1Service, type V1EndpointSlice, type V1ServicePort,
} from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { Informer, objectKey } from '../../internal/kube/informer.js'
import { classifyApiError } from '../../internal/kube/kube-client.js'
import { run, inNetns } from './run.js'
import type { LabPod } from './pods.js'
import { POD_NAMESPACE } from './pods.js'
import type { LabNode } from './names.js'

export const SERVICE_NAME_LABEL = 'kubernetes.io/service-name'
export const MANAGED_BY_LABEL = 'endpointslice.kubernetes.io/managed-by'
export const MANAGED_BY = 'l2lb-lab'
export const NFT_TABLE = 'l2lb-kube-proxy'
/** The stand-in kube-proxy's table family. */
export const STAND_IN_PROXY_FAMILY = 'inet'

export function selectorMatches(selector: Readonly<Record<string, string>> | undefined, labels: Readonly<Record<string, string>>): boolean {
  // A Service without a selector has hand-managed endpoints; an empty selector selects nothing here either.
  if (selector === undefined) return false
  const entries = Object.entries(selector)
  return entries.length > 0 && entries.every(([k, v]) => labels[k] === v)
}

function targetPortOf(port: V1ServicePort, pod: LabPod): number {
  const t = port.targetPort
  if (typeof t === 'number') return t
  // Named target ports resolve against the container's ports; lab pods expose one port, named http.
  if (typeof t === 'string' && t !== '') return /^\d+$/.test(t) ? Number(t) : pod.port
  return port.port
}

export type IPFamily = 'IPv4' | 'IPv6'

/**
 * A Service's IP families, as the EndpointSlice controller reads them: `spec.ipFamilies` (every server sets it),
 * else the families of its ClusterIPs, else IPv4.
 */
export function serviceFamilies(svc: V1Service): IPFamily[] {
  const named = (svc.spec?.ipFamilies ?? []).filter((f): f is IPFamily => f === 'IPv4' || f === 'IPv6')
  if (named.length > 0) return named
  const fromIPs = (svc.spec?.clusterIPs ?? []).filter(ip => ip !== 'None' && ip !== '').map((ip): IPFamily => ip.includes(':') ? 'IPv6' : 'IPv4')
  return fromIPs.length > 0 ? [...new Set(fromIPs)] : ['IPv4']
}

/**
 * The slices the endpoints controller keeps for a Service: one per IP family of the Service (`NAME-lab` for
 * IPv4, `NAME-lab-v6` for IPv6, addressType accordingly), none when the Service selects no lab pod.
 */
export function desiredEndpointSlices(svc: V1Service, pods: readonly LabPod[]): V1EndpointSlice[] {
  const name = svc.metadata?.name
  const namespace = svc.metadata?.namespace ?? 'default'
  if (name === undefined || namespace !== POD_NAMESPACE) return []
  const selected = pods.filter(p => selectorMatches(svc.spec?.selector, p.labels))
  const first = selected[0]
  if (first === undefined) return []
  const ports = (svc.spec?.ports ?? []).map(p => ({ name: p.name ?? '', protocol: p.protocol ?? 'TCP', port: targetPortOf(p, first) }))
  return serviceFamilies(svc).map(family => ({
    apiVersion: 'discovery.k8s.io/v1',
    kind: 'EndpointSlice',
    metadata: {
      name: family === 'IPv4' ? `${name}-lab` : `${name}-lab-v6`,
      namespace,
      labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY },
    },
    addressType: family,
    endpoints: selected.map(p => ({
      addresses: [family === 'IPv4' ? p.ip : p.ipv6],
      nodeName: p.node.name,
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: 'Pod', namespace, name: p.name },
    })),
    ports,
  }))
}

/** The IPv4 slice alone (the first of desiredEndpointSlices for an IPv4 Service), or null. */
export function desiredEndpointSlice(svc: V1Service, pods: readonly LabPod[]): V1EndpointSlice | null {
  return desiredEndpointSlices(svc, pods).find(s => s.addressType === 'IPv4') ?? null
}

/** True when two slices say the same thing (what the controller writes; server-set fields are ignored). */
export function sameSlice(a: V1EndpointSlice, b: V1EndpointSlice): boolean {
  const essence = (s: V1EndpointSlice): string => JSON.stringify({
    // Sorted: servers may return map keys in another order than we sent them.
    labels: Object.entries(s.metadata?.labels ?? {}).sort(([a], [b]) => a.localeCompare(b)),
    addressType: s.addressType,
    endpoints: (s.endpoints ?? []).map(e => ({ a: e.addresses, n: e.nodeName ?? null, r: e.conditions?.ready ?? null })),
    ports: (s.ports ?? []).map(p => ({ n: p.name ?? '', p: p.port ?? null, t: p.protocol ?? 'TCP' })),
  })
  return essence(a) === essence(b)
}

interface Dnat {
  readonly family: IPFamily
  readonly ip: string
  readonly protocol: string
  readonly port: number
  readonly targets: readonly { readonly ip: string; readonly port: number }[]
}

/**
 * The DNAT rules kube-proxy would program for these Services and slices: each ingress IP to the ready
 * endpoints of the slices of its own family (an IPv6 ingress IP to the IPv6 slices).
 */
export function dnatRules(services: readonly V1Service[], slices: readonly V1EndpointSlice[]): Dnat[] {
  const rules: Dnat[] = []
  const sorted = [...services].sort((a, b) => objectKey(a).localeCompare(objectKey(b)))
  for (const svc of sorted) {
    if (svc.spec?.type !== 'LoadBalancer') continue
    const ns = svc.metadata?.namespace ?? 'default'
    const name = svc.metadata?.name
    const ingressIPs = (svc.status?.loadBalancer?.ingress ?? []).map(i => i.ip).filter((ip): ip is string => typeof ip === 'string' && ip !== '')
    for (const family of ['IPv4', 'IPv6'] as const) {
      const ips = ingressIPs.filter(ip => ip.includes(':') === (family === 'IPv6'))
      const mine = slices.filter(s => (s.metadata?.namespace ?? 'default') === ns && s.metadata?.labels?.[SERVICE_NAME_LABEL] === name && s.addressType === family)
      rules.push(...familyRules(family, ips, svc.spec.ports ?? [], mine))
    }
  }
  return rules
}

function familyRules(family: IPFamily, ips: readonly string[], ports: readonly V1ServicePort[], mine: readonly V1EndpointSlice[]): Dnat[] {
  const rules: Dnat[] = []
  if (ips.length === 0) return rules
  for (const port of ports) {
    const protocol = (port.protocol ?? 'TCP').toLowerCase()
    const targets: { ip: string; port: number }[] = []
    for (const slice of mine) {
      const sp = (slice.ports ?? []).find(p => (p.name ?? '') === (port.name ?? '') && (p.protocol ?? 'TCP').toLowerCase() === protocol)
      if (sp?.port === undefined) continue
      for (const ep of slice.endpoints ?? []) {
        // Kubernetes: a missing ready condition means ready.
        if (ep.conditions?.ready === false) continue
        for (const a of ep.addresses) targets.push({ ip: a, port: sp.port })
      }
    }
    if (targets.length === 0) continue
    for (const ip of ips) rules.push({ family, ip, protocol, port: port.port, targets })
  }
  return rules
}

/**
 * The whole nftables script for one node, replacing the table atomically: `table` (creates it if absent),
 * `delete table`, then the new table, all in one transaction. One `inet` table serves both families: IPv4
 * rules match `ip daddr` and `dnat ip to A:P`, IPv6 ones `ip6 daddr` and `dnat ip6 to [A]:P`.
 */
export function renderNft(rules: readonly Dnat[], lanInterface = 'eth0'): string {
  const t = `${STAND_IN_PROXY_FAMILY} ${NFT_TABLE}`
  const lines: string[] = [
    `table ${t}`,
    `delete table ${t}`,
    `table ${t} {`,
  ]
  const chains: string[] = []
  const pre: string[] = []
  rules.forEach((r, i) => {
    const v6 = r.family === 'IPv6'
    const match = `${v6 ? 'ip6' : 'ip'} daddr ${r.ip} ${r.protocol} dport ${r.port}`
    const to = (target: { ip: string; port: number }): string => v6 ? `dnat ip6 to [${target.ip}]:${target.port}` : `dnat ip to ${target.ip}:${target.port}`
    const only = r.targets[0]
    if (r.targets.length === 1 && only !== undefined) {
      pre.push(`    ${match} ${to(only)}`)
      return
    }
    // Several endpoints: pick one at random per new connection, as kube-proxy does.
    const vmap = r.targets.map((_, j) => `${j} : goto svc${i}-ep${j}`).join(', ')
    pre.push(`    ${match} numgen random mod ${r.targets.length} vmap { ${vmap} }`)
    r.targets.forEach((target, j) => chains.push(`  chain svc${i}-ep${j} {`, `    meta l4proto ${r.protocol} ${to(target)}`, `  }`))
  })
  lines.push(
    `  chain prerouting {`,
    `    type nat hook prerouting priority dstnat; policy accept;`,
    ...pre,
    `  }`,
    ...chains,
    `  chain postrouting {`,
    `    type nat hook postrouting priority srcnat; policy accept;`,
    // DNATed to a pod on another node: masquerade so the reply comes back through this node to be un-DNATed.
    `    ct status dnat oifname "${lanInterface}" masquerade`,
    `  }`,
    `}`,
    ``,
  )
  return lines.join('\n')
}

export interface KubeRolesOptions {
  readonly kubeConfig: KubeConfig
  readonly nodes: readonly LabNode[]
  readonly pods: readonly LabPod[]
  readonly log: Logger
  /** Play kube-proxy too (default true); false when the nodes run the real one. */
  readonly proxy?: boolean
}

/** Watches Services and EndpointSlices; keeps the lab's slices and every node's nftables table in step. */
export class KubeRoles {
  readonly #opts: KubeRolesOptions
  #services: Informer<V1Service, V1Service> | null = null
  #slices: Informer<V1EndpointSlice, V1EndpointSlice> | null = null
  #discovery: DiscoveryV1Api | null = null
  #applied = new Map<string, string>()
  #dirty = false
  #running: Promise<void> | null = null
  #timer: NodeJS.Timeout | null = null
  #failures = 0
  #stopped = false

  constructor(opts: KubeRolesOptions) {
    this.#opts = opts
  }

  async start(): Promise<void> {
    const kc = this.#opts.kubeConfig
    const core = kc.makeApiClient(CoreV1Api)
    const discovery = kc.makeApiClient(DiscoveryV1Api)
    this.#discovery = discovery
    const onChange = (): void => this.#schedule(20)
    this.#services = new Informer<V1Service, V1Service>({
      kubeConfig: kc, path: '/api/v1/services', list: () => core.listServiceForAllNamespaces(),
      toView: s => s, log: this.#opts.log, onChange,
    })
    this.#slices = new Informer<V1EndpointSlice, V1EndpointSlice>({
      kubeConfig: kc, path: '/apis/discovery.k8s.io/v1/endpointslices', list: () => discovery.listEndpointSliceForAllNamespaces(),
      toView: s => s, log: this.#opts.log, onChange,
    })
    await Promise.all([this.#services.start(), this.#slices.start()])
    this.#schedule(0)
  }

  async stop(): Promise<void> {
    this.#stopped = true
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = null
    await Promise.all([this.#services?.close(), this.#slices?.close()])
    await this.#running
  }

  #schedule(delayMs: number): void {
    if (this.#stopped) return
    this.#dirty = true
    if (this.#timer || this.#running) return
    this.#timer = setTimeout(() => {
      this.#timer = null
      this.#running = this.#loop().finally(() => { this.#running = null })
    }, delayMs)
  }

  async #loop(): Promise<void> {
    // One pass at a time; changes that arrive during a pass make it run again.
    while (this.#dirty && !this.#stopped) {
      this.#dirty = false
      try {
        await this.#syncSlices()
        if (this.#opts.proxy ?? true) await this.#syncNodes()
        this.#failures = 0
      } catch (err) {
        this.#failures++
        const retryInMs = Math.min(100 * 2 ** this.#failures, 5000)
        this.#opts.log.warn({ err: err instanceof Error ? err.message : String(err), retryInMs }, 'sync failed; retrying')
        if (this.#stopped) return
        await new Promise(resolve => setTimeout(resolve, retryInMs))
        this.#dirty = true
      }
    }
  }

  async #syncSlices(): Promise<void> {
    const services = this.#services?.list() ?? []
    const slices = this.#slices?.list() ?? []
    const api = this.#discovery
    if (api === null) return
    const wanted = new Map<string, V1EndpointSlice>()
    for (const svc of services) {
      for (const slice of desiredEndpointSlices(svc, this.#opts.pods)) wanted.set(objectKey(slice), slice)
    }
    for (const [key, slice] of wanted) {
      const existing = this.#slices?.get(key) ?? null
      const namespace = slice.metadata?.namespace ?? 'default'
      const name = slice.metadata?.name ?? ''
      if (existing === null) {
        await api.createNamespacedEndpointSlice({ namespace, body: slice }).catch(err => {
          if (classifyApiError(err).outcome !== 'conflict') throw err
        })
        this.#opts.log.info({ slice: key }, 'endpointslice created')
      } else if (!sameSlice(existing, slice)) {
        const body = { ...slice, metadata: { ...slice.metadata, resourceVersion: existing.metadata?.resourceVersion } }
        await api.replaceNamespacedEndpointSlice({ name, namespace, body })
        this.#opts.log.info({ slice: key }, 'endpointslice updated')
      }
    }
    for (const slice of slices) {
      const key = objectKey(slice)
      if (slice.metadata?.labels?.[MANAGED_BY_LABEL] !== MANAGED_BY || wanted.has(key)) continue
      await api.deleteNamespacedEndpointSlice({ name: slice.metadata.name ?? '', namespace: slice.metadata.namespace ?? 'default' }).catch(err => {
        if (classifyApiError(err).outcome !== 'notFound') throw err
      })
      this.#opts.log.info({ slice: key }, 'endpointslice deleted')
    }
  }

  async #syncNodes(): Promise<void> {
    const rules = dnatRules(this.#services?.list() ?? [], this.#slices?.list() ?? [])
    const script = renderNft(rules)
    for (const node of this.#opts.nodes) {
      if (this.#applied.get(node.name) === script) continue
      await run(inNetns(node.netns, ['nft', '-f', '-']), { input: script, timeoutMs: 5000 })
      this.#applied.set(node.name, script)
      this.#opts.log.info({ node: node.name, rules: rules.map(r => `${r.ip}:${r.port}/${r.protocol} -> ${r.targets.map(t => `${t.ip}:${t.port}`).join(',')}`) }, 'nftables updated')
    }
  }
}
