// Prober alone (speaker/prober.ts): core/probe.ts's schedule sent on a link, an address free when nobody
// answered, refused and probed again later when a host did, cancelled by withdrawal, a lost link and close.
// The link is a fake one behind a minimal holder; time is a manual clock: nothing sleeps.
import t from 'tap'
import { pino } from 'pino'
import { Prober } from '../../speaker/prober.js'
import { parseMac } from '../../speaker/core/ethernet.js'
import { FakeLink } from '../lib/fake-link.js'
import { ManualClock } from '../lib/manual-clock.js'
import { ip as canonical } from '../lib/canonical-ip.js'

const log = pino({ level: 'silent' })
const mac = parseMac('02:00:00:00:00:0b')
const holder = parseMac('02:00:00:00:00:63')
const timing = { probes: 3, intervalMs: 200, waitMs: 400, retryMs: 10_000, maxConflicts: 2, rateLimitedRetryMs: 60_000 }

function harness(clock: ManualClock): { p: Prober<FakeLink>; link: { current: FakeLink | undefined }; events: string[]; probesAt: () => number[]; probe: (ip: string) => void } {
  const link: { current: FakeLink | undefined } = { current: new FakeLink(mac) }
  const events: string[] = []
  const sentAt: number[] = []
  const p = new Prober<FakeLink>({
    log, clock, timing,
    link: {
      get current() { return link.current },
      send: (l, frame) => { l.send(frame); sentAt.push(clock.now()); return true },
    },
    probes: (m, ip) => [Buffer.from(`probe ${ip} from ${m.toString('hex')}`)],
    free: ip => events.push(`free ${ip} at ${clock.now()}`),
    inUse: (ip, m) => events.push(`in-use ${ip} ${m} at ${clock.now()}`),
    watchedChanged: () => events.push(`watched at ${clock.now()}`),
  })
  /** Adds `ip` and starts its probe, as the responder does for a fresh address. */
  const probe = (text: string): void => { p.add(canonical(text)); p.start(canonical(text)) }
  return { p, link, events, probesAt: () => [...sentAt], probe }
}

t.test('nobody answers: three probes 200 ms apart, free 400 ms after the last', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  t.equal(clock.pending, 0, 'the constructor arms nothing')
  h.p.add(canonical('192.0.2.1'))
  t.ok(h.p.has(canonical('192.0.2.1')))
  h.p.start(canonical('192.0.2.1'))
  await clock.advance(799)
  t.same(h.probesAt(), [1, 200, 400], 'the first at once (a timer never fires in the call that set it)')
  t.same(h.events, [])
  await clock.advance(1)
  t.same(h.events, ['free 192.0.2.1 at 800'])
  t.notOk(h.p.has(canonical('192.0.2.1')))
  t.same(h.link.current?.sent.map(f => f.toString())[0], `probe 192.0.2.1 from ${mac.toString('hex')}`)
  t.equal(clock.pending, 0)
})

t.test('a host answers: refused, reported with its MAC, probed again after retryMs, slower from maxConflicts', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  h.probe('192.0.2.1')
  await clock.advance(250)
  h.p.refuse(canonical('192.0.2.1'), holder)
  t.same(h.events, ['in-use 192.0.2.1 02:00:00:00:00:63 at 250'])
  t.same(h.p.refused(), { '192.0.2.1': '02:00:00:00:00:63' })
  t.same([...h.p.probing], [])
  t.ok(h.p.has(canonical('192.0.2.1')), 'refused still counts as held by the prober')
  await clock.advance(1000)
  t.equal(h.probesAt().length, 2, 'no probe after the refusal')
  await clock.advance(10_000 - 1000)
  t.same(h.events.slice(1), ['watched at 10250'], 'probed again 10 s later, the filter widened first')
  t.same([...h.p.probing], ['192.0.2.1'])
  await clock.advance(100)
  h.p.refuse(canonical('192.0.2.1'), holder)
  t.match(h.events.at(-1), /^in-use 192.0.2.1/)
  await clock.advance(59_999)
  t.same([...h.p.probing], [], 'the second refusal in a row (maxConflicts 2) waits 60 s')
  await clock.advance(1)
  t.same([...h.p.probing], ['192.0.2.1'])
  await clock.advance(800)
  t.match(h.events.at(-1), /^free 192.0.2.1/)
})

t.test('an answer for an address not under probe is ignored', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  h.p.refuse(canonical('192.0.2.1'), holder)
  t.same(h.events, [])
  t.same(h.p.refused(), {})
})

/** 192.0.2.1 under probe, 192.0.2.2 refused (a retry armed). */
function probeOneRefuseOther(h: ReturnType<typeof harness>): void {
  h.probe('192.0.2.1')
  h.probe('192.0.2.2')
  h.p.refuse(canonical('192.0.2.2'), holder)
}

t.test('withdrawing cancels a probe or a retry and says which it was', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  probeOneRefuseOther(h)
  t.same(h.p.addresses(), ['192.0.2.1', '192.0.2.2'])
  t.equal(h.p.withdraw(canonical('192.0.2.1')), 'probing')
  t.equal(h.p.withdraw(canonical('192.0.2.2')), 'refused')
  t.equal(h.p.withdraw(canonical('192.0.2.3')), undefined)
  t.equal(clock.pending, 0)
  await clock.advance(60_000)
  t.same(h.events, ['in-use 192.0.2.2 02:00:00:00:00:63 at 0'])
})

t.test('a lost link stops the probes; a new link starts them over; without a link none starts', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  h.probe('192.0.2.1')
  await clock.advance(300)
  h.link.current = undefined
  h.p.linkLost()
  t.equal(clock.pending, 0)
  h.p.start(canonical('192.0.2.1'))
  t.equal(clock.pending, 0, 'no link: waits for the next one')
  const next = new FakeLink(mac, 8)
  h.link.current = next
  h.p.startAll(next)
  await clock.advance(800)
  t.same(h.events, ['free 192.0.2.1 at 1100'], 'a whole probe on the new link')
  t.equal(next.sent.length, 3)
})

t.test('a probe whose link was replaced does not send on the old one or count the address free', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  h.probe('192.0.2.1')
  const old = h.link.current
  await clock.advance(100)
  h.link.current = new FakeLink(mac, 8)
  await clock.advance(1000)
  t.equal(old?.sent.length, 1)
  t.same(h.events, [])
  t.same([...h.p.probing], ['192.0.2.1'], 'still under probe, for the next startAll')
})

t.test('close cancels every probe and retry', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  probeOneRefuseOther(h)
  h.p.close()
  t.equal(clock.pending, 0)
  t.same(h.p.addresses(), [])
})
