// The pool ConfigMaps of `npm run bench -- config`: the large valid configs a real site may write and the
// malformed or extreme ones that once hung or killed both programs (issue "No ConfigMap takes l2lb down").
// Text only: nothing here is ever sent on a network.

export interface ConfigCase {
  readonly name: string
  /** What the case is, for the bench's log. */
  readonly what: string
  readonly text: () => string
}

const pool = (name: string, addresses: readonly string[]): string =>
  `- name: ${name}\n  protocol: layer2\n  addresses:\n${addresses.map(a => `  - ${a}\n`).join('')}`

/** 198.18.0.0/15 host n (the benchmarking range), as text. */
const benchHost = (n: number): string => `198.${18 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`

export const CONFIG_CASES: readonly ConfigCase[] = [
  { name: 'sample', what: 'the sample pool ConfigMap (2 entries)', text: () => `address-pools:\n${pool('default', ['192.0.2.240-192.0.2.250', '2001:db8:0:1::f0/124'])}` },
  { name: 'same_32_x6000', what: 'one pool with 6,000 copies of one /32', text: () => `address-pools:\n${pool('p', Array.from({ length: 6000 }, () => '192.0.2.7/32'))}` },
  {
    name: 'aliased_100x100', what: '100 pools sharing one YAML-aliased list of 100 addresses',
    text: () => `address-pools:\n- name: p0\n  protocol: layer2\n  addresses: &a [${Array.from({ length: 100 }, (_, i) => `"192.0.2.${i}/32"`).join(', ')}]\n` +
      Array.from({ length: 99 }, (_, i) => `- {name: p${i + 1}, protocol: layer2, addresses: *a}\n`).join(''),
  },
  { name: 'duplicate_lines_600', what: 'one pool with the same /28 on 600 lines', text: () => `address-pools:\n${pool('p', Array.from({ length: 600 }, () => '192.0.2.240/28'))}` },
  {
    name: 'alias_bomb', what: 'a billion-laughs YAML alias bomb (10^9 addresses when expanded)',
    text: () => {
      let t = 'x0: &x0 ["192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32", "192.0.2.1/32"]\n'
      for (let i = 1; i < 9; i++) t += `x${i}: &x${i} [${Array.from({ length: 10 }, () => `*x${i - 1}`).join(', ')}]\n`
      return `${t}address-pools:\n- {name: p, protocol: layer2, addresses: *x8}\n`
    },
  },
  { name: 'pools_10000', what: '10,000 valid pools of one /32 each', text: () => `address-pools:\n${Array.from({ length: 10000 }, (_, i) => pool(`p${i}`, [`${benchHost(i)}/32`])).join('')}` },
  // Flow style keeps these two within the 1 MiB a ConfigMap may hold, so they are parsed, not refused for size.
  { name: 'slash32_55000', what: 'one valid pool of 55,000 distinct /32', text: () => `address-pools:\n- {name: p, protocol: layer2, addresses: [${Array.from({ length: 55000 }, (_, i) => `${benchHost(i)}/32`).join(',')}]}\n` },
  {
    name: 'slash8_as_65536', what: 'a /8 written as 65,536 /24 ranges',
    text: () => `address-pools:\n- {name: p, protocol: layer2, addresses: [${Array.from({ length: 65536 }, (_, i) => `198.${i >> 8}.${i & 255}.0/24`).join(',')}]}\n`,
  },
  { name: 'everything', what: '0.0.0.0/0 and ::/0', text: () => `address-pools:\n${pool('all', ['0.0.0.0/0', '::/0'])}` },
]
