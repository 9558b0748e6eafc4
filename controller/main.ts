// The controller program (a Deployment). Configuration comes from the environment; see README.
import { hostname } from 'node:os'
import { performance } from 'node:perf_hooks'
import { pino } from 'pino'
import { CoordinationV1Api } from '@kubernetes/client-node'
import { LeaderElector } from './kube/leader-elector.js'
import { loadKubeConfig } from './kube/kube-client.js'
import { MetricsRegistry } from './observe/metrics.js'
import { runProgram } from './observe/run-program.js'
import { parseListenAddress } from './observe/listen-address.js'
import { Controller } from './controller.js'

const log = pino({ name: 'l2lb-controller', level: process.env.LOG_LEVEL ?? 'info' })

async function main(): Promise<void> {
  const env = process.env
  const listen = parseListenAddress(env.L2LB_METRICS_ADDR ?? '0.0.0.0:7472')
  if (!listen.ok) {
    log.fatal(`L2LB_METRICS_ADDR: ${listen.error}`)
    process.exit(2)
  }
  const metrics = new MetricsRegistry()
  const kubeConfig = loadKubeConfig(env)
  const configNamespace = env.L2LB_NAMESPACE || 'l2lb-system'
  const controller = new Controller({
    kubeConfig,
    log,
    metrics,
    configNamespace,
    configName: env.L2LB_CONFIGMAP || 'config',
    loadBalancerClass: env.L2LB_LOAD_BALANCER_CLASS || null,
    instance: env.POD_NAME || hostname(),
  })
  if (env.L2LB_LEADER_ELECT === 'false') {
    await runProgram({ log, listen, metrics, program: controller })
    return
  }
  // Several replicas may run; one allocates (docs/architecture.md). Losing leadership exits, as client-go's
  // controllers do: the restarted process comes back as a standby and re-syncs from scratch if it leads again.
  const elector = new LeaderElector({
    api: kubeConfig.makeApiClient(CoordinationV1Api),
    namespace: configNamespace, name: 'l2lb-controller', identity: `${env.POD_NAME || hostname()}_${process.pid}`,
    log, now: () => performance.now(),
    onStartedLeading: () => {
      controller.start().catch(err => { log.fatal({ err }, 'controller failed to start'); process.exit(1) })
    },
    onStoppedLeading: () => { log.fatal('lost the controller Lease; exiting so that a restart starts clean'); process.exit(1) },
  })
  await runProgram({
    log, listen, metrics,
    program: {
      // A standby is healthy and ready: it is doing its job, which is to wait.
      get ready() { return controller.ready || !elector.leading },
      start: async () => elector.start(),
      close: async () => { await controller.close(); await elector.close() },
    },
  })
}

main().catch(err => {
  log.fatal({ err }, 'controller failed to start')
  process.exit(1)
})
