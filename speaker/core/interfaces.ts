// Which interfaces the speaker answers on: a pure decision (reading /sys is speaker/interfaces.ts). Defaults
// follow MetalLB's exclusions (docs/reference.md, "Interface exclusions"): virtual and CNI interfaces,
// loopback, interfaces that are down, enslaved to a bridge or bond, or flagged NOARP never carry
// announcements.

export interface InterfaceInfo {
  readonly name: string
  readonly up: boolean
  readonly noArp: boolean
  readonly enslaved: boolean
  readonly mac: string
}

export const DEFAULT_EXCLUDED = [
  /^docker/, /^cbr/, /^dummy/, /^virbr/, /^lxcbr/, /^veth/, /^lo$/, /^cali/, /^tunl/, /^flannel/, /^kube-ipvs/,
  /^cni/, /^nodelocaldns/, /^lxc/,
]

export type InterfaceVerdict = { name: string; eligible: true } | { name: string; eligible: false; reason: string }

/**
 * `wanted` names interfaces explicitly (L2LB_INTERFACES); an explicit name skips the name exclusions but not
 * the state checks, since a down or NOARP interface cannot carry ARP at all.
 */
export function eligibleInterfaces(infos: readonly InterfaceInfo[], wanted: readonly string[]): InterfaceVerdict[] {
  const out: InterfaceVerdict[] = []
  for (const i of infos) {
    if (wanted.length > 0 && !wanted.includes(i.name)) continue
    if (wanted.length === 0 && DEFAULT_EXCLUDED.some(re => re.test(i.name))) {
      out.push({ name: i.name, eligible: false, reason: 'excluded by name' })
    } else if (!i.up) out.push({ name: i.name, eligible: false, reason: 'down' })
    else if (i.noArp) out.push({ name: i.name, eligible: false, reason: 'NOARP' })
    else if (i.enslaved) out.push({ name: i.name, eligible: false, reason: 'enslaved to a bridge or bond' })
    else if (i.mac === '' || i.mac === '00:00:00:00:00:00') out.push({ name: i.name, eligible: false, reason: 'no MAC address' })
    else out.push({ name: i.name, eligible: true })
  }
  for (const w of wanted) {
    if (!infos.some(i => i.name === w)) out.push({ name: w, eligible: false, reason: 'no such interface' })
  }
  return out
}
