// The real kube-proxy on the lab's nodes, where KUBEBUILDER_ASSETS holds one (envtest's folder plus `kube-proxy`):
// one per node netns, nftables mode, on either API server. Without it the lab's stand-in role
// (kube-roles.ts, `table inet l2lb-kube-proxy`) plays the part. This file is the configuration; lab.ts starts
// and stops the processes by PID.
import { dump as dumpYaml } from 'js-yaml'
import type { EnvtestAssets } from '../lib/envtest.js'
import type { LabNode } from './names.js'

export type KubeProxyKind = 'real' | 'stand-in'
/** `auto`: the real one when the assets have it, else the stand-in role. */
export type KubeProxyChoice = KubeProxyKind | 'auto'

export const KUBE_PROXY_HEALTHZ_PORT = 10256

/**
 * The pods' addresses (every node's pod networks), kube-proxy's `clusterCIDR`: traffic from these is the
 * cluster's own ("local" for detect-local-mode ClusterCIDR), anything else reaching a Service is masqueraded.
 */
export const LAB_CLUSTER_CIDRS = ['198.19.0.0/16', '2001:db8:1::/48'] as const

/**
 * A KubeProxyConfiguration for one node. Facts found by running kube-proxy v1.32 in a network namespace:
 *  - `conntrack.maxPerCore: 0`: leave nf_conntrack_max alone; it is writable only from the initial netns
 *    ("open /proc/sys/net/netfilter/nf_conntrack_max: permission denied" otherwise). The TCP timeouts are left
 *    as they are too (0s), so kube-proxy changes no sysctl at all.
 *  - `oomScoreAdj: 0`: do not touch the machine's OOM settings for a lab process.
 *  - `mode: nftables` needs only `nft` (iptables mode needs Debian's iptables). NFTablesProxyMode is beta and
 *    on by default in 1.32. At start kube-proxy still tries to clean up iptables/ipvs leftovers and logs an
 *    error per rule because there is no `iptables`/`ipset`: harmless.
 *  - `nodePortAddresses: [primary]`: NodePorts on the node's InternalIPs (from its Node object) only.
 *  - healthz on the node's LAN address, metrics on the netns' loopback.
 */
export function kubeProxyConfigYaml(node: LabNode, kubeconfig: string): string {
  return dumpYaml({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    clientConnection: { kubeconfig },
    hostnameOverride: node.name,
    mode: 'nftables',
    clusterCIDR: LAB_CLUSTER_CIDRS.join(','),
    nodePortAddresses: ['primary'],
    oomScoreAdj: 0,
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    healthzBindAddress: `${node.ipv4}:${KUBE_PROXY_HEALTHZ_PORT}`,
    metricsBindAddress: '127.0.0.1:10249',
  })
}

export function kubeProxyArgv(binary: string, configFile: string): string[] {
  return [binary, `--config=${configFile}`]
}

/** Which kube-proxy the nodes run: the real one when asked for (or `auto` and the assets have it). */
export function chooseKubeProxy(choice: KubeProxyChoice, assets: EnvtestAssets | undefined): { kind: KubeProxyKind; binary?: string } {
  const binary = assets?.kubeProxy
  if (choice === 'stand-in') return { kind: 'stand-in' }
  if (binary !== undefined) return { kind: 'real', binary }
  if (choice === 'real') {
    throw new Error('the real kube-proxy was asked for, but KUBEBUILDER_ASSETS names no folder with kube-proxy (and kube-apiserver, etcd): put kube-proxy v1.32 ' +
      '(https://dl.k8s.io/v1.32.6/bin/linux/amd64/kube-proxy) into that folder')
  }
  return { kind: 'stand-in' }
}
