// The lab's names and addresses, from docs/reference.md "Lab address plan". Everything here lives only inside network
// namespaces the lab creates.
//
// One deviation from the reference table, and why: the machines this runs on can themselves sit on
// 192.0.2.0/24 with 192.0.2.1 as their default gateway, so giving the root netns 192.0.2.1 would cut the
// machine off. The API server therefore runs in its own netns `l2lb-apiserver`, which is on the LAN as
// 192.0.2.1 (what the speakers use), and the root netns reaches it over a private point-to-point veth in
// the otherwise unused pod block 198.19.255.0/30 (what the machine's kubectl uses).

export const NETNS_PREFIX = 'l2lb-'
export const LAN_NETNS = 'l2lb-lan'
export const LAN_BRIDGE = 'br0'
export const APISERVER_NETNS = 'l2lb-apiserver'
export const CLIENT_NETNS = 'l2lb-client'
export const API_PORT = 6443

/** The root netns' end of the link to the API server's netns. */
export const ROOT_LINK = { rootIfname: 'l2lb-root', peerIfname: 'host0', rootIP: '198.19.255.1', peerIP: '198.19.255.2', prefix: 30 }

export interface LanHost {
  /** Network namespace. */
  readonly netns: string
  /** Name of this host's port on the LAN bridge (in l2lb-lan). */
  readonly bridgePort: string
  readonly ipv4: string
  readonly ipv6: string
  /** Fixed so summaries and tests can name hosts by MAC: 02:00 followed by the IPv4 address in hex. */
  readonly mac: string
}

export interface LabNode extends LanHost {
  readonly name: string
  /** 1-based; node N owns the pod networks 198.19.N.0/24 and 2001:db8:1:N::/64. */
  readonly index: number
  readonly podCidr: string
  /** The node's address on its pod bridge, the pods' default gateway. */
  readonly podGateway: string
  readonly podCidrV6: string
  readonly podGatewayV6: string
}

function macFor(ipv4: string): string {
  const hex = ipv4.split('.').map(o => Number(o).toString(16).padStart(2, '0'))
  return ['02', '00', ...hex].join(':')
}

function lanHost(netns: string, bridgePort: string, lastOctet: number, v6Suffix: string): LanHost {
  const ipv4 = `192.0.2.${lastOctet}`
  return { netns, bridgePort, ipv4, ipv6: `2001:db8:0:1::${v6Suffix}`, mac: macFor(ipv4) }
}

export const LAN_PREFIX_V4 = 24
export const LAN_PREFIX_V6 = 64

export const APISERVER_HOST = lanHost(APISERVER_NETNS, 'apiserver', 1, '1')
export const CLIENT_HOST = lanHost(CLIENT_NETNS, 'client', 100, '100')

export function labNodes(count: number): LabNode[] {
  if (!Number.isInteger(count) || count < 1 || count > 9) throw new Error(`node count must be 1..9, got ${count}`)
  const nodes: LabNode[] = []
  for (let i = 1; i <= count; i++) {
    const name = `l2lb-node${i}`
    nodes.push({
      ...lanHost(name, `node${i}`, 10 + i, String(10 + i)),
      name,
      index: i,
      podCidr: `198.19.${i}.0/24`,
      podGateway: `198.19.${i}.1`,
      podCidrV6: `2001:db8:1:${i}::/64`,
      podGatewayV6: `2001:db8:1:${i}::1`,
    })
  }
  return nodes
}
