// Create-to-status latency with 10000 Services (figures in docs/architecture.md): from the moment a client
// sends the create of a LoadBalancer Service until a watch on Services shows its status.loadBalancer.ingress
// written by the controller. Beside it, in the same run and from the same watch, the floor the API server
// itself sets: from the create until the watch shows the Service at all (ADDED). The controller's own share is
// the gap.
//
// The API server is test/apiserver (the project's stand-in, in a process of its own, over real HTTPS), the
// controller the real one in this process (informers, work queue, allocator, status writes, Events), the
// watch our Informer. Both share this machine's cores, so the figures are what one laptop does.
// Services are created 16 at a time, as a deployment tool would; the pool is 198.19.0.0/16 (data only: the
// benchmarking range, nothing is sent to it; the cluster IPs come from 198.18.0.0/16). Bounded: 10000 Services, 180 s.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { pino } from 'pino'
import { CoreV1Api, type V1Service } from '@kubernetes/client-node'
import { PooledKubeConfig } from '../internal/kube/kube-client.js'
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Controller } from '../controller/controller.js'
import { Informer } from '../internal/kube/informer.js'
import { MetricsRegistry } from '../internal/observe/metrics.js'
import { toServiceView, type ServiceView } from '../internal/core/views.js'
import { percentile } from './lib/datapath-parse.js'
import { compared, round, type Figure, type RunGroup } from './lib/figures.js'

const SERVICES = 10_000
const CONCURRENCY = 16
const LIMIT_MS = 180_000
const POOL = `address-pools:
- name: bench
  protocol: layer2
  addresses: [198.19.0.0/16]
`

function service(i: number): V1Service {
  return { metadata: { name: `svc-${i}`, namespace: 'default' }, spec: {
    // Without node ports: 10000 LoadBalancer Services would exhaust the 2768-port NodePort range (the API
    // server refuses the 2769th, as a real one does); a layer-2 LoadBalancer does not need them.
    type: 'LoadBalancer', allocateLoadBalancerNodePorts: false, selector: { app: `app-${i}` }, ports: [{ port: 80, protocol: 'TCP' }],
  } }
}

const apiserverMain = fileURLToPath(new URL('../test/apiserver/main.ts', import.meta.url))

export const run: RunGroup = async log => {
  const dir = await mkdtemp(path.join(tmpdir(), 'l2lb-bench-controller-'))
  const kubeconfig = path.join(dir, 'kubeconfig')
  // A watch cache window large enough that no watcher falls out of it during the burst (a relist of
  // thousands of Services would be measured as latency; the real server sizes its cache to the load too).
  const server = spawn(process.execPath, ['--import', 'tsx', apiserverMain, '--kubeconfig', kubeconfig, '--history-limit', String(4 * SERVICES)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const quiet = pino({ level: 'silent' })
  let controller: Controller | null = null
  let watch: Informer<V1Service, ServiceView> | null = null
  try {
    await new Promise<void>((resolve, reject) => {
      const lines = createInterface({ input: server.stdout })
      const timer = setTimeout(() => reject(new Error('the API server did not start within 30 s')), 30_000)
      lines.once('line', () => { clearTimeout(timer); resolve() })
      server.once('exit', code => { clearTimeout(timer); reject(new Error(`the API server exited (${code})`)) })
    })
    // What loadKubeConfig gives the programs: one keep-alive connection pool (internal/kube/kube-client.ts).
    const kc = new PooledKubeConfig()
    kc.loadFromFile(kubeconfig)
    const core = kc.makeApiClient(CoreV1Api)
    await core.createNamespacedConfigMap({ namespace: 'l2lb-system', body: { metadata: { name: 'config' }, data: { config: POOL } } })
    controller = new Controller({ kubeConfig: kc, log: quiet, metrics: new MetricsRegistry(), configNamespace: 'l2lb-system', configName: 'config', loadBalancerClass: null, instance: 'bench' })
    await controller.start()

    const createdAt = new Map<string, number>()
    const seenAt = new Map<string, number>()
    const statusAt = new Map<string, number>()
    watch = new Informer({
      kubeConfig: kc, log: quiet, path: '/api/v1/services', list: () => core.listServiceForAllNamespaces(), toView: toServiceView,
      onChange: (key, view) => {
        const now = performance.now()
        if (view === null) return
        if (!seenAt.has(key)) seenAt.set(key, now)
        if (view.ingressIPs.length > 0 && !statusAt.has(key)) statusAt.set(key, now)
      },
    })
    await watch.start()

    const start = performance.now()
    let next = 0
    const worker = async (): Promise<void> => {
      while (next < SERVICES && performance.now() - start < LIMIT_MS) {
        const i = next++
        createdAt.set(`default/svc-${i}`, performance.now())
        await core.createNamespacedService({ namespace: 'default', body: service(i) })
      }
    }
    await Promise.all(Array.from({ length: CONCURRENCY }, worker))
    const created = performance.now()
    log(`created ${createdAt.size} Services in ${((created - start) / 1000).toFixed(1)} s`)
    while (statusAt.size < createdAt.size && performance.now() - start < LIMIT_MS) await new Promise(r => setTimeout(r, 50))
    const done = performance.now()
    if (statusAt.size < createdAt.size) throw new Error(`only ${statusAt.size} of ${createdAt.size} Services got a status within ${LIMIT_MS / 1000} s`)
    log(`every Service has its status ${((done - start) / 1000).toFixed(1)} s after the first create`)

    const lat = (m: Map<string, number>): number[] => [...createdAt].map(([k, t0]) => (m.get(k) ?? NaN) - t0).sort((a, b) => a - b)
    const status = lat(statusAt)
    const floor = lat(seenAt)
    const p = (xs: number[], q: number): number => round(percentile(xs, q), 1)
    log(`create-to-status p50 ${p(status, 50)} ms, p99 ${p(status, 99)} ms; create-to-watch p50 ${p(floor, 50)} ms, p99 ${p(floor, 99)} ms`)
    return [
      compared('controller.create_to_status_p50_10k', p(status, 50), 'ms', 'API server create-to-watch p50', p(floor, 50)),
      compared('controller.create_to_status_p99_10k', p(status, 99), 'ms', 'API server create-to-watch p99', p(floor, 99)),
      { name: 'controller.services_per_s_10k', value: round(createdAt.size / ((done - start) / 1000), 0), unit: 'ops/s' },
    ] satisfies Figure[]
  } finally {
    watch?.close()
    await controller?.close()
    // Stopped by its PID (the child we started), then waited for.
    if (server.exitCode === null) {
      const exited = new Promise(r => server.once('exit', r))
      server.kill('SIGTERM')
      await exited
    }
    await rm(dir, { recursive: true, force: true })
  }
}
