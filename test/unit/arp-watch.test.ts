// The lab's ARP watch analysis (test/lab/arp-watch.ts): gaps, double answers and owners from a record.
import t from 'tap'
import { analyseArpWatch, describeIpWatch, type ArpWatchRecord } from '../lab/arp-watch.js'

const A = '02:00:c0:00:02:0b'
const B = '02:00:c0:00:02:0c'

function record(replies: [number, string][], until = 1000): ArpWatchRecord {
  const requests = []
  for (let t = 0; t < until; t += 20) requests.push({ t, ip: '192.0.2.240' })
  return { startedMs: 0, stoppedMs: until + 20, intervalMs: 20, requests, replies: replies.map(([t, mac]) => ({ t, ip: '192.0.2.240', mac })) }
}

t.test('an IP answered by one MAC throughout, then handed over with a gap', async t => {
  const replies: [number, string][] = []
  for (let t = 0; t < 400; t += 20) replies.push([t + 1, A])
  for (let t = 640; t < 1000; t += 20) replies.push([t + 1, B]) // nobody answered 400..639
  const w = analyseArpWatch(record(replies)).get('192.0.2.240')
  if (!w) throw new Error('no analysis')
  t.equal(w.requests, 50)
  t.equal(w.answered, 38)
  t.equal(w.longestGapMs, 641 - 381, 'from the last answer of A to the first of B')
  t.equal(w.longestGapAtMs, 381)
  t.equal(w.doubleAnswers, 0)
  t.same(w.owners, [A, B])
  t.match(describeIpWatch(w), /38\/50 answered, longest gap 260 ms at \+381 ms, 0 answered by two MACs, owners .*0b -> .*0c/)
})

t.test('two MACs answering one request are counted; a span leaves out what came before', async t => {
  const replies: [number, string][] = []
  for (let t = 0; t < 1000; t += 20) replies.push([t + 1, A])
  replies.push([101, B], [121, B])
  const w = analyseArpWatch(record(replies)).get('192.0.2.240')
  t.equal(w?.doubleAnswers, 2)
  t.same(w?.firstDouble, { atMs: 100, macs: [A, B] })
  t.equal(analyseArpWatch(record(replies), { fromMs: 200 }).get('192.0.2.240')?.doubleAnswers, 0)
})

t.test('silence at the end counts as a gap up to the last request', async t => {
  const w = analyseArpWatch(record([[1, A], [21, A]])).get('192.0.2.240')
  t.equal(w?.longestGapMs, 980 - 21)
  t.same(w?.owners, [A])
})
