// The controller's shell: informers on the pool ConfigMap and on Services feed a keyed work queue; each key
// goes through the pure reconcile (controller/core/reconcile.ts) with the Kubernetes writer. Nothing is
// allocated before both caches have synced and existing assignments have been claimed back (restore).
import { CoreV1Api, type KubeConfig, type V1ConfigMap, type V1Service } from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { Allocator } from './core/allocator.js'
import { WaitingServices } from './core/waiting-services.js'
import { formatConfigError } from '../internal/core/pool-config.js'
import {
  applyConfig, reconcileService, restore, EVENT_CLEAR_ASSIGNMENT, type ReconcileContext,
} from './core/reconcile.js'
import type { ClearedAssignment } from './core/allocator.js'
import { toConfigMapView, toServiceView, type ConfigMapView, type ServiceView } from '../internal/core/views.js'
import { Informer } from '../internal/kube/informer.js'
import { EventRecorder } from '../internal/kube/event-recorder.js'
import { KubeServiceWriter } from './kube/service-writer.js'
import { WorkQueue } from './kube/work-queue.js'
import type { MetricFamily, MetricsRegistry } from '../internal/observe/metrics.js'

export interface ControllerOptions {
  readonly kubeConfig: KubeConfig
  readonly log: Logger
  readonly metrics: MetricsRegistry
  /** Where the pool ConfigMap lives (docs/reference.md, "Pool ConfigMap": l2lb-system/config, key `config`). */
  readonly configNamespace: string
  readonly configName: string
  readonly loadBalancerClass: string | null
  /** Instance name for Events' reportingInstance (the pod name). */
  readonly instance: string
  /**
   * Asked right before every write (status, annotation, Event): false means this replica is not sure it still
   * leads, and nothing is written (the Service is retried). Default: always true (a single replica).
   */
  readonly mayWrite?: () => boolean
}

/** Services reconciled at once. */
const RECONCILE_WORKERS = 8

export class Controller {
  readonly #o: ControllerOptions
  readonly #allocator = new Allocator()
  readonly #waiting = new WaitingServices()
  #services: Informer<V1Service, ServiceView> | null = null
  #configMaps: Informer<V1ConfigMap, ConfigMapView> | null = null
  #queue: WorkQueue | null = null
  #ctx: ReconcileContext | null = null
  #events: EventRecorder | null = null
  #synced = false
  #closed = false
  #configAccepted = false
  #gauges: {
    stale: MetricFamily
    total: MetricFamily
    inUse: MetricFamily
    byFamily: Record<'IPv4' | 'IPv6', { total: MetricFamily; inUse: MetricFamily }>
  } | null = null

  constructor(opts: ControllerOptions) {
    this.#o = opts
  }

  get ready(): boolean {
    return this.#synced && !this.#closed
  }

  async start(): Promise<void> {
    if (this.#closed) return
    const { kubeConfig, log, metrics, configNamespace, configName } = this.#o
    const api = kubeConfig.makeApiClient(CoreV1Api)
    const mayWrite = this.#o.mayWrite ?? (() => true)
    this.#events = new EventRecorder({ api, component: 'l2lb-controller', instance: this.#o.instance, log, mayWrite })
    this.#ctx = { allocator: this.#allocator, waiting: this.#waiting, writer: new KubeServiceWriter(api, this.#events, log, mayWrite), loadBalancerClass: this.#o.loadBalancerClass }
    this.#gauges = {
      stale: metrics.gauge('l2lb_k8s_client_config_stale_bool', '1 when the pool ConfigMap on the server is not the config in force'),
      total: metrics.gauge('l2lb_allocator_addresses_total', 'Usable addresses in each pool'),
      inUse: metrics.gauge('l2lb_allocator_addresses_in_use_total', 'Addresses of each pool assigned to Services'),
      // MetalLB's per-family gauges (internal/allocator/stats.go: ipv4_addresses_total, ...), same names.
      byFamily: {
        IPv4: {
          total: metrics.gauge('l2lb_allocator_ipv4_addresses_total', 'Usable IPv4 addresses in each pool'),
          inUse: metrics.gauge('l2lb_allocator_ipv4_addresses_in_use_total', 'IPv4 addresses of each pool assigned to Services'),
        },
        IPv6: {
          total: metrics.gauge('l2lb_allocator_ipv6_addresses_total', 'Usable IPv6 addresses in each pool'),
          inUse: metrics.gauge('l2lb_allocator_ipv6_addresses_in_use_total', 'IPv6 addresses of each pool assigned to Services'),
        },
      },
    }
    this.#gauges.stale.set({}, 0)
    this.#queue = new WorkQueue({
      // Several Services at once: each reconcile waits on its own API writes, and the allocator's decisions
      // are synchronous, so they never interleave halfway (bench/controller.ts: 10000 Services).
      workers: RECONCILE_WORKERS,
      process: key => this.#process(key),
      onReprocessAll: () => this.#enqueueAll(),
      onGiveUp: (key, attempts) => log.error({ service: key, attempts }, 'giving up on Service after repeated failures'),
    })
    this.#services = new Informer({
      kubeConfig, log, path: '/api/v1/services', list: () => api.listServiceForAllNamespaces(), toView: toServiceView,
      onChange: key => { if (this.#synced) this.#queue?.add(key) },
    })
    this.#configMaps = new Informer({
      kubeConfig, log,
      path: `/api/v1/namespaces/${configNamespace}/configmaps`,
      fieldSelector: `metadata.name=${configName}`,
      list: () => api.listNamespacedConfigMap({ namespace: configNamespace, fieldSelector: `metadata.name=${configName}` }),
      toView: toConfigMapView,
      onChange: () => { if (this.#synced) this.#onConfigChange() },
    })
    await Promise.all([this.#services.start(), this.#configMaps.start()])
    if (this.#closed) return
    this.#synced = true
    log.info({ services: this.#services.keys().length }, 'caches synced')
    // First the config (which claims existing assignments back when it is the first valid one), then
    // restore for the case where the config was valid already; only then may anything be allocated.
    this.#onConfigChange()
    const r = restore(this.#allocator, this.#services.list(), this.#o.loadBalancerClass)
    if (r.restored) this.#clearAssignments(r.cleared)
    this.#enqueueAll()
  }

  #configView(): ConfigMapView | null {
    return this.#configMaps?.get(`${this.#o.configNamespace}/${this.#o.configName}`) ?? null
  }

  #onConfigChange(): void {
    const { log } = this.#o
    const cm = this.#configView()
    const text = cm?.data.config ?? null
    const outcome = applyConfig(this.#allocator, text, this.#services?.list() ?? [], this.#o.loadBalancerClass)
    if (outcome.accepted) {
      this.#configAccepted = true
      this.#gauges?.stale.set({}, 0)
      log.info({ pools: this.#allocator.currentConfig()?.pools.map(p => p.name) ?? [] }, 'config loaded')
      this.#clearAssignments(outcome.cleared)
      this.#updateUsage()
      this.#enqueueAll()
      return
    }
    this.#gauges?.stale.set({}, 1)
    const errors = outcome.errors.map(formatConfigError)
    log.error({ errors, keptLastGood: outcome.stale }, outcome.stale
      ? 'config (re)load failed, config marked stale; the last good config stays in force'
      : 'config load failed; no pools are configured, so no IP is assigned until it is fixed')
    if (cm) {
      void this.#events?.record(
        { kind: 'ConfigMap', apiVersion: 'v1', namespace: cm.namespace, name: cm.name, uid: cm.uid },
        'Warning', 'InvalidConfig', errors.join('; ').slice(0, 1000),
      )
    }
  }

  #clearAssignments(cleared: readonly ClearedAssignment[]): void {
    for (const c of cleared) {
      const svc = this.#services?.get(c.key)
      this.#o.log.warn({ service: c.key, ips: c.ips, reason: c.message }, 'assignment cleared')
      if (svc) void this.#ctx?.writer.recordEvent(svc, 'Warning', EVENT_CLEAR_ASSIGNMENT, c.message)
      this.#queue?.add(c.key)
    }
  }

  #enqueueAll(): void {
    for (const key of this.#services?.keys() ?? []) this.#queue?.add(key)
  }

  async #process(key: string): Promise<'ok' | 'retry' | 'reprocessAll' | 'giveUp'> {
    if (!this.#ctx || !this.#services) return 'ok'
    const result = await reconcileService(key, this.#services.get(key), this.#ctx)
    this.#updateUsage()
    return result
  }

  #updateUsage(): void {
    const g = this.#gauges
    if (!g) return
    const families = [g.byFamily.IPv4, g.byFamily.IPv6]
    for (const m of [g.total, g.inUse, ...families.flatMap(f => [f.total, f.inUse])]) m.clear()
    for (const u of this.#allocator.usage()) {
      g.total.set({ pool: u.pool }, u.capacity)
      g.inUse.set({ pool: u.pool }, u.inUse)
      for (const f of ['IPv4', 'IPv6'] as const) {
        g.byFamily[f].total.set({ pool: u.pool }, u.byFamily[f].capacity)
        g.byFamily[f].inUse.set({ pool: u.pool }, u.byFamily[f].inUse)
      }
    }
  }

  /**
   * Every Service once more: after a spell without writes (the leader was unsure it led), what was refused
   * then, or given up on, is written now.
   */
  resync(): void {
    if (this.#synced && !this.#closed) this.#enqueueAll()
  }

  /** Resolves when the queue is empty: for tests. */
  idle(): Promise<void> {
    return this.#queue?.idle() ?? Promise.resolve()
  }

  get configAccepted(): boolean {
    return this.#configAccepted
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#queue?.close()
    await Promise.all([this.#services?.close(), this.#configMaps?.close()])
  }
}
