import t from 'tap'
import fc from 'fast-check'
import {
  ETH_ZLEN, PacketError, decodeEthernet, encodeEthernet, formatMac, isBroadcastAt, macEquals, parseMac,
} from '../../speaker/core/ethernet.js'

const mac = fc.uint8Array({ minLength: 6, maxLength: 6 }).map(a => Buffer.from(a))

t.test('encode pads to 60 bytes and decode reads the header back', async t => {
  const dst = parseMac('ff:ff:ff:ff:ff:ff')
  const src = parseMac('02:00:00:00:00:01')
  const frame = encodeEthernet({ dst, src, etherType: 0x0806, payload: Buffer.from([1, 2, 3]) })
  t.equal(frame.length, ETH_ZLEN)
  t.same([...frame.subarray(0, 17)], [255, 255, 255, 255, 255, 255, 2, 0, 0, 0, 0, 1, 0x08, 0x06, 1, 2, 3])
  t.ok(frame.subarray(17).every(b => b === 0), 'padding is zeros')
  const d = decodeEthernet(frame)
  t.equal(formatMac(d.dst), 'ff:ff:ff:ff:ff:ff')
  t.equal(formatMac(d.src), '02:00:00:00:00:01')
  t.equal(d.etherType, 0x0806)
  t.equal(d.payload.length, 46)
})

t.test('a payload longer than the minimum is not padded', async t => {
  const frame = encodeEthernet({ dst: parseMac('02:00:00:00:00:02'), src: parseMac('02:00:00:00:00:01'), etherType: 0x86dd, payload: Buffer.alloc(100, 7) })
  t.equal(frame.length, 114)
})

t.test('decode rejects a frame shorter than the header with TRUNCATED', async t => {
  t.throws(() => decodeEthernet(Buffer.alloc(13)), { name: 'PacketError', code: 'TRUNCATED' })
})

t.test('encode rejects bad MACs and 802.3 lengths in place of an EtherType', async t => {
  const ok = parseMac('02:00:00:00:00:01')
  t.throws(() => encodeEthernet({ dst: Buffer.alloc(5), src: ok, etherType: 0x0800, payload: Buffer.alloc(0) }), { code: 'BAD_ADDRESS' })
  t.throws(() => encodeEthernet({ dst: ok, src: ok, etherType: 0x05dc, payload: Buffer.alloc(0) }), { code: 'BAD_ETHERTYPE' })
})

t.test('MAC text round trip and rejects', async t => {
  fc.assert(fc.property(mac, m => parseMac(formatMac(m)).equals(m)))
  t.pass('random MACs survive formatMac/parseMac')
  t.equal(formatMac(parseMac('2-0-0-A-b-C')), '02:00:00:0a:0b:0c')
  for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:00:00', 'zz:00:00:00:00:00', '002:00:00:00:00:00']) {
    t.throws(() => parseMac(bad), PacketError, bad)
  }
})

t.test('macEquals and isBroadcastAt compare in place', async t => {
  const buf = Buffer.from([9, 1, 2, 3, 4, 5, 6, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])
  t.ok(macEquals(buf, 1, Buffer.from([1, 2, 3, 4, 5, 6])))
  t.notOk(macEquals(buf, 1, Buffer.from([1, 2, 3, 4, 5, 7])))
  t.ok(isBroadcastAt(buf, 7))
  t.notOk(isBroadcastAt(buf, 6))
})

t.test('fuzz: encode/decode round trip for any header and payload', async t => {
  fc.assert(fc.property(mac, mac, fc.integer({ min: 0x0600, max: 0xffff }), fc.uint8Array({ maxLength: 1500 }), (dst, src, etherType, p) => {
    const payload = Buffer.from(p)
    const frame = encodeEthernet({ dst, src, etherType, payload })
    const d = decodeEthernet(frame)
    return d.dst.equals(dst) && d.src.equals(src) && d.etherType === etherType &&
      d.payload.subarray(0, payload.length).equals(payload) && frame.length === Math.max(60, 14 + payload.length)
  }))
  t.pass('100 random frames round-tripped')
})
