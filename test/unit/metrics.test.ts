import t from 'tap'
import { MetricsRegistry } from '../../internal/observe/metrics.js'
import { parseListenAddress } from '../../internal/observe/listen-address.js'

t.test('renders the Prometheus text format with exact bigint values', async t => {
  const r = new MetricsRegistry()
  const total = r.gauge('l2lb_allocator_addresses_total', 'Usable addresses per pool')
  total.set({ pool: 'v6' }, 1n << 64n)
  const c = r.counter('l2lb_layer2_requests_received', 'ARP requests')
  c.inc({ ip: '192.0.2.240' }); c.inc({ ip: '192.0.2.240' }, 2)
  const text = r.render()
  t.match(text, '# TYPE l2lb_allocator_addresses_total gauge')
  t.match(text, 'l2lb_allocator_addresses_total{pool="v6"} 18446744073709551616')
  t.match(text, 'l2lb_layer2_requests_received{ip="192.0.2.240"} 3')
  total.remove({ pool: 'v6' })
  t.notMatch(r.render(), 'pool="v6"')
})

t.test('listen addresses', async t => {
  t.same(parseListenAddress('0.0.0.0:7472'), { ok: true, host: '0.0.0.0', port: 7472 })
  t.same(parseListenAddress('[::1]:9'), { ok: true, host: '::1', port: 9 })
  t.same(parseListenAddress(':7473'), { ok: true, host: '0.0.0.0', port: 7473 })
  const bad = parseListenAddress('7472')
  t.equal(bad.ok, false)
  t.match(bad.ok ? '' : bad.error, 'host:port')
})
