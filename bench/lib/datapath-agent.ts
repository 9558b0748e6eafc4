// The child processes of the datapath bench (bench/datapath.ts). A packet socket binds to an interface of
// its own network namespace, so each role runs under `ip netns exec`: `responder` runs the speaker's real
// ArpResponder in the node namespace, `minimal` the least a Node responder over the same addon can do (the
// baseline issue 12 holds the speaker to: within 1.25x of it on the wire), `flood` sends bounded bursts of ARP
// frames from the client namespace.
// Both speak JSON lines: commands on stdin, events on stdout. Closing stdin ends the child.
//
//   node --import tsx bench/lib/datapath-agent.ts responder   (env L2LB_TBENCH_IF, L2LB_TBENCH_IPS)
//   node --import tsx bench/lib/datapath-agent.ts minimal     (env L2LB_TBENCH_IF, L2LB_TBENCH_IPS: one IP)
//   node --import tsx bench/lib/datapath-agent.ts flood       (env L2LB_TBENCH_IF)
import { setTimeout as sleep } from 'node:timers/promises'
import { commands, print } from '../../test/lib/json-agent.js'

/** Hard ceilings whatever a command asks for: every burst is bounded in count and in time. */
const MAX_FRAMES = 50_000
const MAX_BURST_MS = 5_000

async function responderMain(): Promise<void> {
  const { pino } = await import('pino')
  const { ArpResponder } = await import('../../speaker/arp-responder.js')
  const r = new ArpResponder({ interface: process.env.L2LB_TBENCH_IF ?? '', log: pino({ level: 'warn' }, process.stderr) })
  const { ips } = await import('../../test/lib/canonical-ip.js')
  r.setAnnounced(ips(...(process.env.L2LB_TBENCH_IPS ?? '').split(',').filter(Boolean)))
  r.start()
  commands(cmd => {
    if (cmd.cmd === 'stats') print({ event: 'stats', id: cmd.id, stats: r.stats() })
  }, () => r.close())
  print({ event: 'ready', pid: process.pid, mac: r.mac?.toString('hex') })
}

/**
 * One packet socket with the same kernel filter the speaker uses for one IP (requests for it, frames from it),
 * and on every frame that is a request for it, the reply: no logging, no counters, no decision table, no
 * announcements. What the speaker adds on top of this is what issue 12's 1.25x bound measures.
 */
async function minimalMain(): Promise<void> {
  const { PacketSocket } = await import('../../native/index.js')
  const { ETHERTYPE_ARP } = await import('../../speaker/core/ethernet.js')
  const { arpReplyTo, ARP_OP_REQUEST, OFF_OP, OFF_TPA, writeIpv4 } = await import('../../speaker/core/arp.js')
  const { arpFilterFor, assembleBpf } = await import('../../speaker/core/bpf.js')
  const ip = (process.env.L2LB_TBENCH_IPS ?? '').split(',')[0] ?? ''
  const tpa = Buffer.alloc(4)
  writeIpv4(ip, tpa, 0)
  const sock = PacketSocket.open({ interface: process.env.L2LB_TBENCH_IF ?? '', protocol: ETHERTYPE_ARP })
  const { ips } = await import('../../test/lib/canonical-ip.js')
  sock.setFilter(assembleBpf(arpFilterFor(ips(ip))))
  const mac = sock.mac
  sock.on('frame', frame => {
    if (frame.length < OFF_TPA + 4 || frame.readUInt16BE(OFF_OP) !== ARP_OP_REQUEST || !frame.subarray(OFF_TPA, OFF_TPA + 4).equals(tpa)) return
    try { sock.send(arpReplyTo(frame, mac)) } catch { /* a lost reply shows as an unanswered probe */ }
  })
  commands(() => {}, () => sock.close())
  print({ event: 'ready', pid: process.pid, mac: mac.toString('hex') })
}

async function floodMain(): Promise<void> {
  const { PacketSocket } = await import('../../native/index.js')
  const { ETHERTYPE_ARP } = await import('../../speaker/core/ethernet.js')
  const { arpRequest, gratuitousReply } = await import('../../speaker/core/arp.js')
  const sock = PacketSocket.open({ interface: process.env.L2LB_TBENCH_IF ?? '', protocol: ETHERTYPE_ARP })
  // The flooder reads nothing; frames queued to its socket are simply discarded on close.
  commands(async cmd => {
    if (cmd.cmd !== 'flood') return
    const count = Math.min(Number(cmd.count) || 0, MAX_FRAMES)
    const maxMs = Math.min(Number(cmd.maxMs) || 0, MAX_BURST_MS)
    const batch = Math.max(1, Math.min(Number(cmd.batch) || 1, 1000))
    const gapMs = Math.max(0, Math.min(Number(cmd.gapMs) || 0, 100))
    const spa = String(cmd.spa)
    const frame = cmd.kind === 'reply'
      ? gratuitousReply(sock.mac, spa)
      : arpRequest(sock.mac, spa, String(cmd.tpa))
    let sent = 0
    let errors = 0
    const start = performance.now()
    // Paced in batches so the receiving socket's queue (rmem_default, a few hundred small frames) is not
    // what limits the burst: the point is the responder's cost per frame that reaches it.
    while (sent + errors < count && performance.now() - start < maxMs) {
      const n = Math.min(batch, count - sent - errors)
      for (let i = 0; i < n; i++) {
        try {
          sock.send(frame)
          sent++
        } catch {
          errors++ // ENOBUFS under pressure: counted, the burst goes on
        }
      }
      await sleep(gapMs)
    }
    print({ event: 'flooded', id: cmd.id, sent, errors, ms: performance.now() - start })
  }, () => sock.close())
  print({ event: 'ready', pid: process.pid, mac: sock.mac.toString('hex') })
}

const role = process.argv[2]
if (role === 'responder') await responderMain()
else if (role === 'minimal') await minimalMain()
else if (role === 'flood') await floodMain()
else {
  process.stderr.write(`usage: datapath-agent.ts responder|minimal|flood\n`)
  process.exitCode = 2
}
