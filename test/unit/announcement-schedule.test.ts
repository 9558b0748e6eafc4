// The announcement schedule (speaker/core/announcement-schedule.ts): takeover repeats and the answer to a
// conflict, stepped by hand at the times a shell's timer would fire.
import t from 'tap'
import {
  DEFEND_TIMING, NOTHING_SCHEDULED, stepAnnouncement, type AnnouncementEvent, type AnnouncementSchedule, type ScheduleTiming,
} from '../../speaker/core/announcement-schedule.js'

const timing: ScheduleTiming = { takeover: { intervalMs: 1000, rounds: 3 }, defend: { quietMs: 200, maxWaitMs: 1000, intervalMs: 5000 } }

/**
 * Drives a schedule as the shell does: `events` happen at their times, and between them the schedule is stepped
 * with `due` whenever its last step asked to be. Returns when a round was sent, and the final schedule.
 */
function drive(events: Array<[number, AnnouncementEvent]>, untilMs: number, linkUp = true): { sent: number[]; schedule: AnnouncementSchedule } {
  let schedule = NOTHING_SCHEDULED
  let nextAt: number | null = null
  const sent: number[] = []
  const apply = (at: number, e: AnnouncementEvent): void => {
    const s = stepAnnouncement(schedule, e, at, timing)
    if (s.send) sent.push(at)
    schedule = s.schedule
    nextAt = s.nextAtMs
  }
  const queue = [...events]
  for (;;) {
    const event = queue[0]
    const dueAt: number | null = nextAt
    if (dueAt !== null && dueAt <= untilMs && (event === undefined || dueAt < event[0])) {
      apply(dueAt, { kind: 'due', linkUp })
      continue
    }
    if (event === undefined || event[0] > untilMs) break
    queue.shift()
    apply(event[0], event[1])
  }
  return { sent, schedule }
}

t.test('defaults: RFC 5227 DEFEND_INTERVAL, 10 s', async t => {
  t.same(DEFEND_TIMING, { quietMs: 2000, maxWaitMs: 10_000, intervalMs: 10_000 })
})

t.test('a takeover: a round now, then one per interval until the rounds are done', async t => {
  const first = stepAnnouncement(NOTHING_SCHEDULED, { kind: 'takeover' }, 0, timing)
  t.equal(first.send, true, 'the first round at once')
  t.equal(first.nextAtMs, 1000)
  t.same(drive([[0, { kind: 'takeover' }]], 60_000).sent, [0, 1000, 2000])
  const once = stepAnnouncement(NOTHING_SCHEDULED, { kind: 'takeover' }, 0, { ...timing, takeover: { intervalMs: 1000, rounds: 1 } })
  t.same([once.send, once.nextAtMs], [true, null], 'one round: nothing left to schedule')
  const early = stepAnnouncement(first.schedule, { kind: 'due', linkUp: true }, 999, timing)
  t.same([early.send, early.nextAtMs], [false, 1000], 'stepped early (a late conflict re-armed the timer): nothing is sent before its time')
})

t.test('a conflict is answered once the other host has been quiet for quietMs, within maxWaitMs of the first', async t => {
  const takeoverDone = 2000
  const conflicts = (times: number[]): Array<[number, AnnouncementEvent]> =>
    times.map(at => [at, { kind: 'conflict' }] as [number, AnnouncementEvent])
  t.same(drive([[0, { kind: 'takeover' }], ...conflicts([3000])], 60_000).sent.filter(at => at > takeoverDone), [3200], 'quiet 200 ms after one')
  t.same(drive([[0, { kind: 'takeover' }], ...conflicts([3000, 3100, 3250])], 60_000).sent.filter(at => at > takeoverDone), [3450],
    'each conflict pushes the answer back')
  const flood = conflicts(Array.from({ length: 20 }, (_, i) => 3000 + i * 100))
  t.same(drive([[0, { kind: 'takeover' }], ...flood], 60_000).sent.filter(at => at > takeoverDone), [4000, 9000],
    'a host that never goes quiet: answered maxWaitMs after the first, then once per defend interval')
})

t.test('at most one answer per defend interval', async t => {
  const { sent, schedule } = drive([[0, { kind: 'takeover' }], [3000, { kind: 'conflict' }], [3300, { kind: 'conflict' }]], 60_000)
  t.same(sent, [0, 1000, 2000, 3200, 8200], 'the second waits for 5 s after the first')
  t.equal(schedule.defendedAtMs, 8200)
  t.equal(schedule.contest, null)
})

t.test('a conflict during the takeover: a takeover round still to come answers it', async t => {
  t.same(drive([[0, { kind: 'takeover' }], [500, { kind: 'conflict' }]], 60_000).sent, [0, 1000, 2000],
    'due at 700, answered by the rounds at 1000 and 2000: no extra round')
  const { schedule } = drive([[0, { kind: 'takeover' }], [500, { kind: 'conflict' }]], 60_000)
  t.equal(schedule.defendedAtMs, 700, 'and it counts as answered for the defend interval')
  t.same(drive([[0, { kind: 'takeover' }], [1900, { kind: 'conflict' }]], 60_000).sent, [0, 1000, 2000, 2100],
    'due after the last round: a round of its own')
})

t.test('a lost link stops the takeover; a contest due with no link is dropped, not counted as answered', async t => {
  const lost = drive([[0, { kind: 'takeover' }], [500, { kind: 'conflict' }], [600, { kind: 'link-lost' }]], 60_000, false)
  t.same(lost.sent, [0], 'nothing after the link went')
  t.same(lost.schedule, { takeover: null, contest: null, defendedAtMs: null })
  const back = drive([
    [0, { kind: 'takeover' }], [2500, { kind: 'conflict' }], [2600, { kind: 'link-lost' }], [2650, { kind: 'takeover' }],
  ], 60_000)
  t.same(back.sent, [0, 1000, 2000, 2650, 3650, 4650], 'the new link takes over from its first round; its later rounds answer the contest')
  t.equal(back.schedule.defendedAtMs, 2700)
})
