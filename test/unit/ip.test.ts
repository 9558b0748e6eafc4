import t from 'tap'
import {
  canonicalIP, formatValue, parseAddressBlock, parseCIDR, parseIP, parseRange, rangeSize,
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

