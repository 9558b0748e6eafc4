import t from 'tap'
import { ip as canonical } from '../lib/canonical-ip.js'
import { parsePoolConfig, type PoolConfig } from '../../internal/core/pool-config.js'
import { advertisementOf as advertisementIn, indexPools, interfacesFor, nodeMayAnnounce } from '../../speaker/core/advertisement.js'

const advertisementOf = (ip: string, c: PoolConfig) => advertisementIn(canonical(ip), indexPools(c))

function config(text: string): PoolConfig {
  const r = parsePoolConfig(text)
  if (!r.ok) throw new Error(r.errors.map(e => e.message).join('; '))
  return r.config
}

const pools = `address-pools:
- name: a
  protocol: layer2
  addresses: [192.0.2.240/30]
- name: b
  protocol: layer2
  addresses: [192.0.2.244/30, "2001:db8:0:1::f0/124"]
`

t.test('without l2-advertisements every pool is announced everywhere', async t => {
  const c = config(pools)
  const adv = advertisementOf('192.0.2.241', c)
  t.equal(adv?.pool, 'a')
  t.ok(adv && nodeMayAnnounce(adv, {}))
  t.equal(adv && interfacesFor(adv, {}), null, 'every eligible interface')
  t.equal(advertisementOf('2001:db8:0:1::f3', c)?.pool, 'b', 'IPv6 addresses are found too')
  t.equal(advertisementOf('192.0.2.9', c), null, 'outside every pool: never announced')
})

t.test('advertisements restrict pools, nodes and interfaces', async t => {
  const c = config(pools + `l2-advertisements:
- ip-address-pools: [a]
  node-selectors:
  - matchLabels: {zone: east}
  interfaces: [eth1]
- ip-address-pools: [a]
  node-selectors:
  - matchExpressions: [{key: edge, operator: Exists}]
  interfaces: [eth2]
`)
  const a = advertisementOf('192.0.2.240', c)
  t.ok(a)
  if (!a) return
  t.notOk(nodeMayAnnounce(a, { zone: 'west' }), 'unselected node may not announce')
  t.ok(nodeMayAnnounce(a, { zone: 'east' }))
  t.same([...(interfacesFor(a, { zone: 'east' }) ?? [])], ['eth1'])
  t.same([...(interfacesFor(a, { zone: 'east', edge: '' }) ?? [])].sort(), ['eth1', 'eth2'], 'union over matching advertisements')
  const b = advertisementOf('192.0.2.245', c)
  t.same(b?.rules, [], 'pool b is named by no advertisement')
  t.notOk(b && nodeMayAnnounce(b, { zone: 'east' }), 'so nobody announces it')
})

t.test('the pool index finds the pool of every address, in ranges sorted any way, and nothing between them', async t => {
  // 300 pools of one /32 each, given in reverse order, and a v6 pool: the binary search must find each one.
  const lines = ['address-pools:']
  for (let i = 299; i >= 0; i--) lines.push(`- name: p${i}`, '  protocol: layer2', `  addresses: [198.18.${i >> 8}.${i & 255}/32]`)
  lines.push('- name: v6', '  protocol: layer2', '  addresses: ["2001:db8:5::/120"]')
  const parsed = parsePoolConfig(`${lines.join('\n')}\n`)
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
  const index = indexPools(parsed.config)
  let found = 0
  for (let i = 0; i < 300; i++) if (advertisementIn(canonical(`198.18.${i >> 8}.${i & 255}`), index)?.pool === `p${i}`) found++
  t.equal(found, 300, 'each /32 in its own pool')
  t.equal(advertisementIn(canonical('198.18.1.44'), index), null, 'just past the last range')
  t.equal(advertisementIn(canonical('198.17.255.255'), index), null, 'just before the first')
  t.equal(advertisementIn(canonical('2001:db8:5::ff'), index)?.pool, 'v6')
  t.equal(advertisementIn(canonical('2001:db8:5::100'), index), null)
})
