// Layer2Counters alone (speaker/layer2-counters.ts): per-IP counts and drops, the l2lb_layer2_* series once
// registered, and a withdrawn IP's counts and series dropped while drop counts stay.
import t from 'tap'
import { Layer2Counters } from '../../speaker/layer2-counters.js'
import { MetricsRegistry } from '../../internal/observe/metrics.js'

type Reason = 'malformed' | 'not-announced'
const zero = (): Record<Reason, number> => ({ malformed: 0, 'not-announced': 0 })
const dropMetric = { name: 'l2lb_layer2_test_dropped', help: 'test drops' }

t.test('counts without a registry; every reason shows, at 0 when never seen', async t => {
  const c = new Layer2Counters<Reason>(dropMetric)
  c.request('192.0.2.1')
  c.request('192.0.2.1')
  c.response('192.0.2.1')
  c.gratuitous('192.0.2.2')
  c.conflict('192.0.2.2')
  c.inUse('192.0.2.3')
  c.drop('malformed')
  t.same(c.counts(zero()), {
    requestsReceived: { '192.0.2.1': 2 },
    responsesSent: { '192.0.2.1': 1 },
    gratuitousSent: { '192.0.2.2': 1 },
    conflictsSeen: { '192.0.2.2': 1 },
    addressInUse: { '192.0.2.3': 1 },
    drops: { malformed: 1, 'not-announced': 0 },
  })
})

t.test('registered: the series follow the counts; forget drops an IP\'s counts and series, not the drops', async t => {
  const metrics = new MetricsRegistry()
  const c = new Layer2Counters<Reason>(dropMetric)
  t.equal(metrics.render().includes('l2lb_layer2'), false, 'the constructor registers nothing')
  c.register(metrics)
  c.request('192.0.2.1')
  c.response('192.0.2.1')
  c.gratuitous('192.0.2.1')
  c.conflict('192.0.2.1')
  c.inUse('192.0.2.1')
  c.gratuitous('192.0.2.2')
  c.drop('not-announced')
  let text = metrics.render()
  for (const name of ['requests_received', 'responses_sent', 'gratuitous_sent', 'conflicts_seen', 'address_in_use']) {
    t.match(text, `l2lb_layer2_${name}{ip="192.0.2.1"} 1`)
  }
  t.match(text, 'l2lb_layer2_test_dropped{reason="not-announced"} 1')
  c.forget('192.0.2.1')
  text = metrics.render()
  t.notMatch(text, '192.0.2.1"')
  t.match(text, 'l2lb_layer2_gratuitous_sent{ip="192.0.2.2"} 1')
  t.match(text, 'l2lb_layer2_test_dropped{reason="not-announced"} 1')
  const counts = c.counts(zero())
  t.same(counts.requestsReceived, {})
  t.same(counts.gratuitousSent, { '192.0.2.2': 1 })
  t.same(counts.drops, { malformed: 0, 'not-announced': 1 })
})
