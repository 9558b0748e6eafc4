// kube-proxy in IPVS mode binds every LoadBalancer IP to the dummy interface kube-ipvs0 on every node, so
// unless it runs with `strictARP: true` every node's kernel answers ARP for them and two nodes answer at once
// (the split brain MetalLB users hit; docs/reference.md, "kube-proxy and IPVS strictARP"). strictARP is
// visible on the node itself: kube-proxy then sets net.ipv4.conf.all.arp_ignore=1 and arp_announce=2. The
// decision is pure; reading /sys and /proc is the shell (speaker/ipvs-facts.ts).

export interface IpvsFacts {
  readonly hasKubeIpvs0: boolean
  readonly arpIgnore: number | null
  readonly arpAnnounce: number | null
}

export type IpvsVerdict =
  | { readonly ok: true; readonly reason: string }
  | { readonly ok: false; readonly reason: string; readonly fix: string }

export function judgeIpvs(f: IpvsFacts): IpvsVerdict {
  if (!f.hasKubeIpvs0) return { ok: true, reason: 'kube-proxy is not in IPVS mode on this node (no kube-ipvs0)' }
  if (f.arpIgnore === 1 && f.arpAnnounce === 2) return { ok: true, reason: 'kube-proxy IPVS mode with strictARP' }
  return {
    ok: false,
    reason: `kube-proxy runs in IPVS mode without strictARP (arp_ignore=${f.arpIgnore ?? '?'}, arp_announce=${f.arpAnnounce ?? '?'}): ` +
      'the kernel of every node answers ARP for LoadBalancer IPs, so several nodes answer for one IP',
    fix: 'set `ipvs: {strictARP: true}` in the kube-proxy ConfigMap (kube-system/kube-proxy) and restart kube-proxy',
  }
}
