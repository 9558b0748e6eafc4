// A hostile host on the lab's LAN, for the failure matrix's last row: run in l2lb-client's netns as
//   node --import tsx test/lab/heartbeat-forger-main.ts IFACE NODE CLUSTER
// It captures one real heartbeat of NODE, waits until NODE has sent later ones (so every speaker has taken
// them), then sends: that frame again (a replay), and a `leaving` for NODE unsigned, under an unknown key id,
// under key id 1 with a wrong secret (a bad MAC), and as another cluster. Each one, taken, would move NODE's
// IPs away; every speaker must refuse and count it. Prints one JSON line with what it sent, then exits.
import { randomBytes } from 'node:crypto'
import { openPacketLink } from '../../speaker/link/packet-link.js'
import { assembleBpf } from '../../speaker/core/bpf.js'
import {
  ETHERTYPE_L2LB_HEARTBEAT, HEARTBEAT_GROUP_MAC, decodeHeartbeat, encodeHeartbeat, heartbeatFilter, type HeartbeatFrame,
} from '../../speaker/core/peer-heartbeat.js'

const [iface = 'eth0', node = '', cluster = ''] = process.argv.slice(2)
if (!node) {
  process.stderr.write('usage: heartbeat-forger-main.ts IFACE NODE CLUSTER\n')
  process.exit(2)
}
const link = openPacketLink(iface, ETHERTYPE_L2LB_HEARTBEAT, assembleBpf(heartbeatFilter()))
link.addMembership(Buffer.from(HEARTBEAT_GROUP_MAC))
const giveUp = setTimeout(() => { process.stderr.write(`no heartbeat of ${node} heard in 10 s\n`); process.exit(1) }, 10_000)
let captured: Buffer | null = null
link.subscribe(frame => {
  if (captured !== null) return
  try {
    if (decodeHeartbeat(frame).node === node) captured = Buffer.from(frame)
  } catch { /* not one we can read */ }
  if (captured === null) return
  clearTimeout(giveUp)
  // Three intervals later every speaker has taken NODE's newer frames: the captured one is then a replay.
  setTimeout(() => {
    const real = decodeHeartbeat(captured ?? Buffer.alloc(0))
    const leaving: HeartbeatFrame = {
      node, kind: 'leaving', reachesApi: true, intervalMs: real.intervalMs, sequence: real.sequence + 1_000_000,
      cluster, bootId: real.bootId, sentAtMs: real.sentAtMs + 1,
    }
    const sent: string[] = []
    const send = (what: string, frame: Buffer): void => { link.send(frame); sent.push(what) }
    send('replay', captured ?? Buffer.alloc(0))
    send('unsigned', encodeHeartbeat(link.mac, leaving, null))
    send('unknown_key', encodeHeartbeat(link.mac, leaving, { id: 65000, secret: randomBytes(32) }))
    send('bad_mac', encodeHeartbeat(link.mac, leaving, { id: real.keyId === 0 ? 1 : real.keyId, secret: randomBytes(32) }))
    send('other_cluster', encodeHeartbeat(link.mac, { ...leaving, cluster: `${cluster}x`.slice(0, 63) }, null))
    link.close()
    process.stdout.write(`${JSON.stringify({ sent, keyId: real.keyId })}\n`, () => process.exit(0))
  }, 3 * decodeHeartbeat(captured).intervalMs)
}, err => process.stderr.write(`receive error: ${String(err)}\n`))
