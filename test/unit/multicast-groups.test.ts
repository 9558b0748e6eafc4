// MulticastGroups alone (speaker/multicast-groups.ts): join a group with the first address that needs it,
// leave it after the last, never throw for a failed join or leave. Over a fake link that records membership.
import t from 'tap'
import { pino } from 'pino'
import { MulticastGroups } from '../../speaker/multicast-groups.js'
import { solicitedNodeMac } from '../../speaker/core/ipv6.js'
import { parseMac } from '../../speaker/core/ethernet.js'
import { FakeLink } from '../lib/fake-link.js'

const log = pino({ level: 'silent' })
const hooks = {
  groupOf: solicitedNodeMac,
  join: (link: FakeLink, group: Buffer) => link.addMembership(group),
  leave: (link: FakeLink, group: Buffer) => link.dropMembership(group),
}

t.test('addresses sharing a group: joined once, left after the last', async t => {
  const link = new FakeLink(parseMac('02:00:00:00:00:0b'))
  const g = new MulticastGroups(hooks, log)
  t.same(link.membership, [], 'the constructor joins nothing')
  g.join(link, '2001:db8::f0')
  g.join(link, '2001:db8:1::f0') // same low 24 bits: same solicited-node group
  g.join(link, '2001:db8::f1')
  t.same(link.membership, ['+33:33:ff:00:00:f0', '+33:33:ff:00:00:f1'])
  t.same(g.counts(), { '33:33:ff:00:00:f0': 2, '33:33:ff:00:00:f1': 1 })
  g.leave(link, '2001:db8::f0')
  t.same(link.membership.length, 2, 'still shared')
  g.leave(link, '2001:db8:1::f0')
  t.same(link.membership.slice(2), ['-33:33:ff:00:00:f0'])
  g.leave(link, '2001:db8:1::f0')
  t.same(link.membership.length, 3, 'leaving a group not held does nothing')
  t.same(g.counts(), { '33:33:ff:00:00:f1': 1 })
  t.equal(g.errors, 0)
})

t.test('a failed join is counted and the address still shares the group; a group never joined is not left', async t => {
  const link = new FakeLink(parseMac('02:00:00:00:00:0b'))
  const g = new MulticastGroups(hooks, log)
  link.failJoins = true
  g.join(link, '2001:db8::f0')
  link.failJoins = false
  g.join(link, '2001:db8:1::f0')
  t.equal(g.errors, 1)
  t.same(g.counts(), { '33:33:ff:00:00:f0': 2 })
  g.leave(link, '2001:db8::f0')
  g.leave(link, '2001:db8:1::f0')
  t.same(link.membership, [])
})

t.test('a failed leave is counted, never thrown; clear forgets without leaving (the link is closing)', async t => {
  const link = new FakeLink(parseMac('02:00:00:00:00:0b'))
  const g = new MulticastGroups({ ...hooks, leave: () => { throw new Error('setsockopt EBADF') } }, log)
  g.join(link, '2001:db8::f0')
  t.doesNotThrow(() => g.leave(link, '2001:db8::f0'))
  t.equal(g.errors, 1)
  g.join(link, '2001:db8::f1')
  g.clear()
  t.same(g.counts(), {})
  t.same(link.membership, ['+33:33:ff:00:00:f0', '+33:33:ff:00:00:f1'])
})
