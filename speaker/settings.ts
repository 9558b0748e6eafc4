// The speaker's settings, read from its environment in one place: a value, or every problem found, each
// naming the variable and what it accepts (README, "Programs and their settings", lists them with defaults).
// Which interfaces exist and are up is not a setting: main.ts reads that from /sys (core/interfaces.ts decides).
import { parseListenAddress } from '../internal/observe/listen-address.js'
import { parseClusterName, parseHeartbeatKeys, type HeartbeatTrust } from './core/peer-heartbeat.js'

export interface SpeakerSettings {
  /** This node's Kubernetes Node name (NODE_NAME; the DaemonSet passes spec.nodeName). */
  readonly nodeName: string
  readonly listen: { readonly host: string, readonly port: number }
  /** The interfaces asked for (L2LB_INTERFACES); empty: every eligible one. */
  readonly interfaces: readonly string[]
  readonly loadBalancerClass: string | null
  readonly configNamespace: string
  readonly configName: string
  /** The per-node liveness Lease's duration. */
  readonly leaseSeconds: number
  /** The peer heartbeat interval; 0: no peer heartbeats, the Lease alone decides. */
  readonly heartbeatMs: number
  /** The cluster name and keys the heartbeats carry and verify (README, "Heartbeat authentication"). */
  readonly trust: HeartbeatTrust
}

export type SpeakerSettingsResult =
  | { readonly ok: true, readonly settings: SpeakerSettings }
  | { readonly ok: false, readonly errors: readonly string[] }

export const SPEAKER_DEFAULTS = {
  metricsAddr: '0.0.0.0:7473',
  configNamespace: 'l2lb-system',
  configName: 'config',
  leaseSeconds: 3,
  heartbeatMs: 200,
} as const

export function speakerSettings(env: NodeJS.ProcessEnv): SpeakerSettingsResult {
  const errors: string[] = []
  const nodeName = env.NODE_NAME ?? ''
  if (!nodeName) errors.push('NODE_NAME is not set: set it to this node\'s Kubernetes Node name (the DaemonSet passes spec.nodeName through the downward API)')
  const listen = parseListenAddress(env.L2LB_METRICS_ADDR ?? SPEAKER_DEFAULTS.metricsAddr)
  if (!listen.ok) errors.push(`L2LB_METRICS_ADDR: ${listen.error}`)
  const leaseSeconds = Number(env.L2LB_LEASE_SECONDS ?? String(SPEAKER_DEFAULTS.leaseSeconds))
  const leaseOk = Number.isInteger(leaseSeconds) && leaseSeconds >= 1 && leaseSeconds <= 60
  if (!leaseOk) errors.push(`L2LB_LEASE_SECONDS="${env.L2LB_LEASE_SECONDS}": write a whole number of seconds from 1 to 60 (default ${SPEAKER_DEFAULTS.leaseSeconds})`)
  // 0 turns peer heartbeats off (failover then takes one Lease duration); at most 1/10 of the Lease, so
  // silence is noticed well before the Lease would say the same.
  const heartbeatMs = Number(env.L2LB_HEARTBEAT_MS || String(SPEAKER_DEFAULTS.heartbeatMs))
  if (leaseOk && (!Number.isInteger(heartbeatMs) || (heartbeatMs !== 0 && (heartbeatMs < 20 || heartbeatMs > leaseSeconds * 100)))) {
    errors.push(`L2LB_HEARTBEAT_MS="${env.L2LB_HEARTBEAT_MS}": write 0 (off) or a whole number of milliseconds from 20 to ${leaseSeconds * 100} (a tenth of L2LB_LEASE_SECONDS; default ${SPEAKER_DEFAULTS.heartbeatMs})`)
  }
  // Peer-heartbeat authentication (README, "Heartbeat authentication"): the cluster's name, and its keys
  // (from the Secret l2lb-heartbeat-key; none: unauthenticated, which the heartbeats warn about at start).
  const cluster = parseClusterName(env.L2LB_CLUSTER_NAME ?? '')
  if (!cluster.ok) errors.push(`L2LB_CLUSTER_NAME: ${cluster.error}`)
  const keys = parseHeartbeatKeys(env.L2LB_HEARTBEAT_KEYS ?? '')
  if (!keys.ok) errors.push(`L2LB_HEARTBEAT_KEYS: ${keys.error} (README, "Heartbeat authentication")`)
  if (errors.length > 0 || !listen.ok || !cluster.ok || !keys.ok) return { ok: false, errors }
  return {
    ok: true,
    settings: {
      nodeName,
      listen: { host: listen.host, port: listen.port },
      interfaces: (env.L2LB_INTERFACES ?? '').split(',').map(s => s.trim()).filter(Boolean),
      loadBalancerClass: env.L2LB_LOAD_BALANCER_CLASS || null,
      configNamespace: env.L2LB_NAMESPACE || SPEAKER_DEFAULTS.configNamespace,
      configName: env.L2LB_CONFIGMAP || SPEAKER_DEFAULTS.configName,
      leaseSeconds,
      heartbeatMs,
      trust: { cluster: cluster.cluster, keys: keys.keys },
    },
  }
}
