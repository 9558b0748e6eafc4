import t from 'tap'
import { Allocator } from '../../controller/core/allocator.js'
import { requestFromService } from '../../controller/core/allocation-request.js'
import { backendKey, sharingConflict, type SharingInfo } from '../../controller/core/sharing.js'
import type { ServiceView } from '../../internal/core/views.js'
import { config, svc } from './allocator-fixtures.js'

const info = (sharingKey: string | null, ports: [string, number][], backend = ''): SharingInfo => ({
  sharingKey,
  backendKey: backend,
  ports: ports.map(([protocol, port]) => ({ protocol: protocol === 'UDP' ? 'UDP' : protocol === 'SCTP' ? 'SCTP' : 'TCP', port })),
})

t.test('sharing rules', async t => {
  const cases: [string, SharingInfo, SharingInfo, RegExp | null][] = [
    ['same key, disjoint ports', info('k', [['TCP', 80]]), info('k', [['TCP', 443]]), null],
    ['TCP/53 and UDP/53', info('k', [['TCP', 53]]), info('k', [['UDP', 53]]), null],
    ['same port twice', info('k', [['TCP', 80]]), info('k', [['TCP', 80]]), /both use TCP\/80/],
    ['different keys', info('k', [['TCP', 80]]), info('j', [['TCP', 443]]), /keys differ/],
    ['one without key', info('k', [['TCP', 80]]), info(null, [['TCP', 443]]), /allow-shared-ip/],
    ['different backends', info('k', [['TCP', 80]], 'app=a'), info('k', [['TCP', 443]], 'app=b'), /backends/],
  ]
  for (const [what, a, b, want] of cases) {
    const got = sharingConflict(a, b)
    if (want === null) t.equal(got, null, what)
    else t.match(got ?? '', want, what)
    t.equal(got === null, sharingConflict(b, a) === null, `${what}: symmetric`)
  }
})

t.test('backend key: Cluster is "", Local is the selector, order-independent', async t => {
  t.equal(backendKey('Cluster', { app: 'x' }), '')
  t.equal(backendKey('Local', { b: '2', a: '1' }), 'a=1,b=2')
  t.equal(backendKey('Local', { a: '1', b: '2' }), backendKey('Local', { b: '2', a: '1' }))
})

function fresh(): Allocator {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/30]}]'))
  a.restore([])
  return a
}
const shared = (name: string, key: string, port: number, over: Partial<ServiceView> = {}): ServiceView =>
  svc(name, { annotations: { 'l2lb.dev/allow-shared-ip': key }, ports: [{ name: 'p', protocol: 'TCP', port }], ...over })
function assign(a: Allocator, s: ServiceView): string {
  const r = requestFromService(s)
  if (!r.ok) return r.failure.kind
  const res = a.assign(r.request)
  return res.ok ? res.assignment.texts.join(',') : res.failure.kind
}

t.test('Services with the same key share the IP automatically', async t => {
  const a = fresh()
  t.equal(assign(a, shared('dns-tcp', 'dns', 53)), '192.0.2.0')
  t.equal(assign(a, shared('dns-udp', 'dns', 53, { ports: [{ name: 'dns', protocol: 'UDP', port: 53 }] })), '192.0.2.0', 'TCP/53 and UDP/53')
  t.equal(assign(a, shared('web', 'dns', 80)), '192.0.2.0', 'a third Service with the same key')
  t.equal(assign(a, shared('web2', 'dns', 80)), '192.0.2.1', 'port clash: a fresh IP instead')
  t.equal(assign(a, svc('plain')), '192.0.2.2', 'a Service without a key never lands on a shared IP')
  t.equal(a.usage()[0]?.inUse, 3n, 'a shared IP counts once')
  t.same([...a.holders({ family: 'IPv4', value: 0xc0000200n })].sort(), ['default/dns-tcp', 'default/dns-udp', 'default/web'])
  a.release('default/dns-tcp')
  a.release('default/dns-udp')
  t.equal(a.usage()[0]?.inUse, 3n, 'still held by web')
  a.release('default/web')
  t.equal(a.usage()[0]?.inUse, 2n, 'free once the last holder goes')
})

t.test('requested shared IPs follow the same rules', async t => {
  const a = fresh()
  t.equal(assign(a, shared('a', 'k', 80, { loadBalancerIP: '192.0.2.3' })), '192.0.2.3')
  t.equal(assign(a, shared('b', 'k', 443, { loadBalancerIP: '192.0.2.3' })), '192.0.2.3')
  t.equal(assign(a, shared('c', 'other', 8080, { loadBalancerIP: '192.0.2.3' })), 'ipTaken')
  t.equal(assign(a, shared('d', 'k', 80, { loadBalancerIP: '192.0.2.3' })), 'ipTaken', 'port overlap')
  t.equal(assign(a, shared('e', 'k', 81, { loadBalancerIP: '192.0.2.3', externalTrafficPolicy: 'Local' })), 'ipTaken', 'Local needs the same selector')
  t.equal(assign(a, shared('f', 'k', 82, { loadBalancerIP: '192.0.2.3' })), '192.0.2.3')
})

t.test('a Service that stops being shareable leaves the shared IP', async t => {
  const a = fresh()
  t.equal(assign(a, shared('a', 'k', 80)), '192.0.2.0')
  t.equal(assign(a, shared('b', 'k', 443)), '192.0.2.0')
  t.equal(assign(a, shared('b', 'k', 80)), '192.0.2.1', 'b now clashes with a on TCP/80: it moves, a stays')
  t.equal(assign(a, shared('a', 'k', 80)), '192.0.2.0')
})

t.test('a Service that changes its sharing key takes its IP to the new key', async t => {
  const a = fresh()
  t.equal(assign(a, shared('a', 'old', 80)), '192.0.2.0')
  t.equal(assign(a, shared('a', 'new', 80)), '192.0.2.0', 'the key changes, the IP stays')
  t.equal(assign(a, shared('b', 'new', 443)), '192.0.2.0', 'b (same new key, other port) shares it')
  t.equal(assign(a, shared('c', 'old', 443)), '192.0.2.1', 'the old key no longer leads to the IP')
  t.equal(a.usage()[0]?.inUse, 2n)
  // Back to the old key: a may no longer share with b, so it moves, and joins c under the old key.
  t.equal(assign(a, shared('a', 'old', 80)), '192.0.2.1', 'a leaves b and shares with c')
  t.equal(assign(a, shared('d', 'new', 8080)), '192.0.2.0', 'the IP a left is still filed under b\'s key')
  t.equal(a.usage()[0]?.inUse, 2n)
})

t.test('a holder whose sharing changes opens its address to waiting Services (freedCount moves)', async t => {
  const a = new Allocator()
  a.setConfig(config('address-pools: [{name: p, protocol: layer2, addresses: [192.0.2.0/32]}]'))
  a.restore([])
  t.equal(assign(a, svc('holder')), '192.0.2.0')
  t.equal(assign(a, shared('waiter', 'k', 443)), 'poolExhausted', 'the only address is held without a key')
  const before = a.freedCount()
  t.equal(assign(a, shared('holder', 'k', 80)), '192.0.2.0', 'the holder now carries the same key')
  t.not(a.freedCount(), before, 'counted as an opening, so reconcile retries the waiting Services')
  t.equal(assign(a, shared('waiter', 'k', 443)), '192.0.2.0', 'and the waiter now shares it')
  const same = a.freedCount()
  assign(a, shared('holder', 'k', 80))
  t.equal(a.freedCount(), same, 'nothing changed, nothing counted')
})
