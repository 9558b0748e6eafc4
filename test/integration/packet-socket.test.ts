// The native AF_PACKET addon on real interfaces: two network namespaces joined by a veth pair, a packet
// socket in each (a packet socket binds to an interface of the namespace it is created in, so each runs in
// a child process under `ip netns exec`). Needs root and `ip netns`; skipped with the reason otherwise.
// The ENODEV test needs neither.
//
// This file is also the child: run with L2LB_TPKT_ROLE=agent it opens a PacketSocket and speaks JSON lines
// (stdout: events; stdin: commands).
import { createInterface } from 'node:readline'
import { existsSync } from 'node:fs'
import { ADDON_PATH, PacketSocket, type PacketSocketError } from '../../native/index.js'
import { print, startInNetns, startUnder, type Agent } from '../lib/json-agent.js'
import { netnsSkipReason, run, vethPair } from '../lib/netns.js'

const PROTO = 0x88b5 // IEEE 802 "local experimental" EtherType: nothing else on the link uses it
const pair = vethPair('pkt')
const { nsA: NS_A, nsB: NS_B, ifA: IF_A, ifB: IF_B } = pair

async function agentMain(): Promise<void> {
  const iface = process.env.L2LB_TPKT_IF ?? ''
  let sock: PacketSocket
  try {
    sock = PacketSocket.open({ interface: iface, protocol: Number(process.env.L2LB_TPKT_PROTO ?? PROTO) })
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err))
    print({ event: 'open-error', message: e.message, code: Reflect.get(e, 'code'), errno: Reflect.get(e, 'errno'), syscall: Reflect.get(e, 'syscall') })
    process.exit(0)
  }
  let closeAfter = -1
  let received = 0
  sock.on('frame', f => {
    received++
    print({ event: 'frame', hex: f.toString('hex') })
    if (received === closeAfter) {
      sock.close()
      let err: unknown
      try {
        sock.send(Buffer.alloc(60))
      } catch (e) {
        err = e
      }
      print({ event: 'closed-in-listener', sendCode: err instanceof Error ? Reflect.get(err, 'code') : null })
    }
  })
  sock.on('error', err => print({ event: 'error', code: err.code }))
  const lines = createInterface({ input: process.stdin })
  lines.on('line', line => {
    const cmd: unknown = JSON.parse(line)
    if (typeof cmd !== 'object' || cmd === null) return
    const name = Reflect.get(cmd, 'cmd')
    const reply = (e: Record<string, unknown>): void => print({ ...e, id: Reflect.get(cmd, 'id') })
    try {
      if (name === 'send') {
        const hex = String(Reflect.get(cmd, 'hex'))
        const n = Number(Reflect.get(cmd, 'count') ?? 1)
        for (let i = 0; i < n; i++) {
          const f = Buffer.from(hex, 'hex')
          if (n > 1) f.writeUInt16BE(i, 14) // sequence number right after the header
          sock.send(f)
        }
        reply({ event: 'sent' })
      } else if (name === 'filter') {
        sock.setFilter(Buffer.from(String(Reflect.get(cmd, 'hex')), 'hex'))
        reply({ event: 'ok' })
      } else if (name === 'membership') {
        const mac = Buffer.from(String(Reflect.get(cmd, 'mac')), 'hex')
        sock.addMembership(mac)
        sock.dropMembership(mac)
        reply({ event: 'ok' })
      } else if (name === 'close-after') {
        closeAfter = received + Number(Reflect.get(cmd, 'n'))
        reply({ event: 'ok' })
      }
    } catch (err) {
      reply({ event: 'cmd-error', code: err instanceof Error ? Reflect.get(err, 'code') : String(err) })
    }
  })
  lines.on('close', () => {
    sock.close()
  })
  print({ event: 'ready', mac: sock.mac.toString('hex'), ifindex: sock.ifindex })
}

async function testMain(): Promise<void> {
  const { default: t } = await import('tap')

  if (!existsSync(ADDON_PATH)) {
    t.comment(`skipping packet socket tests: the addon is not built (${ADDON_PATH}); run npm run install`)
    t.plan(0, 'addon not built')
    return
  }

  t.test('a missing interface throws a Node-style ENODEV error', async t => {
    let caught: unknown
    try {
      PacketSocket.open({ interface: 'l2lb-nosuch0', protocol: PROTO })
    } catch (err) {
      caught = err
    }
    t.type(caught, Error)
    const e = caught instanceof Error ? caught : new Error('not thrown')
    t.match(e, { code: 'ENODEV', errno: -19, syscall: 'if_nametoindex' })
    t.match(e.message, /^if_nametoindex ENODEV: /)
  })

  t.test('bad arguments are TypeErrors', async t => {
    t.throws(() => PacketSocket.open({ interface: 'lo', protocol: 0x10000 }), TypeError)
    t.throws(() => PacketSocket.open({ interface: 'a-name-longer-than-ifnamsiz', protocol: PROTO }), { code: 'ENODEV' })
  })

  const reason = await netnsSkipReason()
  if (reason !== null) {
    t.comment(`skipping the netns packet socket tests: ${reason}`)
    return
  }

  t.test('without CAP_NET_RAW, open fails with EPERM naming the capability', async t => {
    const agent = startUnder(['setpriv', '--inh-caps=-all', '--bounding-set=-net_raw'], import.meta.url, { L2LB_TPKT_ROLE: 'agent', L2LB_TPKT_IF: 'lo' })
    t.teardown(() => agent.kill())
    const e = await agent.next('open-error')
    t.match(e, { code: 'EPERM', errno: -1, syscall: 'socket' })
    t.match(String(e.message), /^socket EPERM: .*CAP_NET_RAW/)
  })

  t.test('frames cross a veth pair between two namespaces', async t => {
    await pair.create()
    t.teardown(pair.drop)
    const a = startAgent(NS_A, IF_A)
    const b = startAgent(NS_B, IF_B)
    t.teardown(() => { a.kill(); b.kill() })
    const readyA = await a.next('ready')
    const readyB = await b.next('ready')
    const macA = String(readyA.mac)
    const macB = String(readyB.mac)
    t.match(macA, /^[0-9a-f]{12}$/)
    t.not(macA, macB)
    t.equal(macA, (await run('ip', ['netns', 'exec', NS_A, 'cat', `/sys/class/net/${IF_A}/address`])).stdout.trim().replace(/:/g, ''), 'mac is the interface MAC')
    t.equal(readyA.ifindex, Number((await run('ip', ['netns', 'exec', NS_A, 'cat', `/sys/class/net/${IF_A}/ifindex`])).stdout.trim()), 'ifindex is the interface index')

    // One frame A -> B, delivered intact (padded length as sent), and not echoed back to A.
    const frame = Buffer.alloc(60)
    Buffer.from(macB, 'hex').copy(frame, 0)
    Buffer.from(macA, 'hex').copy(frame, 6)
    frame.writeUInt16BE(PROTO, 12)
    frame.write('l2lb packet socket test', 16)
    a.send({ cmd: 'send', hex: frame.toString('hex'), id: 1 })
    await a.next('sent')
    const got = await b.next('frame')
    t.equal(got.hex, frame.toString('hex'), 'B received the exact frame')

    // A burst: every frame arrives, in order (the readable handler drains until EAGAIN, bounded per wake-up).
    // Sized to fit the receiver's default socket buffer (rmem_default, ~200 KiB at ~1 KiB truesize a frame)
    // so a slow, loaded receiver is not a loss: a burst beyond it would be dropped by the kernel by design.
    const N = 120
    a.send({ cmd: 'send', hex: frame.toString('hex'), count: N, id: 2 })
    await a.next('sent')
    const seqs: number[] = []
    for (let i = 0; i < N; i++) seqs.push(Buffer.from(String((await b.next('frame')).hex), 'hex').readUInt16BE(14))
    t.same(seqs, Array.from({ length: N }, (_, i) => i), `${N} frames in order`)
    t.equal(a.count('frame'), 0, 'A never saw its own sends (PACKET_OUTGOING skipped)')

    // A BPF program that drops everything ('ret #0'): B stops receiving.
    b.send({ cmd: 'filter', hex: Buffer.from([0x06, 0, 0, 0, 0, 0, 0, 0]).toString('hex'), id: 3 })
    t.equal((await b.next('ok')).id, 3, 'filter attached')
    b.send({ cmd: 'filter', hex: 'abcd', id: 4 })
    t.match(await b.next('cmd-error'), { code: 'EINVAL' }, 'a program that is not whole instructions is refused')
    const before = b.count('frame')
    a.send({ cmd: 'send', hex: frame.toString('hex'), count: 5, id: 5 })
    await a.next('sent')
    await new Promise(r => setTimeout(r, 300))
    t.equal(b.count('frame'), before, 'the kernel filter dropped them')

    // Multicast membership (used for NDP's solicited-node groups) is accepted and can be dropped.
    a.send({ cmd: 'membership', mac: '3333ff000001', id: 6 })
    t.equal((await a.next('ok')).id, 6)
    a.send({ cmd: 'membership', mac: '3333ff', id: 7 })
    t.match(await a.next('cmd-error'), { code: 'EINVAL' })

    // Less than an Ethernet header is refused before the C is reached (the addon knows nothing of Ethernet).
    a.send({ cmd: 'send', hex: '00'.repeat(13), id: 71 })
    t.match(await a.next('cmd-error'), { code: 'EINVAL', id: 71 }, 'a 13-byte frame is EINVAL')

    // Interface down: the kernel unhooks the socket and reports ENETDOWN as an 'error' event; the socket
    // stays usable and receives again once the interface is back up.
    await run('ip', ['-n', NS_B, 'link', 'set', IF_B, 'down'])
    t.match(await b.next('error'), { code: 'ENETDOWN' }, 'ENETDOWN reported on link down')
    await run('ip', ['-n', NS_B, 'link', 'set', IF_B, 'up'])
    b.send({ cmd: 'filter', hex: Buffer.from([0x06, 0, 0, 0, 0, 0, 4, 0]).toString('hex'), id: 8 }) // ret #0x40000
    t.equal((await b.next('ok')).id, 8)
    const seen = b.count('frame')
    for (let i = 0; i < 30 && b.count('frame') === seen; i++) {
      a.send({ cmd: 'send', hex: frame.toString('hex'), id: 100 + i })
      await a.next('sent')
      await new Promise(r => setTimeout(r, 100))
    }
    t.ok(b.count('frame') > seen, 'frames arrive again after the link came back up')

    // close() inside a 'frame' listener: no further frames, and a later send fails with EBADF.
    a.send({ cmd: 'close-after', n: 1, id: 9 })
    await a.next('ok')
    const back = Buffer.from(frame)
    Buffer.from(macA, 'hex').copy(back, 0)
    Buffer.from(macB, 'hex').copy(back, 6)
    b.send({ cmd: 'send', hex: back.toString('hex'), count: 3, id: 10 })
    await b.next('sent')
    const closed = await a.next('closed-in-listener')
    t.equal(closed.sendCode, 'EBADF')
    await new Promise(r => setTimeout(r, 200))
    t.equal(a.count('frame'), 1, 'no frame delivered after close')
    a.end()
    t.equal(await a.exited(), 0, 'the agent exits by itself once its socket is closed (no handle left open)')
  })

  function startAgent(ns: string, iface: string): Agent {
    return startInNetns(import.meta.url, ns, { L2LB_TPKT_ROLE: 'agent', L2LB_TPKT_IF: iface })
  }
}

// Dispatch last, once every declaration above is initialised.
if (process.env.L2LB_TPKT_ROLE === 'agent') {
  await agentMain()
} else {
  await testMain()
}
