import t from 'tap'
import { formatConfigError, parsePoolConfig, selectorMatches } from '../../controller/core/pool-config.js'

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
- {name: a, protocol: layer2, addresses: [0.0.0.0/0]}
- {name: b, protocol: layer2, addresses: ["::/0"]}
`)
  t.ok(v4v6.ok, 'IPv4 and IPv6 never overlap')
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
