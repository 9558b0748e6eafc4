// The controller program (a Deployment). Configuration comes from the environment; see README.
import { hostname } from 'node:os'
import { pino } from 'pino'
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
  const controller = new Controller({
    kubeConfig: loadKubeConfig(env),
    log,
    metrics,
    configNamespace: env.L2LB_NAMESPACE || 'l2lb-system',
    configName: env.L2LB_CONFIGMAP || 'config',
    loadBalancerClass: env.L2LB_LOAD_BALANCER_CLASS || null,
    instance: env.POD_NAME || hostname(),
  })
  await runProgram({ log, listen, metrics, program: controller })
}

main().catch(err => {
  log.fatal({ err }, 'controller failed to start')
  process.exit(1)
})
