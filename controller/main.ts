// The controller program (a Deployment). Configuration comes from the environment; see README.
import { hostname } from 'node:os'
import { pino } from 'pino'
import { loadKubeConfig } from './kube/kube-client.js'
import { MetricsRegistry } from './observe/metrics.js'
import { ObserveServer } from './observe/http-server.js'
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
  const observe = new ObserveServer({
    host: listen.host, port: listen.port, metrics,
    ready: () => (controller.ready ? { ready: true, reason: 'ok' } : { ready: false, reason: 'caches not synced' }),
  })
  let stopping = false
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'stopping')
    await controller.close()
    await observe.close()
    process.exit(0)
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  await observe.start()
  await controller.start()
}

main().catch(err => {
  log.fatal({ err }, 'controller failed to start')
  process.exit(1)
})
