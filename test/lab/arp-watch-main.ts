// The ARP watcher's I/O (arp-watch.ts has the analysis): run in the LAN client's netns as
//   node --import tsx test/lab/arp-watch-main.ts IFACE SRC-IPv4 INTERVAL-MS MAX-MS IP...
// Sends a broadcast who-has for each IP every INTERVAL-MS from IFACE over an AF_PACKET socket (native/), records
// every ARP reply to it claiming one of the IPs, prints "started", and on "stop" (or after MAX-MS, or stdin closing)
// prints the record as one JSON line and exits.
import { createInterface } from 'node:readline'
import { performance } from 'node:perf_hooks'
import { ETHERTYPE_ARP } from '../../speaker/core/ethernet.js'
import { openPacketLink } from '../../speaker/link/packet-link.js'
import { ARP_OP_REPLY, arpRequest, checkArpFrame, decodeArpFrame } from '../../speaker/core/arp.js'
import { BPF_LD_H_ABS, allOf, assembleBpf } from '../../speaker/core/bpf.js'
import type { ArpWatchRecord } from './arp-watch.js'

const [iface = 'eth0', src = '', intervalText = '20', maxText = '60000', ...ips] = process.argv.slice(2)
const intervalMs = Number(intervalText)
const maxMs = Number(maxText)
if (!src || ips.length === 0 || !(intervalMs >= 5) || !(maxMs > 0 && maxMs <= 30 * 60_000)) {
  process.stderr.write('usage: arp-watch-main.ts IFACE SRC-IPv4 INTERVAL-MS(>=5) MAX-MS(<=30 min) IP...\n')
  process.exit(2)
}
const wanted = new Set(ips)
// Replies only (opcode 2 at offset 20): requests from anyone else never wake us.
const link = openPacketLink(iface, ETHERTYPE_ARP, assembleBpf(allOf([[BPF_LD_H_ABS, 12, ETHERTYPE_ARP], [BPF_LD_H_ABS, 20, ARP_OP_REPLY]])))
const requests: { t: number; ip: string }[] = []
const replies: { t: number; ip: string; mac: string }[] = []
link.subscribe(frame => {
  const t = performance.now()
  try {
    if (checkArpFrame(frame) !== ARP_OP_REPLY) return
    const f = decodeArpFrame(frame)
    // Answers to our requests only (target = us): a gratuitous ARP from a node taking the IP over is no
    // answer, and counting it would take a clean handover within one interval for two MACs answering.
    if (!wanted.has(f.arp.spa) || f.arp.tpa !== src) return
    replies.push({ t, ip: f.arp.spa, mac: [...f.arp.sha].map(b => b.toString(16).padStart(2, '0')).join(':') })
  } catch { /* not an ARP reply we can read: not ours to judge */ }
}, err => process.stderr.write(`receive error: ${String(err)}\n`))
const frames = ips.map(ip => ({ ip, frame: arpRequest(link.mac, src, ip) }))
const startedMs = performance.now()
const tick = (): void => {
  for (const { ip, frame } of frames) {
    try {
      link.send(frame)
      requests.push({ t: performance.now(), ip })
    } catch (err) {
      process.stderr.write(`send error: ${String(err)}\n`)
    }
  }
}
tick()
const timer = setInterval(tick, intervalMs)
let done = false
const finish = (): void => {
  if (done) return
  done = true
  clearInterval(timer)
  // One more interval for the last replies to arrive.
  setTimeout(() => {
    link.close()
    const rec: ArpWatchRecord = { startedMs, stoppedMs: performance.now(), intervalMs, requests, replies }
    process.stdout.write(`${JSON.stringify(rec)}\n`, () => process.exit(0))
  }, intervalMs)
}
setTimeout(finish, maxMs).unref()
process.stdout.write('started\n')
const rl = createInterface({ input: process.stdin })
rl.on('line', line => {
  if (line.trim() === 'stop') finish()
})
rl.on('close', finish)
