// The controller's environment, read into settings or named errors (controller/settings.ts).
import t from 'tap'
import { controllerSettings } from '../../controller/settings.js'

t.test('defaults', async t => {
  const r = controllerSettings({})
  t.ok(r.ok)
  if (r.ok) {
    t.same(r.settings.listen, { host: '0.0.0.0', port: 7472 })
    t.same([r.settings.leaseMs, r.settings.renewDeadlineMs, r.settings.retryMs], [15_000, 10_000, 2_000], "client-go's timing")
    t.equal(r.settings.leaderElect, true)
    t.equal(r.settings.configNamespace, 'l2lb-system')
    t.equal(r.settings.loadBalancerClass, null)
  }
})

t.test('leader election timing is configurable, in seconds', async t => {
  const r = controllerSettings({ L2LB_LEADER_LEASE_SECONDS: '4', L2LB_LEADER_RENEW_DEADLINE_SECONDS: '2.5', L2LB_LEADER_RETRY_SECONDS: '0.5' })
  t.same(r.ok ? [r.settings.leaseMs, r.settings.renewDeadlineMs, r.settings.retryMs] : null, [4000, 2500, 500])
})

t.test('every problem is named, with the variable', async t => {
  const r = controllerSettings({ L2LB_METRICS_ADDR: 'nope', L2LB_LEADER_ELECT: 'yes', L2LB_LEADER_LEASE_SECONDS: '-1', L2LB_LEADER_RENEW_DEADLINE_SECONDS: '20' })
  t.notOk(r.ok)
  const text = r.ok ? '' : r.errors.join('\n')
  t.match(text, /L2LB_METRICS_ADDR/)
  t.match(text, /L2LB_LEADER_ELECT="yes": expected true or false/)
  t.match(text, /L2LB_LEADER_LEASE_SECONDS="-1": expected a number of seconds/)
  t.match(text, /L2LB_LEADER_RENEW_DEADLINE_SECONDS \(20\) must be below L2LB_LEADER_LEASE_SECONDS \(15\)/)
})
