// The used-by walk, shared by `npm run lab` and the e2e test: a Service has been applied; wait for its
// EXTERNAL-IP, find which node announces it (Event nodeAssigned), resolve it from the client with arping,
// and fetch the ingress paths with curl. Returns what it saw; the callers decide what counts as success.
import { Address4, Address6 } from 'ip-address'
import { waitFor } from './run.js'
import { waitForExternalIP, type Lab, type ArpingResult, type HttpAnswer } from './lab.js'

export interface ServiceWalk {
  readonly service: string
  readonly ip: string
  /** From the newest nodeAssigned Event ("announcing from node X"). */
  readonly announcingNode: string
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
  readonly paths?: readonly string[]
  readonly say?: (line: string) => void
  /** Called once the EXTERNAL-IP is there (the lab prints `kubectl get svc` at that point). */
  readonly onExternalIP?: (ip: string) => Promise<void>
}

export const INGRESS_PATHS = ['/api/v1/', '/api/v2/'] as const

export async function walkService(lab: Lab, opts: WalkOptions): Promise<ServiceWalk> {
  const say = opts.say ?? (() => {})
  const ns = opts.namespace ?? 'default'
  const ip = await waitForExternalIP(lab, opts.service, 30_000, ns)
  say(`${opts.service}: EXTERNAL-IP ${ip}`)
  await opts.onExternalIP?.(ip)

  const announcingNode = await waitFor(`a nodeAssigned Event for ${opts.service}`,
    async () => {
      lab.checkAlive()
      return (await lab.announcingNode(opts.service, ns)) ?? undefined
    }, { timeoutMs: 20_000, intervalMs: 300 })
  say(`${opts.service}: nodeAssigned says ${announcingNode}`)

  // The first answer can lag the Event by a moment (the Event is written as the announcement starts).
  await waitFor(`an ARP answer for ${ip}`, async () => {
    lab.checkAlive()
    return (await lab.arping(ip, { count: 1, deadlineS: 1 })).replies > 0 ? true : undefined
  },
    { timeoutMs: 15_000, intervalMs: 100 })
  const arping = await lab.arping(ip, { count: 3, deadlineS: 3 })
  const only = arping.macs.length === 1 ? arping.macs[0] : undefined
  const macOwner = only === undefined ? null : (await lab.nodeWithMac(only))?.name ?? null
  say(`${opts.service}: arping ${ip} from l2lb-client: ${arping.replies} replies from ${arping.macs.join(', ') || 'nobody'}` +
    (macOwner === null ? '' : ` (eth0 of ${macOwner})`))

  const answers: { path: string; answer: HttpAnswer }[] = []
  for (const p of opts.paths ?? INGRESS_PATHS) {
    // kube-proxy's rules follow the Service by a moment too: retry briefly before calling it a failure.
    const answer = await waitFor(`HTTP 200 from http://${ip}${p}`, async () => {
      const a = await lab.curl(ip, p)
      return a.status === 200 ? a : undefined
    }, { timeoutMs: 10_000, intervalMs: 250 })
    say(`${opts.service}: curl -H 'Host: k8s.com' http://${ip}${p} -> ${answer.status} ${JSON.stringify(answer.body.trim())}`)
    answers.push({ path: p, answer })
  }
  const proxyRule = await lab.proxyRule(macOwner ?? announcingNode, ip)
  say(`${opts.service}: on ${macOwner ?? announcingNode}: ${proxyRule ?? `no kube-proxy rule for ${ip}`}`)
  return { service: opts.service, ip, announcingNode, arping, macOwner, answers, proxyRule }
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
