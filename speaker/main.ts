// The speaker program: one per node (a DaemonSet with host networking). Configuration comes from the
// environment; see README "Programs and their settings".
import { pino } from 'pino'
import { loadKubeConfig } from '../internal/kube/kube-client.js'
import { MetricsRegistry } from '../internal/observe/metrics.js'
import { runProgram } from '../internal/observe/run-program.js'
import { parseListenAddress } from '../internal/observe/listen-address.js'
import { Speaker, type Announcer } from './speaker.js'
import { eligibleInterfaces } from './core/interfaces.js'
import { readInterfaces } from './interfaces.js'
import { ArpResponder } from './arp-responder.js'
import { NdpResponder } from './ndp-responder.js'
import { judgeIpvs } from './core/ipvs.js'
import { readIpvsFacts } from './ipvs-facts.js'
import { PeerHeartbeats } from './peer-heartbeat.js'
import { parseClusterName, parseHeartbeatKeys } from './core/peer-heartbeat.js'

const log = pino({ name: 'l2lb-speaker', level: process.env.LOG_LEVEL ?? 'info' })

async function main(): Promise<void> {
  const env = process.env
  const nodeName = env.NODE_NAME ?? ''
  if (!nodeName) {
    log.fatal('NODE_NAME is not set: set it to this node\'s Kubernetes Node name (the DaemonSet passes spec.nodeName through the downward API)')
    process.exit(2)
  }
  const listen = parseListenAddress(env.L2LB_METRICS_ADDR ?? '0.0.0.0:7473')
  if (!listen.ok) {
    log.fatal(`L2LB_METRICS_ADDR: ${listen.error}`)
    process.exit(2)
  }
  const wanted = (env.L2LB_INTERFACES ?? '').split(',').map(s => s.trim()).filter(Boolean)
  const verdicts = eligibleInterfaces(readInterfaces(), wanted)
  for (const v of verdicts) if (!v.eligible && wanted.length > 0) log.warn({ interface: v.name, reason: v.reason }, 'interface not used')
  const names = verdicts.filter(v => v.eligible).map(v => v.name)
  if (names.length === 0) {
    log.fatal({ wanted }, 'no interface to announce on: check L2LB_INTERFACES and that the interface is up')
    process.exit(2)
  }
  const leaseSeconds = Number(env.L2LB_LEASE_SECONDS ?? '3')
  if (!Number.isInteger(leaseSeconds) || leaseSeconds < 1 || leaseSeconds > 60) {
    log.fatal(`L2LB_LEASE_SECONDS="${env.L2LB_LEASE_SECONDS}": write a whole number of seconds from 1 to 60 (default 3)`)
    process.exit(2)
  }
  // 0 turns peer heartbeats off (failover then takes one Lease duration); at most 1/10 of the Lease, so
  // silence is noticed well before the Lease would say the same.
  const heartbeatMs = Number(env.L2LB_HEARTBEAT_MS || '200')
  if (!Number.isInteger(heartbeatMs) || (heartbeatMs !== 0 && (heartbeatMs < 20 || heartbeatMs > leaseSeconds * 100))) {
    log.fatal(`L2LB_HEARTBEAT_MS="${env.L2LB_HEARTBEAT_MS}": write 0 (off) or a whole number of milliseconds from 20 to ${leaseSeconds * 100} (a tenth of L2LB_LEASE_SECONDS; default 200)`)
    process.exit(2)
  }
  // Peer-heartbeat authentication (README, "Heartbeat authentication"): the cluster's name, and its keys
  // (from the Secret l2lb-heartbeat-key; none: unauthenticated, which the heartbeats warn about at start).
  const cluster = parseClusterName(env.L2LB_CLUSTER_NAME ?? '')
  if (!cluster.ok) {
    log.fatal(`L2LB_CLUSTER_NAME: ${cluster.error}`)
    process.exit(2)
  }
  const keys = parseHeartbeatKeys(env.L2LB_HEARTBEAT_KEYS ?? '')
  if (!keys.ok) {
    log.fatal(`L2LB_HEARTBEAT_KEYS: ${keys.error} (README, "Heartbeat authentication")`)
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
    nodeName,
    kubeConfig: loadKubeConfig(env),
    log,
    metrics,
    announcers,
    loadBalancerClass: env.L2LB_LOAD_BALANCER_CLASS || null,
    configNamespace: env.L2LB_NAMESPACE || 'l2lb-system',
    configName: env.L2LB_CONFIGMAP || 'config',
    leaseDurationSeconds: leaseSeconds,
    peerHeartbeats: heartbeatMs === 0 ? undefined : new PeerHeartbeats({
      node: nodeName, interfaces: names, intervalMs: heartbeatMs, log: log.child({ part: 'peer-heartbeat' }), metrics,
      trust: { cluster: cluster.cluster, keys: keys.keys },
    }),
  })
  await runProgram({ log, listen, metrics, program: speaker })
}

main().catch(err => {
  log.fatal({ err }, 'speaker failed to start')
  process.exit(1)
})
