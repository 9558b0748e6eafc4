import t from 'tap'
import { eligibleInterfaces, type InterfaceInfo } from '../../speaker/core/interfaces.js'

const iface = (name: string, over: Partial<InterfaceInfo> = {}): InterfaceInfo =>
  ({ name, up: true, noArp: false, enslaved: false, mac: '02:00:00:00:00:01', ...over })

t.test('default selection skips what MetalLB skips', async t => {
  const v = eligibleInterfaces([
    iface('eth0'), iface('lo', { noArp: true, mac: '00:00:00:00:00:00' }), iface('veth1234'), iface('docker0'),
    iface('kube-ipvs0'), iface('eth1', { up: false }), iface('eth2', { noArp: true }), iface('eth3', { enslaved: true }),
  ], [])
  t.same(v.filter(x => x.eligible).map(x => x.name), ['eth0'])
  const reasons = Object.fromEntries(v.filter(x => !x.eligible).map(x => [x.name, 'reason' in x ? x.reason : '']))
  t.equal(reasons.veth1234, 'excluded by name')
  t.equal(reasons['kube-ipvs0'], 'excluded by name')
  t.equal(reasons.eth1, 'down')
  t.equal(reasons.eth2, 'NOARP')
  t.equal(reasons.eth3, 'enslaved to a bridge or bond')
})

t.test('explicit names override the name exclusions but not the state checks', async t => {
  const v = eligibleInterfaces([iface('veth0'), iface('eth1', { up: false })], ['veth0', 'eth1', 'eth9'])
  t.same(v, [
    { name: 'veth0', eligible: true },
    { name: 'eth1', eligible: false, reason: 'down' },
    { name: 'eth9', eligible: false, reason: 'no such interface' },
  ])
})
