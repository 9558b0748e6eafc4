// Reads what `l2lb status` shows (controller/core/status-report.ts): the pool ConfigMap, Services, Nodes, the
// speakers' Leases and the `nodeAssigned` Events. Only reads.
import { CoordinationV1Api, CoreV1Api, type CoreV1Event, type KubeConfig } from '@kubernetes/client-node'
import { classifyApiError } from '../../internal/kube/kube-client.js'
import { buildStatus, type StatusInput, type StatusReport } from '../core/status-report.js'
import { toLeaseView, toNodeView, toServiceView } from '../../internal/core/views.js'

export interface StatusOptions {
  readonly namespace: string
  readonly configMap: string
  readonly loadBalancerClass: string | null
}

const ANNOUNCING = /^announcing from node (\S+)$/

function eventTime(e: CoreV1Event): string {
  const t = e.lastTimestamp ?? e.eventTime ?? e.firstTimestamp ?? e.metadata.creationTimestamp
  return t instanceof Date ? t.toISOString() : String(t ?? '')
}

/** Lists what the report needs; API errors other than a missing ConfigMap propagate with their message. */
export async function collectStatus(kc: KubeConfig, opts: StatusOptions, nowMs = Date.now()): Promise<StatusReport> {
  const core = kc.makeApiClient(CoreV1Api)
  const coordination = kc.makeApiClient(CoordinationV1Api)
  let configText: string | null = null
  try {
    const cm = await core.readNamespacedConfigMap({ name: opts.configMap, namespace: opts.namespace })
    configText = cm.data?.config ?? null
  } catch (err) {
    if (classifyApiError(err).outcome !== 'notFound') throw err
  }
  const [services, nodes, leases, events] = await Promise.all([
    core.listServiceForAllNamespaces(),
    core.listNode(),
    coordination.listNamespacedLease({ namespace: opts.namespace, labelSelector: 'app.kubernetes.io/component=speaker' }),
    core.listEventForAllNamespaces(),
  ])
  const announcements = new Map<string, { node: string; at: string }>()
  for (const e of events.items) {
    if (e.reason !== 'nodeAssigned' || e.involvedObject.kind !== 'Service') continue
    const node = ANNOUNCING.exec(e.message ?? '')?.[1]
    if (node === undefined) continue
    const key = `${e.involvedObject.namespace ?? ''}/${e.involvedObject.name ?? ''}`
    const at = eventTime(e)
    const seen = announcements.get(key)
    if (seen === undefined || at >= seen.at) announcements.set(key, { node, at })
  }
  const input: StatusInput = {
    configText,
    services: services.items.map(toServiceView),
    nodes: nodes.items.map(toNodeView),
    leases: leases.items.map(toLeaseView),
    announcements,
    loadBalancerClass: opts.loadBalancerClass,
    nowMs,
  }
  return buildStatus(input)
}

