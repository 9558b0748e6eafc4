import t from 'tap'
import { parsePoolConfig, type PoolConfig } from '../../internal/core/pool-config.js'
import { advertisementOf, interfacesFor, nodeMayAnnounce } from '../../speaker/core/advertisement.js'

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
  t.equal(advertisementOf('not-an-ip', c), null)
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
