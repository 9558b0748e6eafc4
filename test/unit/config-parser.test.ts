// The speaker's config-parsing thread (speaker/config-parser.ts): the same verdicts as parsePoolConfig, the
// main thread free meanwhile, only the newest of several texts parsed, and a parse that overruns its deadline
// or its heap refused instead of taking the speaker with it.
import t from 'tap'
import { performance } from 'node:perf_hooks'
import { ConfigParser } from '../../speaker/config-parser.js'
import { ManualClock } from '../lib/manual-clock.js'
import { parsePoolConfig } from '../../internal/core/pool-config.js'
import { indexPools } from '../../speaker/core/advertisement.js'

/** What the parsing thread answers for text: the errors, or the config's index. */
function expected(text: string) {
  const p = parsePoolConfig(text)
  return p.ok ? { ok: true, index: indexPools(p.config) } : p
}

const VALID = 'address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.240-192.0.2.250\n'
const INVALID = 'address-pools:\n- name: default\n  protocol: layer2\n  addresses:\n  - 192.0.2.300/32\n'
/** 20,000 single addresses: valid, and a few hundred ms of parsing. */
function large(n = 20_000): string {
  const lines = ['address-pools:', '- name: big', '  protocol: layer2', '  addresses:']
  for (let i = 0; i < n; i++) lines.push(`  - 198.18.${(i >> 8) & 255}.${i & 255}/32`)
  return `${lines.join('\n')}\n`
}

t.test('the same verdicts as parsePoolConfig on the main thread', async t => {
  const p = new ConfigParser()
  t.teardown(() => p.close())
  t.same(await p.parse(VALID), expected(VALID))
  const bad = await p.parse(INVALID)
  t.equal(bad?.ok, false)
  t.same(bad, expected(INVALID), 'errors as values, path, message and fix')
})

t.test('the main thread stays free while a large config is read', async t => {
  const p = new ConfigParser()
  t.teardown(() => p.close())
  await p.parse(VALID) // the thread is up
  let longest = 0
  let last = performance.now()
  const tick = setInterval(() => { const now = performance.now(); longest = Math.max(longest, now - last); last = now }, 5)
  const r = await p.parse(large())
  clearInterval(tick)
  t.equal(r?.ok, true, '20,000 addresses accepted')
  t.comment(`longest main-thread gap while parsing: ${longest.toFixed(1)} ms`)
  t.ok(r?.ok === true && r.index.byFamily.get('IPv4')?.starts.length === 20_000, 'every range came back across the thread (bigints and all)')
})

t.test('texts that arrive while one is read replace each other: only the newest is parsed', async t => {
  const p = new ConfigParser()
  t.teardown(() => p.close())
  const first = p.parse(large(5000))
  const second = p.parse(INVALID)
  const third = p.parse(VALID)
  t.equal((await first)?.ok, true, 'the one being read finishes')
  t.equal(await second, null, 'a text superseded before its turn is never parsed')
  t.same(await third, expected(VALID))
})

t.test('a parse past its deadline or its heap is refused with a message, and the next one works', async t => {
  const clock = new ManualClock()
  const slow = new ConfigParser({ deadlineMs: 10_000, clock })
  t.teardown(() => slow.close())
  const pending = slow.parse(large())
  await clock.advance(9_999)
  t.equal(await Promise.race([pending, new Promise(resolve => setImmediate(() => resolve('still parsing')))]), 'still parsing', 'not refused before its deadline')
  await clock.advance(1)
  const r = await pending
  t.equal(r?.ok, false)
  t.match(r?.ok === false ? r.errors[0]?.message : '', /took more than 10 s/)
  const small = new ConfigParser({ maxHeapMb: 16 })
  t.teardown(() => small.close())
  const o = await small.parse(large(45_000))
  t.equal(o?.ok, false, 'a heap cap the parse cannot fit in: refused, not a crash')
  t.match(o?.ok === false ? o.errors[0]?.message : '', /more than 16 MiB|failed|stopped/)
  t.same(await small.parse(VALID), expected(VALID), 'a fresh thread takes the next config')
})
