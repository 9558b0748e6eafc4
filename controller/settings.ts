// The controller's settings, read from its environment in one place: a value, or every problem found, each
// naming the variable and what it accepts (README, "Programs and their settings", lists them with defaults).
import { parseListenAddress } from '../internal/observe/listen-address.js'

export interface ControllerSettings {
  readonly listen: { readonly host: string, readonly port: number }
  readonly configNamespace: string
  readonly configName: string
  readonly loadBalancerClass: string | null
  readonly leaderElect: boolean
  /**
   * Leader election timing (client-go's meaning and defaults, 15 s / 10 s / 2 s): a standby takes over
   * `leaseMs` after the leader's last renewal; a leader that has not renewed for `renewDeadlineMs` writes
   * nothing until it renews again; every replica looks at the Lease every `retryMs`.
   */
  readonly leaseMs: number
  readonly renewDeadlineMs: number
  readonly retryMs: number
}

export type SettingsResult =
  | { readonly ok: true, readonly settings: ControllerSettings }
  | { readonly ok: false, readonly errors: readonly string[] }

function seconds(env: NodeJS.ProcessEnv, name: string, dflt: number, errors: string[]): number {
  const text = env[name]
  if (text === undefined || text.trim() === '') return dflt * 1000
  const v = Number(text)
  if (!Number.isFinite(v) || v <= 0 || v > 3600) {
    errors.push(`${name}=${JSON.stringify(text)}: expected a number of seconds above 0 (e.g. ${dflt}; decimals allowed)`)
    return dflt * 1000
  }
  return Math.round(v * 1000)
}

export function controllerSettings(env: NodeJS.ProcessEnv): SettingsResult {
  const errors: string[] = []
  const listen = parseListenAddress(env.L2LB_METRICS_ADDR ?? '0.0.0.0:7472')
  if (!listen.ok) errors.push(`L2LB_METRICS_ADDR: ${listen.error}`)
  const elect = env.L2LB_LEADER_ELECT ?? 'true'
  if (elect !== 'true' && elect !== 'false') errors.push(`L2LB_LEADER_ELECT=${JSON.stringify(elect)}: expected true or false`)
  const leaseMs = seconds(env, 'L2LB_LEADER_LEASE_SECONDS', 15, errors)
  const renewDeadlineMs = seconds(env, 'L2LB_LEADER_RENEW_DEADLINE_SECONDS', 10, errors)
  const retryMs = seconds(env, 'L2LB_LEADER_RETRY_SECONDS', 2, errors)
  // client-go's own rules: the deadline must end before a standby may take over, with a retry to spare.
  if (renewDeadlineMs >= leaseMs) errors.push(`L2LB_LEADER_RENEW_DEADLINE_SECONDS (${renewDeadlineMs / 1000}) must be below L2LB_LEADER_LEASE_SECONDS (${leaseMs / 1000}), or two replicas could both write`)
  if (retryMs >= renewDeadlineMs) errors.push(`L2LB_LEADER_RETRY_SECONDS (${retryMs / 1000}) must be below L2LB_LEADER_RENEW_DEADLINE_SECONDS (${renewDeadlineMs / 1000})`)
  if (errors.length > 0 || !listen.ok) return { ok: false, errors }
  return {
    ok: true,
    settings: {
      listen: { host: listen.host, port: listen.port },
      configNamespace: env.L2LB_NAMESPACE || 'l2lb-system',
      configName: env.L2LB_CONFIGMAP || 'config',
      loadBalancerClass: env.L2LB_LOAD_BALANCER_CLASS || null,
      leaderElect: elect !== 'false',
      leaseMs, renewDeadlineMs, retryMs,
    },
  }
}
