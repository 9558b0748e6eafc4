// The used-by walk, shared by `npm run lab` and the e2e test: a Service has been applied; wait for its
// EXTERNAL-IP (or its IPv4 / IPv6 one), find which node announces it (Event nodeAssigned), resolve it from the
// client (arping for IPv4, ndisc6 for IPv6), fetch the ingress paths with curl, and read the announcing node's
// kube-proxy rule for it. Returns what it saw; the callers decide what counts as success.
import { Address4, Address6 } from 'ip-address'
import { waitFor } from './run.js'
import { waitForExternalIP, waitForIngressIP, type Lab, type ArpingResult, type HttpAnswer } from './lab.js'

export interface ServiceWalk {
  readonly service: string
  readonly ip: string
  /**
   * The node a nodeAssigned Event ("announcing from node X") names and whose speaker announces this IP (its
   * `l2lb_speaker_announced{ip}` metric; the Event does not name the IP, and a dual-stack Service's two
   * addresses may be on two nodes).
   */
  readonly announcingNode: string
  /** Every node whose speaker metric says it announces the IP: exactly one when all is well. */
  readonly announcedBy: readonly string[]
  /** Who answered from the client: arping for an IPv4 address, ndisc6 (NDP) for an IPv6 one. */
  readonly arping: ArpingResult
  /** The node whose eth0 has the MAC arping saw (when exactly one MAC answered). */
  readonly macOwner: string | null
  readonly answers: readonly { readonly path: string; readonly answer: HttpAnswer }[]
  /** The announcing node's rule for the IP (Lab.proxyRule): which kube-proxy took the traffic on; null: none. */
  readonly proxyRule: string | null
}

export interface WalkOptions {
  readonly service: string
  readonly namespace?: string
  /** Walk the Service's address of this family (default: its first EXTERNAL-IP). */
  readonly family?: 'IPv4' | 'IPv6'
  readonly paths?: readonly string[]
  readonly say?: (line: string) => void
  /** Called once the EXTERNAL-IP is there (the lab prints `kubectl get svc` at that point). */
  readonly onExternalIP?: (ip: string) => Promise<void>
}

export const INGRESS_PATHS = ['/api/v1/', '/api/v2/'] as const

export async function walkService(lab: Lab, opts: WalkOptions): Promise<ServiceWalk> {
  const say = opts.say ?? (() => {})
  const ns = opts.namespace ?? 'default'
  const ip = opts.family === undefined
    ? await waitForExternalIP(lab, opts.service, 30_000, ns)
    : await waitForIngressIP(lab, opts.service, opts.family, 30_000, ns)
  const v6 = ip.includes(':')
  const tool = v6 ? 'ndisc6' : 'arping'
  say(`${opts.service}: EXTERNAL-IP ${ip}`)
  await opts.onExternalIP?.(ip)

  const { announcingNode, announcedBy } = await waitFor(`a node announcing ${ip} and a nodeAssigned Event for ${opts.service} naming it`,
    async () => {
      lab.checkAlive()
      const announcedBy = await lab.speakersAnnouncing(ip)
      const named = await lab.announcingNodes(opts.service, ns)
      const node = announcedBy.find(n => named.includes(n))
      return node === undefined ? undefined : { announcingNode: node, announcedBy }
    }, { timeoutMs: 20_000, intervalMs: 300 })
  say(`${opts.service}: nodeAssigned says ${announcingNode}; speakers announcing ${ip}: ${announcedBy.join(', ')}`)

  // The first answer can lag the Event by a moment (the Event is written as the announcement starts).
  await waitFor(`an ${v6 ? 'NDP' : 'ARP'} answer for ${ip}`, async () => {
    lab.checkAlive()
    return (await lab.resolve(ip, { count: 1 })).replies > 0 ? true : undefined
  },
    { timeoutMs: 15_000, intervalMs: 100 })
  const arping = await lab.resolve(ip, { count: 3 })
  const only = arping.macs.length === 1 ? arping.macs[0] : undefined
  const macOwner = only === undefined ? null : (await lab.nodeWithMac(only))?.name ?? null
  say(`${opts.service}: ${tool} ${ip} from l2lb-client: ${arping.replies} replies from ${arping.macs.join(', ') || 'nobody'}` +
    (macOwner === null ? '' : ` (eth0 of ${macOwner})`))

  const answers: { path: string; answer: HttpAnswer }[] = []
  for (const p of opts.paths ?? INGRESS_PATHS) {
    // kube-proxy's rules follow the Service by a moment too: retry briefly before calling it a failure.
    const url = v6 ? `http://[${ip}]${p}` : `http://${ip}${p}`
    const answer = await waitFor(`HTTP 200 from ${url}`, async () => {
      const a = await lab.curl(ip, p)
      return a.status === 200 ? a : undefined
    }, { timeoutMs: 10_000, intervalMs: 250 })
    say(`${opts.service}: curl -H 'Host: k8s.com' ${url} -> ${answer.status} ${JSON.stringify(answer.body.trim())}`)
    answers.push({ path: p, answer })
  }
  const proxyRule = await lab.proxyRule(macOwner ?? announcingNode, ip)
  say(`${opts.service}: on ${macOwner ?? announcingNode}: ${proxyRule ?? `no kube-proxy rule for ${ip}`}`)
  return { service: opts.service, ip, announcingNode, announcedBy, arping, macOwner, answers, proxyRule }
}

/**
 * After the Service is deleted: the time from `since` until an ARP probe went unanswered. A probe counts as
 * unanswered when no reply came within its 1 s window; the time returned is when that probe was sent.
 */
export async function msUntilArpUnanswered(lab: Lab, ip: string, since: number, timeoutMs = 10_000): Promise<number> {
  return waitFor(`ARP for ${ip} to go unanswered`, async () => {
    const sentAt = Date.now()
    const res = await lab.arping(ip, { count: 1, deadlineS: 1 })
    return res.replies === 0 ? sentAt - since : undefined
  }, { timeoutMs, intervalMs: 0 })
}

/** Whether `ip` lies in a pool entry: `a.b.c.d-e.f.g.h` (IPv4 range) or a CIDR. */
export function ipInPoolEntry(ip: string, entry: string): boolean {
  const range = /^\s*(\S+)\s*-\s*(\S+)\s*$/.exec(entry)
  if (range?.[1] !== undefined && range[2] !== undefined) {
    if (!Address4.isValid(ip) || !Address4.isValid(range[1]) || !Address4.isValid(range[2])) return false
    const n = new Address4(ip).bigInt()
    return new Address4(range[1]).bigInt() <= n && n <= new Address4(range[2]).bigInt()
  }
  if (Address4.isValid(ip) && Address4.isValid(entry)) return new Address4(ip).isInSubnet(new Address4(entry))
  if (Address6.isValid(ip) && Address6.isValid(entry)) return new Address6(ip).isInSubnet(new Address6(entry))
  return false
}

/** A LoadBalancer Service in front of the lab's ingress pod, port 80 (for tests that need several IPs). */
export function loadBalancerServiceYaml(name: string, namespace = 'default'): string {
  return [
    'apiVersion: v1', 'kind: Service', `metadata: {name: ${name}, namespace: ${namespace}}`,
    'spec: {type: LoadBalancer, selector: {app: ingress}, ports: [{name: http, protocol: TCP, port: 80, targetPort: 80}]}', '',
  ].join('\n')
}

/** The lab node whose MAC alone answers ARP for ip, once exactly one does (within 30 s). */
export async function soleAnswerer(lab: Lab, ip: string): Promise<string> {
  return waitFor(`exactly one node answering ARP for ${ip}`, async () => {
    lab.checkAlive()
    const r = await lab.arping(ip, { count: 1, deadlineS: 1 })
    const mac = r.macs.length === 1 ? r.macs[0] : undefined
    return mac === undefined ? undefined : (await lab.nodeWithMac(mac))?.name
  }, { timeoutMs: 30_000, intervalMs: 200 })
}
