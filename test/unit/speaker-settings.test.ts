// The speaker's environment, read into settings or named errors (speaker/settings.ts).
import t from 'tap'
import { speakerSettings } from '../../speaker/settings.js'

const KEY = Buffer.alloc(32, 7).toString('base64')

t.test('defaults: only NODE_NAME is required', async t => {
  const r = speakerSettings({ NODE_NAME: 'node-a' })
  t.ok(r.ok)
  if (!r.ok) return
  t.same(r.settings, {
    nodeName: 'node-a',
    listen: { host: '0.0.0.0', port: 7473 },
    interfaces: [],
    loadBalancerClass: null,
    configNamespace: 'l2lb-system',
    configName: 'config',
    leaseSeconds: 3,
    heartbeatMs: 200,
    trust: { cluster: '', keys: [] },
  })
})

t.test('every variable is read', async t => {
  const r = speakerSettings({
    NODE_NAME: 'node-b', L2LB_METRICS_ADDR: '127.0.0.1:9000', L2LB_INTERFACES: ' eth1, ,eth2 ',
    L2LB_LOAD_BALANCER_CLASS: 'l2lb.dev/l2', L2LB_NAMESPACE: 'lb', L2LB_CONFIGMAP: 'pools',
    L2LB_LEASE_SECONDS: '10', L2LB_HEARTBEAT_MS: '0', L2LB_CLUSTER_NAME: 'east', L2LB_HEARTBEAT_KEYS: `1:${KEY}`,
  })
  t.ok(r.ok)
  if (!r.ok) return
  const s = r.settings
  t.same(s.listen, { host: '127.0.0.1', port: 9000 })
  t.same(s.interfaces, ['eth1', 'eth2'], 'a comma list, blanks ignored')
  t.same([s.loadBalancerClass, s.configNamespace, s.configName], ['l2lb.dev/l2', 'lb', 'pools'])
  t.same([s.leaseSeconds, s.heartbeatMs], [10, 0], '0: peer heartbeats off')
  t.equal(s.trust.cluster, 'east')
  t.same(s.trust.keys.map(k => k.id), [1])
})

t.test('an empty value means the default where the speaker always read it so', async t => {
  const r = speakerSettings({ NODE_NAME: 'n', L2LB_HEARTBEAT_MS: '', L2LB_NAMESPACE: '', L2LB_CONFIGMAP: '', L2LB_LOAD_BALANCER_CLASS: '' })
  t.same(r.ok ? [r.settings.heartbeatMs, r.settings.configNamespace, r.settings.configName, r.settings.loadBalancerClass] : null,
    [200, 'l2lb-system', 'config', null])
})

t.test('the heartbeat interval is bounded by a tenth of the Lease', async t => {
  t.equal(speakerSettings({ NODE_NAME: 'n', L2LB_LEASE_SECONDS: '3', L2LB_HEARTBEAT_MS: '300' }).ok, true)
  const r = speakerSettings({ NODE_NAME: 'n', L2LB_LEASE_SECONDS: '3', L2LB_HEARTBEAT_MS: '301' })
  t.notOk(r.ok)
  t.match(r.ok ? '' : r.errors.join('\n'), 'L2LB_HEARTBEAT_MS="301": write 0 (off) or a whole number of milliseconds from 20 to 300')
  t.notOk(speakerSettings({ NODE_NAME: 'n', L2LB_HEARTBEAT_MS: '19' }).ok, 'below 20 ms')
})

t.test('every problem is named, with the variable, not only the first', async t => {
  const r = speakerSettings({
    L2LB_METRICS_ADDR: 'nope', L2LB_LEASE_SECONDS: '0', L2LB_CLUSTER_NAME: 'x'.repeat(300), L2LB_HEARTBEAT_KEYS: 'not-a-key',
  })
  t.notOk(r.ok)
  const errors = r.ok ? [] : r.errors
  t.equal(errors.length, 5)
  const text = errors.join('\n')
  t.match(text, /NODE_NAME is not set: set it to this node's Kubernetes Node name/)
  t.match(text, /L2LB_METRICS_ADDR: .*host:port/)
  t.match(text, /L2LB_LEASE_SECONDS="0": write a whole number of seconds from 1 to 60 \(default 3\)/)
  t.match(text, /L2LB_CLUSTER_NAME: /)
  t.match(text, /L2LB_HEARTBEAT_KEYS: entry 1 of 1 is not id:base64-key/)
  t.notMatch(text, /L2LB_HEARTBEAT_MS/, 'the interval is not judged against a Lease that is itself wrong')
})
