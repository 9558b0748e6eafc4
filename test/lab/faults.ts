// The failure matrix of issue 9 / docs/architecture.md ("When things fail"), made in the lab with nftables and
// links, never by touching the programs: the API server away for everyone, one node cut from it, one node cut
// from the LAN but not from the API server, one node isolated, the LAN split in two. Each fault is one nft
// table (or one link down) that heal() removes; the scripts are pure (lab-pure.test.ts checks them).
import { APISERVER_HOST, API_PORT, LAN_NETNS, type LabNode } from './names.js'
import { inNetns, run, runAllowingFailure } from './run.js'

/** Every table a fault creates is named so: heal() deletes exactly these. */
export const FAULT_TABLE = 'l2lb-fault'

/** In the API server's netns: every packet to its port dropped (connections hang, as when it stalls). */
export function apiServerAwayScript(): string {
  return [
    `table inet ${FAULT_TABLE} {`,
    '  chain input {',
    '    type filter hook input priority filter - 10; policy accept;',
    `    tcp dport ${API_PORT} drop`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** In a node's netns: its packets to the API server dropped (its kubelet and speaker lose it; the LAN works). */
export function nodeCutFromApiServerScript(): string {
  return [
    `table inet ${FAULT_TABLE} {`,
    '  chain output {',
    '    type filter hook output priority filter - 10; policy accept;',
    `    ip daddr ${APISERVER_HOST.ipv4} tcp dport ${API_PORT} drop`,
    `    ip6 daddr ${APISERVER_HOST.ipv6} tcp dport ${API_PORT} drop`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/**
 * On the LAN bridge: the node's port passes only its traffic with the API server (IP to and from it, ARP and
 * NDP for it) and drops everything else both ways — heartbeats, the client's ARP, its answers.
 */
export function nodeCutFromLanScript(node: LabNode, apiServerPort: string): string {
  const api4 = APISERVER_HOST.ipv4
  const api6 = APISERVER_HOST.ipv6
  return [
    `table bridge ${FAULT_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    `    iifname "${node.bridgePort}" oifname "${apiServerPort}" accept`,
    `    iifname "${apiServerPort}" oifname "${node.bridgePort}" accept`,
    `    iifname "${node.bridgePort}" ether type arp arp daddr ip ${api4} accept`,
    `    iifname "${node.bridgePort}" ip6 daddr ${api6} accept`,
    `    iifname "${node.bridgePort}" ip6 daddr ff02::1:ff00:0/104 icmpv6 type nd-neighbor-solicit accept`,
    `    iifname "${node.bridgePort}" drop`,
    `    oifname "${node.bridgePort}" drop`,
    '  }',
    '}',
    '',
  ].join('\n')
}

/** On the LAN bridge: no frame crosses between the two groups of ports (the API server's port reaches both). */
export function lanSplitScript(a: readonly string[], b: readonly string[]): string {
  const set = (ports: readonly string[]): string => `{ ${ports.map(p => `"${p}"`).join(', ')} }`
  return [
    `table bridge ${FAULT_TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter - 10; policy accept;',
    `    iifname ${set(a)} oifname ${set(b)} drop`,
    `    iifname ${set(b)} oifname ${set(a)} drop`,
    '  }',
    '}',
    '',
  ].join('\n')
}

async function nft(netns: string, script: string): Promise<void> {
  await run(inNetns(netns, ['nft', '-f', '-']), { input: script })
}

/** Applies and heals the faults of one lab; every fault it made is undone by heal(), in any order. */
export class LabFaults {
  readonly #nodes: readonly LabNode[]
  /** Where a fault table lives (netns), to delete on heal; ports taken down. */
  readonly #tables = new Set<string>()
  readonly #downPorts = new Set<string>()

  constructor(nodes: readonly LabNode[]) {
    this.#nodes = nodes
  }

  #node(name: string): LabNode {
    const n = this.#nodes.find(x => x.name === name)
    if (!n) throw new Error(`no lab node ${name}`)
    return n
  }

  async #apply(netns: string, script: string): Promise<void> {
    if (this.#tables.has(netns)) throw new Error(`a fault is already in force in ${netns}: heal() first`)
    await nft(netns, script)
    this.#tables.add(netns)
  }

  /** (a) The API server is away for everyone. */
  apiServerAway(): Promise<void> {
    return this.#apply(APISERVER_HOST.netns, apiServerAwayScript())
  }

  /** (b) One node cannot reach the API server; it is on the LAN. */
  cutFromApiServer(node: string): Promise<void> {
    return this.#apply(this.#node(node).netns, nodeCutFromApiServerScript())
  }

  /** (c) One node is cut from the LAN but still reaches the API server. */
  cutFromLan(node: string): Promise<void> {
    return this.#apply(LAN_NETNS, nodeCutFromLanScript(this.#node(node), APISERVER_HOST.bridgePort))
  }

  /** (d) One node is isolated from both: its LAN port is down. */
  async isolate(node: string): Promise<void> {
    const port = this.#node(node).bridgePort
    await run(inNetns(LAN_NETNS, ['ip', 'link', 'set', port, 'down']))
    this.#downPorts.add(port)
  }

  /** (e) The LAN splits in two groups of nodes; `clientWith` names the group the client stays with. */
  splitLan(a: readonly string[], b: readonly string[], clientWith: 'a' | 'b' = 'a'): Promise<void> {
    const ports = (names: readonly string[]): string[] => names.map(n => this.#node(n).bridgePort)
    const pa = [...ports(a), ...(clientWith === 'a' ? ['client'] : [])]
    const pb = [...ports(b), ...(clientWith === 'b' ? ['client'] : [])]
    return this.#apply(LAN_NETNS, lanSplitScript(pa, pb))
  }

  /** Undoes every fault (best effort for each, so one failure does not leave the others in force). */
  async heal(): Promise<void> {
    const problems: string[] = []
    for (const netns of this.#tables) {
      const r = await runAllowingFailure(inNetns(netns, ['nft', 'delete', 'table', netns === LAN_NETNS ? 'bridge' : 'inet', FAULT_TABLE]))
      if (r.code !== 0) problems.push(`${netns}: ${r.stderr.trim()}`)
    }
    this.#tables.clear()
    for (const port of this.#downPorts) {
      const r = await runAllowingFailure(inNetns(LAN_NETNS, ['ip', 'link', 'set', port, 'up']))
      if (r.code !== 0) problems.push(`${port}: ${r.stderr.trim()}`)
    }
    this.#downPorts.clear()
    if (problems.length > 0) throw new Error(`could not heal every fault: ${problems.join('; ')}`)
  }
}
