// The controller program (a Deployment). Configuration comes from the environment; see README.
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { CoordinationV1Api } from '@kubernetes/client-node'
import { LeaderElector } from './kube/leader-elector.js'
import { loadKubeConfig } from '../internal/kube/kube-client.js'
import { MetricsRegistry } from '../internal/observe/metrics.js'
import { runProgram } from '../internal/observe/run-program.js'
import { Controller } from './controller.js'
import { controllerSettings } from './settings.js'

const log = pino({ name: 'l2lb-controller', level: process.env.LOG_LEVEL ?? 'info' })

async function main(): Promise<void> {
  const env = process.env
  const parsed = controllerSettings(env)
  if (!parsed.ok) {
    for (const e of parsed.errors) log.fatal(e)
    process.exit(2)
  }
  const settings = parsed.settings
  const metrics = new MetricsRegistry()
  const kubeConfig = loadKubeConfig(env)
  const instance = env.POD_NAME || hostname()
  // The elector exists before the controller so that the controller's writes can ask it; it starts later.
  let elector: LeaderElector | null = null
  const controller = new Controller({
    kubeConfig,
    log,
    metrics,
    configNamespace: settings.configNamespace,
    configName: settings.configName,
    loadBalancerClass: settings.loadBalancerClass,
    instance,
    mayWrite: () => elector === null || elector.certain,
  })
  if (!settings.leaderElect) {
    await runProgram({ log, listen: settings.listen, metrics, program: controller })
    return
  }
  // Several replicas may run; one allocates (docs/architecture.md). An API server outage does not end the
  // leader: it writes nothing while it is unsure it leads, and goes on when it can renew again (nobody took
  // over meanwhile, or it would have read their Lease). Only a leader that sees another holder exits, as
  // client-go's controllers do: the restarted process comes back as a standby and re-syncs from scratch.
  const le = new LeaderElector({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: settings.configNamespace, name: 'l2lb-controller', identity: `${instance}_${process.pid}`,
    leaseDurationMs: settings.leaseMs, renewDeadlineMs: settings.renewDeadlineMs, retryPeriodMs: settings.retryMs,
    log, now: () => performance.now(),
    onStartedLeading: () => {
      controller.start().catch(err => { log.fatal({ err }, 'controller failed to start'); process.exit(1) })
    },
    onRegainedCertainty: () => controller.resync(),
    onStoppedLeading: () => { log.fatal('another replica holds the controller Lease; exiting so that a restart starts clean'); process.exit(1) },
  })
  elector = le
  await runProgram({
    log, listen: settings.listen, metrics,
    program: {
      // A standby is healthy and ready: it is doing its job, which is to wait.
      get ready() { return controller.ready || !le.leading },
      start: async () => le.start(),
      close: async () => { await controller.close(); await le.close() },
    },
  })
}

main().catch(err => {
  log.fatal({ err }, 'controller failed to start')
  process.exit(1)
})
