// Probing before claiming, pure: the schedule (core/probe.ts) and the Service annotations that say which IPs
// the cluster announced before and which a probe found held (core/claims.ts, internal/core/annotations.ts).
import t from 'tap'
import { ip as canonical, ips } from '../lib/canonical-ip.js'
import { PROBE_TIMING, probePlan, retryAfterMs } from '../../speaker/core/probe.js'
import { claimPatch, needsProbe } from '../../speaker/core/claims.js'
import { ADDRESS_IN_USE, ANNOUNCED_IPS, addressesInUse, announcedIPs } from '../../internal/core/annotations.js'

t.test('the schedule: probes at once and 200 ms apart, free 400 ms after the last; under RFC 4862 DAD\'s 1 s', async t => {
  t.same(probePlan(PROBE_TIMING), { sendAtMs: [0, 200, 400], decideAtMs: 800 })
  t.ok(probePlan(PROBE_TIMING).decideAtMs <= 1000)
  t.same(probePlan({ ...PROBE_TIMING, probes: 0 }).sendAtMs, [0], 'at least one probe')
})

t.test('retries: every retryMs, then once per RATE_LIMIT_INTERVAL from MAX_CONFLICTS refusals on (RFC 5227 §2.1.1)', async t => {
  t.equal(retryAfterMs(1, PROBE_TIMING), 10_000)
  t.equal(retryAfterMs(9, PROBE_TIMING), 10_000)
  t.equal(retryAfterMs(10, PROBE_TIMING), 60_000)
})

t.test('needsProbe: only an IP no node of the cluster announced for this Service', async t => {
  const a = { [ANNOUNCED_IPS]: '192.0.2.240,2001:DB8:0::F0' }
  t.notOk(needsProbe(canonical('192.0.2.240'), a), 'announced before: a takeover, no probe')
  t.notOk(needsProbe(canonical('2001:db8::f0'), a), 'any spelling of the address in the annotation')
  t.ok(needsProbe(canonical('192.0.2.241'), a))
  t.ok(needsProbe(canonical('192.0.2.240'), {}), 'no annotation: never announced')
  t.same([...announcedIPs({ [ANNOUNCED_IPS]: ' 192.0.2.1 , junk,,2001:DB8::1' })], ['192.0.2.1', '2001:db8::1'], 'junk in the annotation is ignored')
})

t.test('claimPatch: free adds to announced-ips and clears in-use; in-use records the MAC; IPs the Service lost drop out', async t => {
  const ingress = ips('192.0.2.240', '2001:db8::f0')
  t.same(claimPatch({}, ingress, { ip: canonical('192.0.2.240'), interface: 'eth0', result: 'free' }), { [ANNOUNCED_IPS]: '192.0.2.240' })
  t.same(
    claimPatch({ [ANNOUNCED_IPS]: '192.0.2.240' }, ingress, { ip: canonical('2001:db8::f0'), interface: 'eth0', result: 'in-use', mac: '02:00:00:00:00:99' }),
    { [ADDRESS_IN_USE]: '2001:db8::f0=02:00:00:00:00:99' },
  )
  t.same(
    claimPatch({ [ANNOUNCED_IPS]: '192.0.2.240', [ADDRESS_IN_USE]: '2001:db8::f0=02:00:00:00:00:99' }, ingress, { ip: canonical('2001:db8::f0'), interface: 'eth1', result: 'free' }),
    { [ANNOUNCED_IPS]: '192.0.2.240,2001:db8::f0', [ADDRESS_IN_USE]: null },
    'the host went away: announced, and the in-use entry removed',
  )
  t.equal(claimPatch({ [ANNOUNCED_IPS]: '192.0.2.240' }, ingress, { ip: canonical('192.0.2.240'), interface: 'eth0', result: 'free' }), null, 'nothing to change: no write')
  t.equal(claimPatch({}, ips('192.0.2.9'), { ip: canonical('192.0.2.240'), interface: 'eth0', result: 'free' }), null, 'an IP the Service no longer has: nothing recorded')
  t.same(
    claimPatch({ [ANNOUNCED_IPS]: '192.0.2.1,192.0.2.240' }, ips('192.0.2.240', '192.0.2.241'), { ip: canonical('192.0.2.241'), interface: 'eth0', result: 'free' }),
    { [ANNOUNCED_IPS]: '192.0.2.240,192.0.2.241' },
    'an IP the Service gave up drops out, so its next owner probes it',
  )
  const m = addressesInUse({ [ADDRESS_IN_USE]: '192.0.2.1=02:00:00:00:00:01,bad,192.0.2.2=zz,2001:db8::1=02:00:00:00:00:02' })
  t.same([...m], [['192.0.2.1', '02:00:00:00:00:01'], ['2001:db8::1', '02:00:00:00:00:02']], 'unreadable entries are ignored')
})
