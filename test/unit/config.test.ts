import t from 'tap'
import { CONFIG_LIMITS, formatConfigError, parsePoolConfig, selectorMatches } from '../../internal/core/pool-config.js'

const SAMPLE = `
address-pools:
- name: default
  protocol: layer2
  addresses:
  - 192.0.2.240-192.0.2.250
  - 2001:db8:0:1::f0/124
`

t.test('the sample pool parses with its defaults', async t => {
  const r = parsePoolConfig(SAMPLE)
  t.ok(r.ok)
  if (!r.ok) return
  const [p] = r.config.pools
  t.equal(r.config.pools.length, 1)
  t.equal(p?.name, 'default')
  t.equal(p?.autoAssign, true, 'auto-assign defaults to true')
  t.equal(p?.avoidBuggyIPs, false, 'avoid-buggy-ips defaults to false')
  t.same(p?.families, ['IPv4', 'IPv6'])
  t.equal(p?.ranges.length, 2)
  t.equal(p?.namespaces, null)
  t.equal(p?.serviceSelectors, null)
  t.equal(p?.priority, null)
  t.same(r.config.l2Advertisements, [])
})

t.test('extensions parse', async t => {
  const r = parsePoolConfig(`
address-pools:
- name: team-a
  protocol: layer2
  addresses: [198.51.100.0/24]
  auto-assign: false
  avoid-buggy-ips: true
  namespaces: [team-a, team-a-staging]
  service-selectors:
  - matchLabels: {tier: web}
  - matchExpressions: [{key: exposed, operator: Exists}]
  priority: 10
l2-advertisements:
- ip-address-pools: [team-a]
  node-selectors: [{matchLabels: {kubernetes.io/hostname: l2lb-node1}}]
  interfaces: [eth0]
- {}
`)
  t.ok(r.ok, r.ok ? '' : JSON.stringify(r.errors))
  if (!r.ok) return
  const p = r.config.pools[0]
  t.same(p?.namespaces, ['team-a', 'team-a-staging'])
  t.equal(p?.serviceSelectors?.length, 2)
  t.equal(p?.priority, 10)
  t.equal(p?.autoAssign, false)
  t.equal(p?.avoidBuggyIPs, true)
  t.same(r.config.l2Advertisements[0], {
    ipAddressPools: ['team-a'],
    nodeSelectors: [{ matchLabels: { 'kubernetes.io/hostname': 'l2lb-node1' }, matchExpressions: [] }],
    interfaces: ['eth0'],
  })
  t.same(r.config.l2Advertisements[1], { ipAddressPools: [], nodeSelectors: [], interfaces: [] }, 'empty = everything')
})

t.test('an empty pool list is a valid config', async t => {
  const r = parsePoolConfig('address-pools: []')
  t.ok(r.ok && r.config.pools.length === 0)
})

const pool = (extra: string, addresses = '[192.0.2.0/28]', name = 'p'): string =>
  `address-pools:\n- name: ${name}\n  protocol: layer2\n  addresses: ${addresses}\n${extra}`

// [what, config text, expected path, message pattern]
const bad: [string, string, string, RegExp][] = [
  ['not YAML', 'address-pools: [', 'config', /not valid YAML/],
  ['empty', '', 'config', /empty/],
  ['not a mapping', '- a', 'config', /expected a mapping/],
  ['missing address-pools', 'l2-advertisements: []', 'config.address-pools', /missing/],
  ['unknown top-level key', pool('') + 'extra: 1\n', 'config.extra', /unknown key/],
  ['bgp-advertisements at top level', pool('') + 'bgp-advertisements: []\n', 'config.bgp-advertisements', /layer-2 only/],
  ['peers at top level', pool('') + 'peers: []\n', 'config.peers', /unknown key/],
  ['unknown pool key', pool('  color: blue\n'), 'address-pools[p].color', /unknown key "color"/],
  ['bgp-advertisements in a pool', pool('  bgp-advertisements: []\n'), 'address-pools[p].bgp-advertisements', /layer-2 only/],
  ['missing name', 'address-pools:\n- protocol: layer2\n  addresses: [192.0.2.0/28]\n', 'address-pools[0].name', /missing name/],
  ['empty name', 'address-pools:\n- name: ""\n  protocol: layer2\n  addresses: [192.0.2.0/28]\n', 'address-pools[0].name', /non-empty/],
  ['missing protocol', 'address-pools:\n- name: p\n  addresses: [192.0.2.0/28]\n', 'address-pools[p].protocol', /missing protocol/],
  ['protocol bgp', 'address-pools:\n- name: p\n  protocol: bgp\n  addresses: [192.0.2.0/28]\n', 'address-pools[p].protocol', /layer-2 only/],
  ['unknown protocol', 'address-pools:\n- name: p\n  protocol: ospf\n  addresses: [192.0.2.0/28]\n', 'address-pools[p].protocol', /unknown protocol/],
  ['missing addresses', 'address-pools:\n- name: p\n  protocol: layer2\n', 'address-pools[p].addresses', /missing addresses/],
  ['addresses not a list', pool('', '192.0.2.0/28'), 'address-pools[p].addresses', /expected a list/],
  ['empty addresses', pool('', '[]'), 'address-pools[p].addresses', /empty/],
  ['bad CIDR', pool('', '[192.0.2.0/33]'), 'address-pools[p].addresses[0]', /prefix length/],
  ['host bits', pool('', '[192.0.2.1/24]'), 'address-pools[p].addresses[0]', /host bits/],
  ['bad range', pool('', '[192.0.2.1-192.0.2.x]'), 'address-pools[p].addresses[0]', /end/],
  ['start > end', pool('', '[192.0.2.9-192.0.2.1]'), 'address-pools[p].addresses[0]', /starts after it ends/],
  ['bare address', pool('', '[192.0.2.9]'), 'address-pools[p].addresses[0]', /192\.0\.2\.9\/32/],
  ['number address', pool('', '[42]'), 'address-pools[p].addresses[0]', /expected a CIDR or range/],
  ['overlap within a pool', pool('', '[192.0.2.0/28, 192.0.2.8-192.0.2.20]'), 'address-pools[p].addresses[1]', /overlaps 192\.0\.2\.0\/28 in address-pools\[p\]\.addresses\[0\]/],
  ['auto-assign not boolean', pool('  auto-assign: yes\n'), 'address-pools[p].auto-assign', /true or false/],
  ['avoid-buggy-ips not boolean', pool('  avoid-buggy-ips: 1\n'), 'address-pools[p].avoid-buggy-ips', /true or false/],
  ['namespaces not a list', pool('  namespaces: team-a\n'), 'address-pools[p].namespaces', /list/],
  ['bad namespace', pool('  namespaces: [Team_A]\n'), 'address-pools[p].namespaces[0]', /namespace/],
  ['priority not integer', pool('  priority: 1.5\n'), 'address-pools[p].priority', /integer/],
  ['priority string', pool('  priority: high\n'), 'address-pools[p].priority', /integer/],
  ['selector unknown key', pool('  service-selectors: [{matchLabel: {a: b}}]\n'), 'address-pools[p].service-selectors[0].matchLabel', /unknown key/],
  ['selector bad operator', pool('  service-selectors: [{matchExpressions: [{key: a, operator: Equals}]}]\n'), 'address-pools[p].service-selectors[0].matchExpressions[0].operator', /not one of/],
  ['In without values', pool('  service-selectors: [{matchExpressions: [{key: a, operator: In}]}]\n'), 'address-pools[p].service-selectors[0].matchExpressions[0].values', /at least one value/],
  ['Exists with values', pool('  service-selectors: [{matchExpressions: [{key: a, operator: Exists, values: [x]}]}]\n'), 'address-pools[p].service-selectors[0].matchExpressions[0].values', /no values/],
  ['bad label key', pool('  service-selectors: [{matchLabels: {"-bad": x}}]\n'), 'address-pools[p].service-selectors[0].matchLabels.-bad', /label key/],
  ['advertisement unknown pool', pool('') + 'l2-advertisements:\n- ip-address-pools: [nope]\n', 'l2-advertisements[0].ip-address-pools[0]', /no pool is named "nope"/],
  ['advertisement unknown key', pool('') + 'l2-advertisements:\n- pools: [p]\n', 'l2-advertisements[0].pools', /unknown key/],
  ['advertisement bad interface', pool('') + 'l2-advertisements:\n- interfaces: [a-name-far-too-long-for-linux]\n', 'l2-advertisements[0].interfaces[0]', /interface name/],
  ['advertisement bad node selector', pool('') + 'l2-advertisements:\n- node-selectors: [x]\n', 'l2-advertisements[0].node-selectors[0]', /label selector/],
]

t.test('each bad input is refused with where, what and a fix', async t => {
  for (const [what, text, path, pattern] of bad) {
    const r = parsePoolConfig(text)
    t.notOk(r.ok, `${what}: refused`)
    if (r.ok) continue
    const hit = r.errors.find(e => e.path === path)
    t.ok(hit, `${what}: an error at ${path} (got ${r.errors.map(e => e.path).join(', ')})`)
    if (hit) {
      t.match(hit.message, pattern, `${what}: message`)
      t.ok(hit.fix.length > 0, `${what}: says how to fix`)
    }
  }
})

t.test('duplicate names and overlaps across pools name both sides', async t => {
  const dup = parsePoolConfig(`
address-pools:
- {name: a, protocol: layer2, addresses: [192.0.2.0/28]}
- {name: a, protocol: layer2, addresses: [192.0.2.16/28]}
`)
  t.notOk(dup.ok)
  if (!dup.ok) t.match(formatConfigError(dup.errors[0] ?? { path: '', message: '', fix: '' }), /address-pools\[1\]\.name.*also used by address-pools\[0\]/)
  const overlap = parsePoolConfig(`
address-pools:
- {name: a, protocol: layer2, addresses: [192.0.2.0/24]}
- {name: b, protocol: layer2, addresses: ["2001:db8::/64", 192.0.2.200-192.0.2.210]}
`)
  t.notOk(overlap.ok)
  if (!overlap.ok) {
    t.equal(overlap.errors.length, 1, 'reported once')
    const e = overlap.errors[0]
    t.equal(e?.path, 'address-pools[b].addresses[1]')
    t.match(e?.message ?? '', /address-pools\[a\]\.addresses\[0\]/)
    t.match(e?.message ?? '', /192\.0\.2\.200-192\.0\.2\.210/, 'names the shared addresses')
  }
  const v4v6 = parsePoolConfig(`
address-pools:
- {name: a, protocol: layer2, addresses: [198.18.0.0/15]}
- {name: b, protocol: layer2, addresses: ["2001:db8::/32"]}
`)
  t.ok(v4v6.ok, 'IPv4 and IPv6 never overlap')
})

t.test('overlaps are found by a sweep: each overlapping entry once, whatever the order', async t => {
  const r = parsePoolConfig(`
address-pools:
- {name: a, protocol: layer2, addresses: [192.0.2.64/26, 192.0.2.0/28]}
- {name: b, protocol: layer2, addresses: [192.0.2.8-192.0.2.70, 192.0.2.200/32]}
- {name: c, protocol: layer2, addresses: [192.0.2.128/25]}
`)
  t.notOk(r.ok)
  if (!r.ok) {
    t.same(r.errors.map(e => e.path).sort(), ['address-pools[b].addresses[0]', 'address-pools[b].addresses[0]', 'address-pools[c].addresses[0]'],
      'b[0] overlaps both entries of a; c overlaps b[1]; each named at the later entry')
    t.ok(r.errors.some(e => /overlaps 192\.0\.2\.0\/28 .*both hold 192\.0\.2\.8-192\.0\.2\.15/.test(e.message)))
    t.ok(r.errors.some(e => /overlaps 192\.0\.2\.64\/26 .*both hold 192\.0\.2\.64-192\.0\.2\.70/.test(e.message)))
    t.ok(r.errors.some(e => /192\.0\.2\.128\/25 overlaps 192\.0\.2\.200\/32 .*both hold 192\.0\.2\.200\)/.test(e.message)))
  }
})

t.test('reserved blocks are never part of a pool', async t => {
  for (const [entry, block] of [['0.0.0.0/0', '0.0.0.0/8'], ['0.0.0.0/32', '0.0.0.0/8'], ['127.0.0.1/32', '127.0.0.0/8'], ['169.254.0.0/24', '169.254.0.0/16'],
    ['224.0.0.1/32', '224.0.0.0/4'], ['255.255.255.255/32', '240.0.0.0/4'], ['::/0', '::/128'], ['::/128', '::/128'], ['::1/128', '::1/128'],
    ['fe80::1/128', 'fe80::/10'], ['ff02::1/128', 'ff00::/8'], ['::ffff:192.0.2.1/128', '::ffff:0:0/96']] as const) {
    const r = parsePoolConfig(`address-pools: [{name: p, protocol: layer2, addresses: ["${entry}"]}]`)
    t.notOk(r.ok, `${entry} refused`)
    if (!r.ok) t.match(r.errors[0]?.message ?? '', new RegExp(`includes ${block.replace(/[.*/]/g, m => `\\${m}`)}`), `${entry}: names ${block}`)
  }
  t.ok(parsePoolConfig('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/24, "2001:db8::/64", 1.0.0.0-126.255.255.255]}]').ok, 'ordinary blocks are fine')
})

t.test('any input costs bounded work: limits with their own error, at most 50 problems listed', async t => {
  const copies = parsePoolConfig(`address-pools: [{name: p, protocol: layer2, addresses: [${Array.from({ length: 6000 }, () => '192.0.2.7/32').join(', ')}]}]`)
  t.notOk(copies.ok)
  if (!copies.ok) {
    t.equal(copies.errors.length, 51, '50 listed and one that counts the rest')
    t.match(copies.errors[50]?.message ?? '', /and 5949 more problems not listed/, '5999 overlapping entries in all, each once')
  }
  const big = parsePoolConfig(`address-pools: [{name: p, protocol: layer2, addresses: ["192.0.2.0/32"]}]\n#${'x'.repeat(CONFIG_LIMITS.bytes)}`)
  t.match(big.ok ? '' : big.errors[0]?.message ?? '', /^too large: \d+ characters/)
  let bomb = 'x0: &x0 [a, a, a, a, a, a, a, a, a, a]\n'
  for (let i = 1; i < 9; i++) bomb += `x${i}: &x${i} [${Array.from({ length: 10 }, () => `*x${i - 1}`).join(', ')}]\n`
  const laughs = parsePoolConfig(`${bomb}address-pools: [{name: p, protocol: layer2, addresses: *x8}]\n`)
  t.match(laughs.ok ? '' : laughs.errors[0]?.message ?? '', /too large: more than \d+ values once YAML aliases are expanded/, 'an alias bomb is refused before it is walked')
  const pools = parsePoolConfig(`address-pools:\n${Array.from({ length: CONFIG_LIMITS.pools + 1 }, (_, i) => `- {name: p${i}, protocol: layer2, addresses: []}\n`).join('')}`)
  t.match(pools.ok ? '' : pools.errors[0]?.message ?? '', /too large: 10001 pools/)
})

t.test('messages say what was written', async t => {
  const cidr = parsePoolConfig('address-pools: [{name: p, protocol: layer2, addresses: [203.0.113.0/-1]}]')
  t.match(cidr.ok ? '' : cidr.errors[0]?.message ?? '', /prefix length must be 0\.\.32/, 'a CIDR with a bad prefix is a CIDR, not a range')
  const label = parsePoolConfig('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/24], service-selectors: [{matchExpressions: [{operator: Exists}]}]}]')
  t.same(label.ok ? [] : label.errors.map(e => [e.path, e.message]), [['address-pools[p].service-selectors[0].matchExpressions[0].key', 'the expression has no key']])
  const badKey = parsePoolConfig('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/24], service-selectors: [{matchExpressions: [{key: "a b", operator: Exists}]}]}]')
  t.match(badKey.ok ? '' : badKey.errors[0]?.message ?? '', 'string "a b" is not a valid label key')
  // `team:` with nothing after it is YAML null: said as a missing value, with the way to write the empty one.
  const noValue = parsePoolConfig('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/24], service-selectors: [{matchLabels: {team: }}]}]')
  t.same(noValue.ok ? [] : noValue.errors.map(e => [e.path, e.message, e.fix]), [[
    'address-pools[p].service-selectors[0].matchLabels.team', 'label team has no value', 'write the value after "team:", or team: "" to match the empty value',
  ]])
  const all = [label, badKey, noValue].flatMap(r => (r.ok ? [] : r.errors.map(formatConfigError))).join('\n')
  t.notMatch(all, /undefined|nothing/, 'no message names a JavaScript value')
})

t.test('priority: 0 is unset, as in MetalLB', async t => {
  // MetalLB internal/allocator/allocator.go, sortPools: "when no priority (0) set on the pool, then that is
  // considered as lowest priority".
  const zero = parsePoolConfig(pool('  priority: 0\n'))
  t.equal(zero.ok ? zero.config.pools[0]?.priority : 'invalid', null)
  const neg = parsePoolConfig(pool('  priority: -1\n'))
  t.same(neg.ok ? [] : neg.errors.map(e => [e.path, e.message]), [['address-pools[p].priority', 'priority -1 is negative']])
})

t.test('overlaps are reported beside a pool\'s other errors', async t => {
  // README: "every error in the config is reported at once". Pool b has a bad entry and a bad auto-assign,
  // the unnamed pool a missing name: their good entries' overlaps with pool a are still reported, each
  // at the index it has as written.
  const r = parsePoolConfig(`
address-pools:
- {name: a, protocol: layer2, addresses: [192.0.2.0/28]}
- {name: b, protocol: layer2, addresses: [bad, 192.0.2.8/29], auto-assign: maybe}
- {protocol: layer2, addresses: [192.0.2.1/32]}
`)
  t.same(r.ok ? [] : r.errors.map(e => e.path), [
    'address-pools[b].addresses[0]',
    'address-pools[b].auto-assign',
    'address-pools[2].name',
    'address-pools[2].addresses[0]',
    'address-pools[b].addresses[1]',
  ])
  t.match(r.ok ? '' : r.errors[4]?.message ?? '', '192.0.2.8/29 overlaps 192.0.2.0/28 in address-pools[a].addresses[0]')
})

t.test('every error is reported, not only the first', async t => {
  const r = parsePoolConfig(`
address-pools:
- {name: a, protocol: bgp, addresses: [192.0.2.0/33], color: red}
`)
  t.notOk(r.ok)
  if (!r.ok) t.equal(r.errors.length, 3)
})

t.test('label selectors match like Kubernetes', async t => {
  const labels = { tier: 'web', team: 'a' }
  const m = (sel: object): boolean => selectorMatches({ matchLabels: {}, matchExpressions: [], ...sel }, labels)
  t.ok(m({}), 'empty selector matches everything')
  t.ok(m({ matchLabels: { tier: 'web' } }))
  t.notOk(m({ matchLabels: { tier: 'db' } }))
  t.ok(m({ matchExpressions: [{ key: 'team', operator: 'In', values: ['a', 'b'] }] }))
  t.notOk(m({ matchExpressions: [{ key: 'team', operator: 'NotIn', values: ['a'] }] }))
  t.ok(m({ matchExpressions: [{ key: 'other', operator: 'NotIn', values: ['a'] }] }), 'NotIn matches a missing label')
  t.ok(m({ matchExpressions: [{ key: 'tier', operator: 'Exists', values: [] }] }))
  t.notOk(m({ matchExpressions: [{ key: 'tier', operator: 'DoesNotExist', values: [] }] }))
})
