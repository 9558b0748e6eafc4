// The lab's LAN: a bridge in netns l2lb-lan, one veth per host into it (nodes, client, API server), each
// node with a pod bridge `cbr0` and routes to the other nodes' pod networks, and a point-to-point veth from
// the root netns to the API server's netns. Building is plain `ip`/`sysctl` calls, in order, each checked.
import { run, runAllowingFailure, inNetns } from './run.js'
import {
  LAN_NETNS, LAN_BRIDGE, APISERVER_HOST, API_PORT, CLIENT_HOST, ROOT_LINK, LAN_PREFIX_V4, LAN_PREFIX_V6,
  type LanHost, type LabNode,
} from './names.js'

export const POD_BRIDGE = 'cbr0'

/** Names of the namespaces the lab owns, so teardown never touches anyone else's `l2lb-*` namespace. */
export function isLabNetns(name: string): boolean {
  return /^l2lb-(lan|apiserver|client|node\d+|pod-[a-z0-9-]+)$/.test(name)
}

export async function listNetns(): Promise<string[]> {
  const out = await run(['ip', 'netns', 'list'])
  // Lines look like "l2lb-node1 (id: 3)" or just "l2lb-node1".
  return out.split('\n').map(l => l.trim().split(/\s+/)[0] ?? '').filter(n => n !== '')
}

export async function sysctl(ns: string, settings: Record<string, string | number>): Promise<void> {
  const args = Object.entries(settings).map(([k, v]) => `${k}=${v}`)
  await run(inNetns(ns, ['sysctl', '-q', '-w', ...args]))
}

async function addNetns(ns: string, created: string[]): Promise<void> {
  await run(['ip', 'netns', 'add', ns])
  created.push(ns)
  await run(['ip', '-n', ns, 'link', 'set', 'lo', 'up'])
  // No DAD: addresses are ours by construction and waiting ~1 s per address only slows the lab down.
  await sysctl(ns, { 'net.ipv6.conf.all.accept_dad': 0, 'net.ipv6.conf.default.accept_dad': 0 })
}

/** Plugs a host namespace into the LAN bridge as `eth0` with its fixed MAC and addresses. */
async function plugIntoLan(host: LanHost): Promise<void> {
  await run(['ip', '-n', LAN_NETNS, 'link', 'add', host.bridgePort, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', host.netns])
  await run(['ip', '-n', LAN_NETNS, 'link', 'set', host.bridgePort, 'master', LAN_BRIDGE, 'up'])
  await run(['ip', '-n', host.netns, 'link', 'set', 'eth0', 'address', host.mac])
  await run(['ip', '-n', host.netns, 'addr', 'add', `${host.ipv4}/${LAN_PREFIX_V4}`, 'dev', 'eth0'])
  await run(['ip', '-n', host.netns, 'addr', 'add', `${host.ipv6}/${LAN_PREFIX_V6}`, 'dev', 'eth0', 'nodad'])
  await run(['ip', '-n', host.netns, 'link', 'set', 'eth0', 'up'])
}

async function setUpNode(node: LabNode, all: readonly LabNode[]): Promise<void> {
  // The node routes for its pods (kubelet/CNI's job). proxy_arp stays off so the node's kernel never answers
  // ARP for a Service IP: those IPs are on no interface and only the speaker may claim them.
  await sysctl(node.netns, {
    'net.ipv4.ip_forward': 1,
    'net.ipv4.conf.all.proxy_arp': 0,
    'net.ipv4.conf.default.proxy_arp': 0,
    'net.ipv4.conf.all.rp_filter': 0,
    'net.ipv4.conf.default.rp_filter': 0,
    // Traffic DNATed to another node's pod leaves through the interface it came in on; without this the node
    // would send the client ICMP redirects it cannot use.
    'net.ipv4.conf.all.send_redirects': 0,
    'net.ipv4.conf.default.send_redirects': 0,
    // Pods have IPv6 addresses too: the node routes them like the IPv4 ones.
    'net.ipv6.conf.all.forwarding': 1,
    'net.ipv6.conf.default.forwarding': 1,
  })
  await plugIntoLan(node)
  await sysctl(node.netns, { 'net.ipv4.conf.eth0.proxy_arp': 0, 'net.ipv4.conf.eth0.rp_filter': 0, 'net.ipv4.conf.eth0.send_redirects': 0 })
  await run(['ip', '-n', node.netns, 'link', 'add', POD_BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0'])
  await run(['ip', '-n', node.netns, 'addr', 'add', `${node.podGateway}/24`, 'dev', POD_BRIDGE])
  await run(['ip', '-n', node.netns, 'addr', 'add', `${node.podGatewayV6}/64`, 'dev', POD_BRIDGE, 'nodad'])
  await run(['ip', '-n', node.netns, 'link', 'set', POD_BRIDGE, 'up'])
  for (const other of all) {
    if (other.name === node.name) continue
    await run(['ip', '-n', node.netns, 'route', 'add', other.podCidr, 'via', other.ipv4, 'dev', 'eth0'])
    await run(['ip', '-n', node.netns, '-6', 'route', 'add', other.podCidrV6, 'via', other.ipv6, 'dev', 'eth0'])
  }
}

/**
 * Builds the LAN. Every namespace is appended to `created` as soon as it exists, so on failure the caller
 * knows exactly what to remove.
 */
export async function createTopology(nodes: readonly LabNode[], created: string[]): Promise<void> {
  await addNetns(LAN_NETNS, created)
  // The bridge's namespace has no addresses: IPv6 off keeps it from chattering on the LAN.
  await sysctl(LAN_NETNS, { 'net.ipv6.conf.all.disable_ipv6': 1, 'net.ipv6.conf.default.disable_ipv6': 1 })
  await run(['ip', '-n', LAN_NETNS, 'link', 'add', LAN_BRIDGE, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0', 'mcast_snooping', '0'])
  await run(['ip', '-n', LAN_NETNS, 'link', 'set', LAN_BRIDGE, 'up'])

  await addNetns(APISERVER_HOST.netns, created)
  await plugIntoLan(APISERVER_HOST)
  await run(['ip', 'link', 'add', ROOT_LINK.rootIfname, 'type', 'veth', 'peer', 'name', ROOT_LINK.peerIfname, 'netns', APISERVER_HOST.netns])
  await run(['ip', 'addr', 'add', `${ROOT_LINK.rootIP}/${ROOT_LINK.prefix}`, 'dev', ROOT_LINK.rootIfname])
  await run(['ip', 'link', 'set', ROOT_LINK.rootIfname, 'up'])
  await run(['ip', '-n', APISERVER_HOST.netns, 'addr', 'add', `${ROOT_LINK.peerIP}/${ROOT_LINK.prefix}`, 'dev', ROOT_LINK.peerIfname])
  await run(['ip', '-n', APISERVER_HOST.netns, 'link', 'set', ROOT_LINK.peerIfname, 'up'])
  // The API server listens on its LAN address only; connections from the machine to the link address are
  // DNATed to it, so the machine's kubectl and the speakers reach the same socket.
  await run(inNetns(APISERVER_HOST.netns, ['nft', '-f', '-']), {
    input: [
      'table ip l2lb-root-link {',
      '  chain prerouting {',
      '    type nat hook prerouting priority dstnat; policy accept;',
      `    iifname "${ROOT_LINK.peerIfname}" ip daddr ${ROOT_LINK.peerIP} tcp dport ${API_PORT} dnat to ${APISERVER_HOST.ipv4}:${API_PORT}`,
      '  }',
      '}',
      '',
    ].join('\n'),
  })

  await addNetns(CLIENT_HOST.netns, created)
  await plugIntoLan(CLIENT_HOST)

  for (const node of nodes) {
    await addNetns(node.netns, created)
    await setUpNode(node, nodes)
  }
}

/** PIDs of every process living in a namespace (`ip netns pids`). */
export async function netnsPids(ns: string): Promise<number[]> {
  const res = await runAllowingFailure(['ip', 'netns', 'pids', ns])
  if (res.code !== 0) return []
  return res.stdout.split('\n').map(s => Number(s.trim())).filter(n => Number.isInteger(n) && n > 0)
}

/** Deletes the given namespaces (ignoring ones already gone) and the root veth. */
export async function deleteNetns(names: readonly string[]): Promise<string[]> {
  const problems: string[] = []
  for (const ns of names) {
    const res = await runAllowingFailure(['ip', 'netns', 'del', ns])
    if (res.code !== 0 && !/No such file|not found|Cannot remove/.test(res.stderr)) problems.push(`netns ${ns}: ${res.stderr.trim()}`)
  }
  // Normally gone with l2lb-apiserver (deleting one end of a veth deletes both); this catches a half-built lab.
  // Only when that namespace was ours to delete: otherwise the link belongs to a lab someone else runs.
  const link = await runAllowingFailure(['ip', 'link', 'show', ROOT_LINK.rootIfname])
  if (link.code === 0 && names.includes(APISERVER_HOST.netns)) {
    const del = await runAllowingFailure(['ip', 'link', 'del', ROOT_LINK.rootIfname])
    // It may vanish between the two calls: the kernel removes the pair asynchronously after the netns goes.
    if (del.code !== 0 && !/Cannot find device/.test(del.stderr)) problems.push(`link ${ROOT_LINK.rootIfname}: ${del.stderr.trim()}`)
  }
  return problems
}

/** The eth0 MAC of a namespace, read from the kernel rather than assumed. */
export async function eth0Mac(ns: string): Promise<string> {
  const out = await run(['ip', '-n', ns, '-j', 'link', 'show', 'eth0'])
  const parsed: unknown = JSON.parse(out)
  if (Array.isArray(parsed)) {
    const first: unknown = parsed[0]
    if (typeof first === 'object' && first !== null && 'address' in first && typeof first.address === 'string') {
      return first.address.toLowerCase()
    }
  }
  throw new Error(`no eth0 MAC in netns ${ns}`)
}
