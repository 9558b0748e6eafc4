// The peer-heartbeat codec: exact bytes of one frame, a fuzzed round trip, every kind of bad input rejected
// with its code (and nothing else ever thrown), and the kernel filter passing exactly the frames the decoder
// could accept.
import t from 'tap'
import fc from 'fast-check'
import { PacketError } from '../../speaker/core/ethernet.js'
import {
  ETHERTYPE_L2LB_HEARTBEAT, decodeHeartbeat, encodeHeartbeat, heartbeatFilter, type Heartbeat,
} from '../../speaker/core/peer-heartbeat.js'
import { checkBpf, runBpf } from '../lib/bpf-interpreter.js'

const SRC = Buffer.from([0x02, 0x00, 0xc0, 0x00, 0x02, 0x0b])

function codeOf(f: () => unknown): string {
  try {
    f()
    return 'ok'
  } catch (err) {
    return err instanceof PacketError ? err.code : `not a PacketError: ${String(err)}`
  }
}

t.test('one frame, byte for byte', async t => {
  const frame = encodeHeartbeat(SRC, { node: 'l2lb-node1', kind: 'alive', intervalMs: 200, sequence: 7 })
  t.equal(frame.subarray(0, 14).toString('hex'), '036c326c6200' + '0200c000020b' + '88b5', 'group, source, EtherType')
  t.equal(frame.subarray(14, 27).toString('hex'), '4c324c42' + '01' + '01' + '00c8' + '00000007' + '0a', 'magic, version, kind, interval, sequence, name length')
  t.equal(frame.subarray(27, 37).toString('ascii'), 'l2lb-node1')
  t.equal(frame.length, 60, 'padded to the Ethernet minimum')
  t.same(decodeHeartbeat(frame), { node: 'l2lb-node1', kind: 'alive', intervalMs: 200, sequence: 7, src: SRC })
})

const nodeName = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/)
const heartbeat: fc.Arbitrary<Heartbeat> = fc.record({
  node: nodeName,
  kind: fc.constantFrom('alive' as const, 'leaving' as const),
  intervalMs: fc.integer({ min: 1, max: 60_000 }),
  sequence: fc.integer({ min: 0, max: 0xffffffff }),
})

t.test('fuzzed round trip: decode(encode(h)) is h', async t => {
  fc.assert(fc.property(heartbeat, fc.uint8Array({ minLength: 6, maxLength: 6 }), (h, src) => {
    const got = decodeHeartbeat(encodeHeartbeat(Buffer.from(src), h))
    if (JSON.stringify({ ...got, src: [...got.src] }) !== JSON.stringify({ ...h, src: [...src] })) throw new Error(`${JSON.stringify(got)} != ${JSON.stringify(h)}`)
  }), { numRuns: 500 })
  t.pass('500 heartbeats survive the round trip')
})

t.test('bad input: each rejected with its code', async t => {
  const good = encodeHeartbeat(SRC, { node: 'n1', kind: 'leaving', intervalMs: 100, sequence: 1 })
  const mutate = (f: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good)
    f(b)
    return b
  }
  t.equal(codeOf(() => decodeHeartbeat(good.subarray(0, 10))), 'TRUNCATED', 'shorter than the Ethernet header')
  t.equal(codeOf(() => decodeHeartbeat(good.subarray(0, 20))), 'TRUNCATED', 'shorter than the heartbeat header')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt16BE(0x0806, 12)))), 'BAD_ETHERTYPE')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.write('XXXX', 14)))), 'BAD_MAGIC')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(2, 18)))), 'BAD_VERSION')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(3, 19)))), 'BAD_KIND')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt16BE(0, 20)))), 'BAD_INTERVAL')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(0, 26)))), 'BAD_NAME', 'empty name')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.writeUInt8(255, 26)))), 'TRUNCATED', 'name overruns the frame')
  t.equal(codeOf(() => decodeHeartbeat(mutate(b => b.write('N', 27)))), 'BAD_NAME', 'upper case is no node name')
  t.equal(codeOf(() => encodeHeartbeat(SRC, { node: 'a'.repeat(254), kind: 'alive', intervalMs: 1, sequence: 0 })), 'BAD_NAME')
  t.equal(codeOf(() => encodeHeartbeat(SRC, { node: 'n', kind: 'alive', intervalMs: 60_001, sequence: 0 })), 'BAD_INTERVAL')
  t.equal(codeOf(() => encodeHeartbeat(SRC, { node: 'n', kind: 'alive', intervalMs: 1, sequence: 2 ** 32 })), 'BAD_SEQUENCE')
  t.equal(codeOf(() => encodeHeartbeat(Buffer.alloc(5), { node: 'n', kind: 'alive', intervalMs: 1, sequence: 0 })), 'BAD_ADDRESS')
})

t.test('random bytes: a PacketError or a heartbeat, never anything else', async t => {
  const near = fc.tuple(fc.uint8Array({ maxLength: 80 }), fc.boolean()).map(([bytes, fix]) => {
    const b = Buffer.from(bytes)
    // Half of them get a valid header start, so the later checks are reached too.
    if (fix && b.length >= 19) {
      b.writeUInt16BE(ETHERTYPE_L2LB_HEARTBEAT, 12)
      b.writeUInt32BE(0x4c324c42, 14)
      b.writeUInt8(1, 18)
    }
    return b
  })
  fc.assert(fc.property(near, b => {
    const code = codeOf(() => decodeHeartbeat(b))
    if (code.startsWith('not a PacketError')) throw new Error(code)
  }), { numRuns: 2000 })
  t.pass('2000 frames')
})

t.test('the kernel filter passes what the decoder accepts, and drops other frames of the EtherType', async t => {
  const program = heartbeatFilter()
  checkBpf(program)
  const good = encodeHeartbeat(SRC, { node: 'l2lb-node2', kind: 'alive', intervalMs: 200, sequence: 1 })
  t.ok(runBpf(program, good) > 0, 'a heartbeat passes')
  const other = Buffer.from(good)
  other.write('XXXX', 14)
  t.equal(runBpf(program, other), 0, 'another protocol on 0x88b5 does not wake the speaker')
  const future = Buffer.from(good)
  future.writeUInt8(2, 18)
  t.equal(runBpf(program, future), 0, 'nor a heartbeat version it cannot read')
})
