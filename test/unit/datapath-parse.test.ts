// The datapath bench's readers of arping, tcpdump and /proc output (bench/lib/datapath-parse.ts), on text in
// the exact shapes those tools print (iputils arping 20221126, tcpdump 4.99 with -n -tt nano timestamps).
import t from 'tap'
import { parseArpingRuns, percentile, statCpuTicks, wireTimes } from '../../bench/lib/datapath-parse.js'

t.test('percentile is nearest-rank', async t => {
  t.ok(Number.isNaN(percentile([], 50)))
  t.equal(percentile([7], 50), 7)
  const ten = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
  t.equal(percentile(ten, 50), 5)
  t.equal(percentile(ten, 90), 9)
  t.equal(percentile(ten, 100), 10)
  t.equal(percentile(ten, 0), 1)
})

t.test('arping runs: replies belong to the run that asked, an unanswered run has none', async t => {
  const out = [
    'ARPING 192.0.2.211 from 192.0.2.212 tbench-c',
    'Unicast reply from 192.0.2.211 [9E:04:41:07:60:4F]  0.544ms',
    'Sent 1 probes (1 broadcast(s))',
    'Received 1 response(s)',
    'ARPING 192.0.2.241 from 192.0.2.212 tbench-c',
    'Sent 1 probes (1 broadcast(s))',
    'Received 0 response(s)',
    'ARPING 192.0.2.241 from 192.0.2.212 tbench-c',
    'Unicast reply from 192.0.2.211 [9E:04:41:07:60:4F]  0.500ms',
    'Broadcast reply from 192.0.2.241 [9E:04:41:07:60:4F]  1.250ms',
    'Sent 1 probes (1 broadcast(s))',
    'Received 1 response(s)',
    '',
  ].join('\n')
  t.same(parseArpingRuns(out), [
    { target: '192.0.2.211', replies: [{ mac: '9e:04:41:07:60:4f', ms: 0.544 }] },
    { target: '192.0.2.241', replies: [] },
    { target: '192.0.2.241', replies: [{ mac: '9e:04:41:07:60:4f', ms: 1.25 }] },
  ])
  t.same(parseArpingRuns(''), [])
})

t.test('wire times pair each client request with the next reply for that address', async t => {
  const capture = [
    // warm-up request and reply for .211: skipped
    '1795315792.273715391 ARP, Request who-has 192.0.2.211 (ff:ff:ff:ff:ff:ff) tell 192.0.2.212, length 28',
    '1795315792.273740207 ARP, Reply 192.0.2.211 is-at aa:23:95:45:3e:2a, length 28',
    // gratuitous ARP from the responder: not a client request
    '1795315792.300000000 ARP, Request who-has 192.0.2.241 tell 192.0.2.241, length 46',
    '1795315792.300010000 ARP, Reply 192.0.2.241 is-at aa:23:95:45:3e:2a, length 46',
    // warm-up for .241, then one lost (no reply before the next request), then a measured pair
    '1795315792.400000000 ARP, Request who-has 192.0.2.241 (ff:ff:ff:ff:ff:ff) tell 192.0.2.212, length 28',
    '1795315792.400200000 ARP, Reply 192.0.2.241 is-at aa:23:95:45:3e:2a, length 28',
    '1795315792.500000000 ARP, Request who-has 192.0.2.241 (ff:ff:ff:ff:ff:ff) tell 192.0.2.212, length 28',
    '1795315792.600000000 ARP, Request who-has 192.0.2.241 (ff:ff:ff:ff:ff:ff) tell 192.0.2.212, length 28',
    '1795315792.600250500 ARP, Reply 192.0.2.241 is-at aa:23:95:45:3e:2a, length 28',
    '1795315792.700000000 ARP, Request who-has 192.0.2.211 (ff:ff:ff:ff:ff:ff) tell 192.0.2.212, length 28',
    '1795315792.700020000 ARP, Reply 192.0.2.211 is-at aa:23:95:45:3e:2a, length 28',
    // a request for an address not measured
    '1795315792.800000000 ARP, Request who-has 192.0.2.243 tell 192.0.2.212, length 28',
  ].join('\n')
  const times = wireTimes(capture, '192.0.2.212', ['192.0.2.211', '192.0.2.241'], 1)
  t.same([...times.keys()], ['192.0.2.211', '192.0.2.241'])
  const k = times.get('192.0.2.211') ?? []
  const s = times.get('192.0.2.241') ?? []
  t.equal(k.length, 1)
  t.equal(s.length, 1, 'the lost request does not pair with the later reply')
  t.ok(Math.abs((k[0] ?? 0) - 20) < 0.01, `kernel pair 20 us (${k[0]})`)
  t.ok(Math.abs((s[0] ?? 0) - 250.5) < 0.01, `speaker pair 250.5 us (${s[0]})`)
})

t.test('utime + stime from /proc/<pid>/stat, whatever the command name holds', async t => {
  const tail = 'S 1 2 3 0 -1 4194560 100 0 0 0 1234 567 0 0 20 0 11 0 42 1000 100 18446744073709551615'
  t.equal(statCpuTicks(`4242 (node) ${tail}`), 1234 + 567)
  t.equal(statCpuTicks(`4242 (odd) name (x)) ${tail}`), 1234 + 567)
  t.throws(() => statCpuTicks('4242 (node) S 1'))
})
