// AnnouncementTimers alone (speaker/announcement-timers.ts): the shell that runs core/announcement-schedule.ts's
// steps on a clock. The decisions themselves are tested in announcement-schedule.test.ts; here, that the
// rounds it asks for come at the times the steps name, that withdrawing and closing cancel them, and that a
// lost link stops a takeover. Time is a manual clock: nothing sleeps.
import t from 'tap'
import { pino } from 'pino'
import { AnnouncementTimers } from '../../speaker/announcement-timers.js'
import { ManualClock } from '../lib/manual-clock.js'
import { ip as canonical } from '../lib/canonical-ip.js'

const log = pino({ level: 'silent' })
const timing = { takeover: { intervalMs: 100, rounds: 3 }, defend: { quietMs: 50, maxWaitMs: 400, intervalMs: 1000 } }

function timers(clock: ManualClock, up = { link: true }): { a: AnnouncementTimers; rounds: Array<[number, string]> } {
  const rounds: Array<[number, string]> = []
  const a = new AnnouncementTimers({
    clock, timing, log,
    linkUp: () => up.link,
    sendRound: ip => { if (up.link) rounds.push([clock.now(), ip]) },
  })
  return { a, rounds }
}

t.test('the constructor arms nothing', async t => {
  const clock = new ManualClock(0)
  timers(clock)
  t.equal(clock.pending, 0)
})

t.test('a takeover: a round at once, then one per interval, three in all', async t => {
  const clock = new ManualClock(0)
  const { a, rounds } = timers(clock)
  a.takeover(canonical('192.0.2.1'))
  t.same(rounds, [[0, '192.0.2.1']], 'the first round synchronously')
  await clock.advance(1000)
  t.same(rounds, [[0, '192.0.2.1'], [100, '192.0.2.1'], [200, '192.0.2.1']])
  t.equal(clock.pending, 0, 'nothing left armed')
})

t.test('remove cancels the repeats of that IP only; close cancels all', async t => {
  const clock = new ManualClock(0)
  const { a, rounds } = timers(clock)
  a.takeover(canonical('192.0.2.1'))
  a.takeover(canonical('192.0.2.2'))
  await clock.advance(100)
  a.remove(canonical('192.0.2.1'))
  await clock.advance(1000)
  t.same(rounds.filter(r => r[1] === '192.0.2.1').map(r => r[0]), [0, 100])
  t.same(rounds.filter(r => r[1] === '192.0.2.2').map(r => r[0]), [0, 100, 200])
  a.takeover(canonical('192.0.2.3'))
  a.close()
  t.equal(clock.pending, 0)
})

t.test('a lost link stops the takeover; the next takeover starts over', async t => {
  const clock = new ManualClock(0)
  const up = { link: true }
  const { a, rounds } = timers(clock, up)
  a.takeover(canonical('192.0.2.1'))
  await clock.advance(50)
  up.link = false
  a.linkLost()
  await clock.advance(1000)
  t.same(rounds.map(r => r[0]), [0], 'no repeats without a link')
  up.link = true
  a.takeover(canonical('192.0.2.1'))
  await clock.advance(1000)
  t.same(rounds.map(r => r[0]), [0, 1050, 1150, 1250])
})

t.test('defence: answered once the other host is quiet, at most once per defend interval', async t => {
  const clock = new ManualClock(0)
  const { a, rounds } = timers(clock)
  a.takeover(canonical('192.0.2.1'))
  await clock.advance(1000)
  rounds.length = 0
  a.defend(canonical('192.0.2.1'), Buffer.from('020000000063', 'hex'))
  await clock.advance(30)
  a.defend(canonical('192.0.2.1'), Buffer.from('020000000063', 'hex'))
  await clock.advance(49)
  t.same(rounds, [], 'not while the other host is still announcing')
  await clock.advance(1)
  t.same(rounds, [[1080, '192.0.2.1']], 'quietMs after its last announcement')
  a.defend(canonical('192.0.2.1'), Buffer.from('020000000063', 'hex'))
  await clock.advance(5000)
  t.same(rounds, [[1080, '192.0.2.1'], [2080, '192.0.2.1']], 'the next answer a defend interval after the last')
})
