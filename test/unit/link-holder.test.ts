// LinkHolder alone (speaker/link/link-holder.ts): the link's life cycle over fake links — the filter follows
// the watched set, a lost link is closed and reopened with a doubling backoff, close cancels a pending
// reopen. Time is a manual clock: nothing sleeps.
import t from 'tap'
import { pino } from 'pino'
import { LinkHolder } from '../../speaker/link/link-holder.js'
import { parseMac } from '../../speaker/core/ethernet.js'
import { FakeLink, systemError } from '../lib/fake-link.js'
import { ManualClock } from '../lib/manual-clock.js'
import type { CanonicalIP } from '../../internal/core/ip.js'
import { ips as canonicalIPs } from '../lib/canonical-ip.js'

const log = pino({ level: 'silent' })
const mac = parseMac('02:00:00:00:00:0b')

interface Harness {
  holder: LinkHolder<FakeLink>
  links: FakeLink[]
  events: string[]
  watched: CanonicalIP[]
  /** Opens fail while > 0 (decremented per attempt). */
  failOpens: { n: number }
}

function harness(clock: ManualClock, filter = true): Harness {
  const links: FakeLink[] = []
  const events: string[] = []
  const watched: CanonicalIP[] = []
  const failOpens = { n: 0 }
  const holder = new LinkHolder<FakeLink>({
    interfaceName: 'eth0', name: 'TEST', log, clock,
    openLink: name => {
      events.push(`open ${name}`)
      if (failOpens.n > 0) {
        failOpens.n--
        throw systemError('socket', 'ENODEV', -19)
      }
      const l = new FakeLink(mac, 7 + links.length)
      links.push(l)
      return l
    },
    backoff: { initialMs: 100, maxMs: 800 },
    filterFor: filter ? ips => Buffer.from(ips.join(',')) : undefined,
    watched: () => [...watched].sort(),
    receiver: link => frame => events.push(`frame ${link.ifindex} ${frame.toString()}`),
    attached: (link, reopened) => events.push(`attached ${link.ifindex}${reopened ? ' again' : ''}`),
    lost: () => events.push('lost'),
  })
  return { holder, links, events, watched, failOpens }
}

t.test('the constructor opens nothing; open then attach filters, subscribes and hands the link over', async t => {
  const clock = new ManualClock()
  const h = harness(clock)
  t.same(h.events, [])
  h.watched.push(...canonicalIPs('192.0.2.2', '192.0.2.1'))
  const link = h.holder.open()
  t.equal(h.holder.current, undefined, 'open alone does not make it current')
  h.holder.attach(link)
  t.equal(h.holder.current, link)
  t.same(link.filters.map(f => f.toString()), ['192.0.2.1,192.0.2.2'])
  link.receive(Buffer.from('x'))
  t.same(h.events, ['open eth0', 'attached 7', 'frame 7 x'])
})

t.test('refilter attaches only on a change; a filter that cannot be attached replaces the link', async t => {
  const clock = new ManualClock()
  const h = harness(clock)
  const link = h.holder.open()
  h.holder.attach(link)
  h.holder.refilter()
  t.equal(link.filters.length, 1, 'same set: not attached again')
  h.watched.push(...canonicalIPs('192.0.2.1'))
  h.holder.refilter()
  t.same(link.filters.map(f => f.toString()), ['', '192.0.2.1'])
  link.failFilter = systemError('setsockopt', 'ENOMEM', -12)
  h.watched.push(...canonicalIPs('192.0.2.9'))
  h.holder.refilter()
  t.ok(link.closed, 'the link with the narrower filter is closed')
  t.equal(h.holder.current, undefined)
  await clock.advance(100)
  t.equal(h.holder.current, h.links[1])
  t.same(h.links[1]?.filters.map(f => f.toString()), ['192.0.2.1,192.0.2.9'])
  t.equal(h.holder.reopens, 1)
  t.same(h.events.slice(-3), ['lost', 'open eth0', 'attached 8 again'])
})

t.test('send errors are counted and returned; ENODEV loses the link, ENETDOWN does not', async t => {
  const clock = new ManualClock()
  const h = harness(clock)
  const link = h.holder.open()
  h.holder.attach(link)
  t.equal(h.holder.send(link, Buffer.from('a'), '192.0.2.1'), true)
  link.failSends = systemError('sendto', 'ENETDOWN', -100)
  t.equal(h.holder.send(link, Buffer.from('b'), '192.0.2.1'), false)
  t.equal(h.holder.current, link)
  link.failSends = systemError('sendto', 'ENODEV', -19)
  t.equal(h.holder.send(link, Buffer.from('c'), '192.0.2.1'), false)
  t.equal(h.holder.current, undefined)
  t.ok(link.closed)
  t.equal(h.holder.sendErrors, 2)
})

t.test('receive errors: uv_poll or a gone interface loses the link; frames of a lost link are ignored', async t => {
  const clock = new ManualClock()
  const h = harness(clock)
  const link = h.holder.open()
  h.holder.attach(link)
  link.fail(systemError('recvfrom', 'ENETDOWN', -100))
  t.equal(h.holder.current, link, 'a flap')
  link.gone = true
  link.fail(systemError('recvfrom', 'ENETDOWN', -100))
  t.equal(h.holder.current, undefined, 'interface gone')
  link.receive(Buffer.from('late'))
  link.fail(systemError('uv_poll', 'EBADF', -9))
  t.equal(h.holder.receiveErrors, 2, 'errors of a lost link are not counted')
  t.notOk(h.events.some(e => e.startsWith('frame')), 'nor its frames delivered')
  await clock.advance(100)
  const again = h.links[1]
  if (again === undefined) throw new Error('not reopened')
  again.fail(systemError('uv_poll', 'EIO', -5))
  t.equal(h.holder.current, undefined, 'delivery stopped for good')
})

t.test('reopen retries with a doubling backoff, capped; it starts over after a quiet spell', async t => {
  const clock = new ManualClock(0)
  const h = harness(clock)
  const first = h.holder.open()
  h.holder.attach(first)
  h.failOpens.n = 4
  first.failSends = systemError('sendto', 'ENODEV', -19)
  h.holder.send(first, Buffer.from('x'), '192.0.2.1')
  const opens = (): number => h.events.filter(e => e === 'open eth0').length - 1
  const at: number[] = []
  while (h.holder.current === undefined) {
    const before = opens()
    await clock.next()
    if (opens() > before) at.push(clock.now())
  }
  t.same(at, [100, 300, 700, 1500, 2300], 'after 100, 200, 400, 800, 800 ms')
  t.equal(h.holder.reopens, 1)
  // Lost again right after opening: the delay keeps growing (capped).
  const second = h.holder.current
  second.failSends = systemError('sendto', 'ENODEV', -19)
  h.holder.send(second, Buffer.from('x'), '192.0.2.1')
  await clock.advance(799)
  t.equal(h.holder.current, undefined)
  await clock.advance(1)
  const third = h.holder.current
  if (third === undefined) throw new Error('not reopened')
  // Lost after a quiet spell longer than maxMs: back to initialMs.
  await clock.advance(801)
  third.failSends = systemError('sendto', 'ENODEV', -19)
  h.holder.send(third, Buffer.from('x'), '192.0.2.1')
  await clock.advance(100)
  t.ok(h.holder.current !== undefined, 'reopened after initialMs')
})

t.test('close closes the link and cancels a pending reopen; idempotent', async t => {
  const clock = new ManualClock()
  const h = harness(clock)
  const link = h.holder.open()
  h.holder.attach(link)
  link.failSends = systemError('sendto', 'ENODEV', -19)
  h.holder.send(link, Buffer.from('x'), '192.0.2.1')
  t.equal(clock.pending, 1, 'a reopen pending')
  t.equal(h.holder.close(), false, 'no link open to close')
  t.equal(clock.pending, 0)
  const h2 = harness(clock)
  const l2 = h2.holder.open()
  h2.holder.attach(l2)
  t.equal(h2.holder.close(), true)
  t.ok(l2.closed)
  t.equal(h2.holder.close(), false)
})

t.test('without filterFor the link keeps the filter it was opened with', async t => {
  const h = harness(new ManualClock(), false)
  const link = h.holder.open()
  h.holder.attach(link)
  h.watched.push(...canonicalIPs('192.0.2.1'))
  h.holder.refilter()
  t.same(link.filters, [])
})
