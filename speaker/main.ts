// The speaker program: one per node (a DaemonSet with host networking). Configuration comes from the
// environment; see README "Programs and their settings".
import { pino } from 'pino'
import { loadKubeConfig } from '../internal/kube/kube-client.js'
import { MetricsRegistry } from '../internal/observe/metrics.js'
import { runProgram } from '../internal/observe/run-program.js'
import { Speaker, type Announcer } from './speaker.js'
import { eligibleInterfaces } from './core/interfaces.js'
import { readInterfaces } from './interfaces.js'
import { ArpResponder } from './arp-responder.js'
import { NdpResponder } from './ndp-responder.js'
import { judgeIpvs } from './core/ipvs.js'
import { readIpvsFacts } from './ipvs-facts.js'
import { PeerHeartbeats } from './peer-heartbeat.js'
import { speakerSettings } from './settings.js'
import { systemClock } from './system-clock.js'

const log = pino({ name: 'l2lb-speaker', level: process.env.LOG_LEVEL ?? 'info' })

async function main(): Promise<void> {
  const env = process.env
  const parsed = speakerSettings(env)
  if (!parsed.ok) {
    for (const e of parsed.errors) log.fatal(e)
    process.exit(2)
  }
  const settings = parsed.settings
  const wanted = settings.interfaces
  const verdicts = eligibleInterfaces(readInterfaces(), wanted)
  for (const v of verdicts) if (!v.eligible && wanted.length > 0) log.warn({ interface: v.name, reason: v.reason }, 'interface not used')
  const names = verdicts.filter(v => v.eligible).map(v => v.name)
  if (names.length === 0) {
    log.fatal({ wanted }, 'no interface to announce on: check L2LB_INTERFACES and that the interface is up')
    process.exit(2)
  }
  const metrics = new MetricsRegistry()
  const ipvs = judgeIpvs(readIpvsFacts())
  metrics.gauge('l2lb_speaker_ipvs_without_strict_arp_bool', '1 when kube-proxy IPVS mode lacks strictARP on this node (several nodes answer ARP)')
    .set({}, ipvs.ok ? 0 : 1)
  if (!ipvs.ok) log.warn({ fix: ipvs.fix }, ipvs.reason)
  const announcers: Announcer[] = names.map(name => {
    const arp = new ArpResponder({ interface: name, log: log.child({ interface: name, proto: 'arp' }), metrics })
    const ndp = new NdpResponder({ interface: name, log: log.child({ interface: name, proto: 'ndp' }), metrics })
    return {
      interfaceName: name,
      start: () => { arp.start(); ndp.start() },
      // Each responder keeps the addresses of its own family (ARP: IPv4, NDP: IPv6) and ignores the rest.
      setAnnounced: (ips, fresh) => { const all = [...ips]; arp.setAnnounced(all, fresh); ndp.setAnnounced(all, fresh) },
      onProbe: listener => { arp.onProbe(listener); ndp.onProbe(listener) },
      close: () => { arp.close(); ndp.close() },
    }
  })
  const speaker = new Speaker({
    nodeName: settings.nodeName,
    kubeConfig: loadKubeConfig(env),
    log,
    metrics,
    announcers,
    loadBalancerClass: settings.loadBalancerClass,
    configNamespace: settings.configNamespace,
    configName: settings.configName,
    leaseDurationSeconds: settings.leaseSeconds,
    // One clock for the membership and the heartbeats it reads lastSentMs() from.
    clock: systemClock,
    peerHeartbeats: settings.heartbeatMs === 0 ? undefined : new PeerHeartbeats({
      node: settings.nodeName, interfaces: names, intervalMs: settings.heartbeatMs, log: log.child({ part: 'peer-heartbeat' }), metrics,
      trust: settings.trust, clock: systemClock,
    }),
  })
  await runProgram({ log, listen: settings.listen, metrics, program: speaker })
}

main().catch(err => {
  log.fatal({ err }, 'speaker failed to start')
  process.exit(1)
})
