import t from 'tap'
import {
  canonicalIP, familyOf, formatValue, ipOf, parseAddressBlock, parseCIDR, parseIP, parseRange, rangeSize, type CanonicalIP,
} from '../../internal/core/ip.js'
import fc from 'fast-check'

/** The canonical text, or null when refused. */
function canon(text: string): string | null {
  const c = canonicalIP(text)
  return c.ok ? c.value : null
}

t.test('parseIP accepts both families and rejects junk', async t => {
  const ok: [string, string, string][] = [
    ['192.0.2.1', 'IPv4', '192.0.2.1'],
    [' 192.0.2.1 ', 'IPv4', '192.0.2.1'],
    ['2001:DB8::1', 'IPv6', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', 'IPv6', '2001:db8::1:0:0:1'],
  ]
  for (const [s, family, want] of ok) {
    const p = parseIP(s)
    t.ok(p.ok, s)
    if (p.ok) t.equal(p.value.family, family, s)
    t.equal(canon(s), want, s)
  }
  for (const s of ['', '1.2.3', '256.1.1.1', '01.2.3.4', 'fe80::1%eth0', '192.0.2.0/24', 'g::1', 'hello']) {
    t.notOk(parseIP(s).ok, `rejects ${JSON.stringify(s)}`)
  }
})

t.test('IPv6 canonical form follows RFC 5952', async t => {
  const cases: [string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:1:0:0:0:1', '2001:db8:0:1::1'], // longest run compressed
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // tie: leftmost
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // a single zero group stays
    ['0:0:0:0:0:0:0:0', '::'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['1:0:0:0:0:0:0:0', '1::'],
    ['ABCD:EF01:2345:6789:ABCD:EF01:2345:6789', 'abcd:ef01:2345:6789:abcd:ef01:2345:6789'],
  ]
  for (const [input, want] of cases) t.equal(canon(input), want, input)
  t.equal(formatValue('IPv4', 0xc00002f0n), '192.0.2.240')
})

t.test('CIDRs', async t => {
  const c = parseCIDR('192.0.2.240/28')
  t.ok(c.ok)
  if (c.ok) {
    t.equal(formatValue('IPv4', c.value.start), '192.0.2.240')
    t.equal(formatValue('IPv4', c.value.end), '192.0.2.255')
    t.equal(rangeSize(c.value), 16n)
  }
  const v6 = parseCIDR('2001:db8:0:1::f0/124')
  t.ok(v6.ok && rangeSize(v6.value) === 16n)
  const big = parseCIDR('2001:db8::/64')
  t.ok(big.ok && rangeSize(big.value) === 1n << 64n, '/64 size is exact')
  const hostBits = parseCIDR('192.0.2.5/24')
  t.notOk(hostBits.ok)
  if (!hostBits.ok) t.match(hostBits.reason, /192\.0\.2\.0\/24/, 'suggests the network address')
  for (const s of ['192.0.2.0/33', '2001:db8::/129', '192.0.2.0/', '192.0.2.0/x', '300.0.0.0/8']) t.notOk(parseCIDR(s).ok, s)
})

t.test('ranges', async t => {
  for (const s of ['192.0.2.240-192.0.2.250', '192.0.2.240 - 192.0.2.250', '192.0.2.240 -192.0.2.250']) {
    const r = parseRange(s)
    t.ok(r.ok && rangeSize(r.value) === 11n, s)
  }
  const one = parseRange('192.0.2.7-192.0.2.7')
  t.ok(one.ok && rangeSize(one.value) === 1n, 'start == end is one address')
  const back = parseRange('192.0.2.250-192.0.2.240')
  t.notOk(back.ok)
  if (!back.ok) t.match(back.reason, /starts after it ends/)
  t.notOk(parseRange('192.0.2.1-2001:db8::1').ok, 'mixed families')
  t.notOk(parseRange('192.0.2.1-').ok)
  t.notOk(parseRange('a-b-c').ok)
  const v6 = parseRange('2001:db8::1-2001:db8::ff')
  t.ok(v6.ok && rangeSize(v6.value) === 255n)
})

t.test('pool address blocks: CIDR or range, a bare address gets the /32 hint', async t => {
  t.ok(parseAddressBlock('192.0.2.0/24').ok)
  t.ok(parseAddressBlock('192.0.2.1-192.0.2.2').ok)
  const bare = parseAddressBlock('192.0.2.7')
  t.notOk(bare.ok)
  if (!bare.ok) t.match(bare.reason, /192\.0\.2\.7\/32/)
  const bare6 = parseAddressBlock('2001:db8::7')
  if (!bare6.ok) t.match(bare6.reason, /\/128/)
  t.notOk(parseAddressBlock('nonsense').ok)
})

t.test('IPv4 parsing agrees with ip-address on every dotted string (fuzzed)', async t => {
  // parseIP reads dotted quads itself (a 55,000-entry pool parses every one); ip-address stays the reference.
  const { Address4 } = await import('ip-address')
  const octet = fc.oneof(fc.integer({ min: 0, max: 300 }).map(String), fc.constantFrom('', '00', '01', '007', 'x', '+1', ' 1', '1 ', '0x1'))
  fc.assert(fc.property(fc.array(octet, { minLength: 1, maxLength: 6 }), parts => {
    const s = parts.join('.')
    const ours = parseIP(s) // trims the ends, as it does for every address
    const theirs = Address4.isValid(s.trim())
    if (ours.ok !== theirs) return false
    return !ours.ok || ours.value.value === new Address4(s.trim()).bigInt()
  }), { numRuns: 20_000 })
  t.pass('20,000 strings: same verdict and value')
})

t.test('canonicalIP, the one constructor of a CanonicalIP: IPv4', async t => {
  for (const [input, want] of [
    ['192.0.2.1', '192.0.2.1'],
    [' 192.0.2.1\t', '192.0.2.1'], // surrounding space, as a hand-edited annotation may have
    ['0.0.0.0', '0.0.0.0'], // a lone zero octet is not a leading zero
    ['255.255.255.255', '255.255.255.255'],
    ['10.0.0.100', '10.0.0.100'],
  ]) t.equal(canon(input ?? ''), want, JSON.stringify(input))
  // Leading zeros: octal to inet_aton(3), decimal elsewhere; refused, and the reason says which rule.
  for (const input of ['010.0.0.1', '192.0.2.01', '1.2.3.04', '00.0.0.0', '192.000.2.1']) {
    const c = canonicalIP(input)
    t.notOk(c.ok, `refuses ${input}`)
    if (!c.ok) t.match(c.reason, /leading zero.*write each octet without leading zeros/, `${input}: the reason names the fix`)
  }
  for (const input of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.4/32', '1.2.3.-1', '0x1.2.3.4', 'localhost']) {
    const c = canonicalIP(input)
    t.notOk(c.ok, `refuses ${JSON.stringify(input)}`)
    if (!c.ok) t.ok(c.reason.length > 0 && (input === '' || c.reason.includes(input)), `${JSON.stringify(input)}: the reason quotes the input`)
  }
})

t.test('canonicalIP: IPv6 per RFC 5952 §4', async t => {
  const cases: [string, string, string][] = [
    ['2001:0db8:0000:0000:0000:0000:0000:0001', '2001:db8::1', '§4.1 leading zeros in a group dropped'],
    ['2001:db8:00ab::0c', '2001:db8:ab::c', '§4.1 leading zeros in a group dropped'],
    ['2001:db8:0:0:0:0:2:1', '2001:db8::2:1', '§4.2.1 "::" as long as possible'],
    ['2001:db8::0:1', '2001:db8::1', '§4.2.1 no zero group left beside "::"'],
    ['2001:db8::1:1:1:1:1', '2001:db8:0:1:1:1:1:1', '§4.2.2 one zero group is not "::"'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1', '§4.2.3 the longest run'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1', '§4.2.3 runs of equal length: the first'],
    ['2001:DB8::ABCD:EF', '2001:db8::abcd:ef', '§4.3 lower case'],
    ['0:0:0:0:0:0:0:0', '::', 'all zero'],
    ['0:0:0:0:0:0:0:1', '::1', 'loopback'],
    ['1:2:3:4:5:6:7::', '1:2:3:4:5:6:7:0', 'a trailing single zero group'],
    ['::2:3:4:5:6:7:8', '0:2:3:4:5:6:7:8', 'a leading single zero group'],
    ['fe80:0::1', 'fe80::1', 'link-local'],
    ['  2001:db8::1  ', '2001:db8::1', 'surrounding space'],
  ]
  for (const [input, want, why] of cases) t.equal(canon(input), want, `${input}: ${why}`)
  for (const input of ['2001:db8::1::2', '2001:db8:1:2:3:4:5:6:7', '2001:db8::g', '12345::1', '2001:db8::/64', ':::']) {
    t.notOk(canonicalIP(input).ok, `refuses ${input}`)
  }
})

t.test('canonicalIP: IPv4-mapped and -embedded forms stay IPv6, in hex groups (what ipv6At reads off the wire)', async t => {
  for (const input of ['::ffff:192.0.2.1', '::FFFF:C000:0201', '0:0:0:0:0:ffff:c000:201']) {
    const c = canonicalIP(input)
    t.ok(c.ok && c.value === '::ffff:c000:201', `${input} -> ::ffff:c000:201`)
    if (c.ok) t.equal(familyOf(c.value), 'IPv6', 'not unmapped to IPv4: the family says what was written')
  }
  t.not(canon('::ffff:192.0.2.1'), canon('192.0.2.1'), 'a mapped address is not its IPv4 address')
  t.equal(canon('::192.0.2.1'), '::c000:201', 'the deprecated IPv4-compatible form (RFC 4291 §2.5.5.1)')
  t.notOk(canonicalIP('::ffff:010.0.0.1').ok, 'a leading zero in the embedded IPv4 part is refused too')
})

t.test('canonicalIP refuses a zone with the reason and the fix', async t => {
  for (const [input, fix] of [['fe80::1%eth0', 'fe80::1'], ['fe80::1%2', 'fe80::1'], ['2001:db8::1%eth0.100', '2001:db8::1'], ['192.0.2.1%eth0', '192.0.2.1']]) {
    const c = canonicalIP(input ?? '')
    t.notOk(c.ok, `refuses ${input}`)
    if (!c.ok) {
      t.match(c.reason, /zone/, `${input}: says it is the zone`)
      t.ok(c.reason.includes(`write ${fix}`), `${input}: says what to write (${c.reason})`)
    }
  }
})

t.test('a CanonicalIP reads back without parsing: familyOf, ipOf invert formatValue; canonicalIP is idempotent (fuzzed)', async t => {
  const v4 = fc.bigInt({ min: 0n, max: (1n << 32n) - 1n }).map(v => ({ family: 'IPv4' as const, value: v }))
  // Zero-heavy groups, so that every compression case comes up.
  const v6 = fc.array(fc.constantFrom(0n, 0n, 0n, 1n, 0xffffn, 0xabcn), { minLength: 8, maxLength: 8 })
    .map(gs => ({ family: 'IPv6' as const, value: gs.reduce<bigint>((acc, g) => (acc << 16n) | g, 0n) }))
  const any6 = fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map(v => ({ family: 'IPv6' as const, value: v }))
  fc.assert(fc.property(fc.oneof(v4, v6, any6), ({ family, value }) => {
    const text: CanonicalIP = formatValue(family, value)
    const back = ipOf(text)
    const again = canonicalIP(text)
    return familyOf(text) === family && back.family === family && back.value === value && again.ok && again.value === text
  }), { numRuns: 5000 })
  t.pass('5,000 addresses: family and value read back, and the text is its own canonical form')
})
