// Reconcile decisions: (Service view, allocator, writer) -> result, pure so they are tested without a cluster
// (docs/architecture.md). The shell (controller/) owns
// the work queue, the informers and the retry policy; this file decides what to write and says what the
// queue should do next. Three entry points:
//
//   applyConfig(allocator, text, services, class)  the ConfigMap changed (or was first seen)
//   restore(allocator, services, class)            after the caches synced, before any reconcile
//   reconcileService(key, view | null, ctx)        one Service changed (null: deleted)
//
// Nothing is allocated before existing assignments have been claimed back: until restore has run under a
// valid config, reconcileService does nothing and answers 'ok'; applyConfig/restore answer reprocessAll
// when they make progress, so every Service is looked at again then (no spinning 'retry' meanwhile).
import type { AllocationFailure } from './allocation-request.js'
import { requestFromService, type AllocationRequest } from './allocation-request.js'
import type { Allocator, AssignResult, ClearedAssignment } from './allocator.js'
import type { WaitingServices } from './waiting-services.js'
import { ALLOCATED_FROM_POOL } from '../../internal/core/annotations.js'
import { parsePoolConfig, type ConfigError } from '../../internal/core/pool-config.js'
import type { ServiceView } from '../../internal/core/views.js'
import type { CanonicalIP } from '../../internal/core/ip.js'
import { isOurs } from '../../internal/core/load-balancer-class.js'

/** What the kube layer made of a write: HTTP 409 -> conflict, 404 -> notFound, anything else -> failed. */
export type WriteOutcome = 'ok' | 'conflict' | 'notFound' | 'failed'

export interface ServiceWriter {
  updateIngress(svc: ServiceView, ips: readonly CanonicalIP[]): Promise<WriteOutcome>
  setAllocatedPool(svc: ServiceView, pool: string | null): Promise<WriteOutcome>
  recordEvent(svc: ServiceView, type: 'Normal' | 'Warning', reason: string, message: string): Promise<void>
}

/**
 * ok: done (also when there was nothing to do yet). retry: re-read the Service and try again with backoff
 * (a write conflicted or failed). reprocessAll: done, and an IP went back to free while other Services wait
 * for one, so enqueue every Service. giveUp: never produced here; the shell's name for dropping a key after
 * too many retries.
 */
export type ReconcileResult = 'ok' | 'retry' | 'reprocessAll' | 'giveUp'

export interface ReconcileContext {
  readonly allocator: Allocator
  /** Reconcile's memory of who waits for an address; one per allocator, living as long as it does. */
  readonly waiting: WaitingServices
  readonly writer: ServiceWriter
  /** The class this controller serves besides "no class"; null: only Services without a class. */
  readonly loadBalancerClass: string | null
}

export const EVENT_IP_ALLOCATED = 'IPAllocated'
export const EVENT_ALLOCATION_FAILED = 'AllocationFailed'
/** Emitted by the shell for each entry of ConfigOutcome.cleared / RestoreOutcome.cleared. */
export const EVENT_CLEAR_ASSIGNMENT = 'ClearAssignment'

/**
 * Whether the status already shows `ips` (the allocator's texts, canonical: formatIP), in order. The view's
 * status IPs are canonical too (views.ts), so plain equality; an entry that is not an address never matches.
 */
function sameIPs(svc: ServiceView, ips: readonly CanonicalIP[]): boolean {
  const status = svc.ingressIPs
  return svc.badIngressIPs.length === 0 && status.length === ips.length && status.every((s, i) => s === ips[i])
}

/** Whether the status shows anything at all, addresses or not. */
function hasStatus(svc: ServiceView): boolean {
  return svc.ingressIPs.length > 0 || svc.badIngressIPs.length > 0
}

function writeResult(o: WriteOutcome): ReconcileResult | null {
  return o === 'ok' ? null : o === 'notFound' ? 'ok' : 'retry'
}

export async function reconcileService(key: string, svc: ServiceView | null, ctx: ReconcileContext): Promise<ReconcileResult> {
  const { allocator, waiting, writer } = ctx
  const freedBefore = allocator.freedCount()
  const done = (): ReconcileResult => (allocator.freedCount() !== freedBefore && waiting.anyBesides(key) ? 'reprocessAll' : 'ok')

  if (svc === null) {
    allocator.release(key)
    waiting.clear(key)
    return done()
  }
  if (!isOurs(svc, ctx.loadBalancerClass)) {
    // Clear only what we wrote: we held an assignment, or our pool annotation is on the Service.
    const held = allocator.release(key)
    waiting.clear(key)
    const annotated = svc.annotations[ALLOCATED_FROM_POOL] !== undefined
    if (held !== null || annotated) {
      const ours = !svc.isLoadBalancer || (held !== null && sameIPs(svc, held.texts))
      if (hasStatus(svc) && ours) {
        const r = writeResult(await writer.updateIngress(svc, []))
        if (r !== null) return r
      }
      if (annotated) {
        const r = writeResult(await writer.setAllocatedPool(svc, null))
        if (r !== null) return r
      }
    }
    return done()
  }
  // No valid config, or existing assignments not yet claimed back: do nothing now (never clear a status on
  // a guess). applyConfig/restore answer reprocessAll once they have run.
  if (!allocator.hasConfig() || !allocator.isRestored()) return 'ok'

  const rr = requestFromService(svc)
  const res: AssignResult = rr.ok ? allocator.assign(rr.request) : { ok: false, failure: rr.failure }
  if (!res.ok) {
    allocator.release(key)
    if (hasStatus(svc)) {
      const r = writeResult(await writer.updateIngress(svc, []))
      if (r !== null) return r
    }
    if (svc.annotations[ALLOCATED_FROM_POOL] !== undefined) {
      const r = writeResult(await writer.setAllocatedPool(svc, null))
      if (r !== null) return r
    }
    if (waiting.report(key, res.failure.message)) {
      await writer.recordEvent(svc, 'Warning', EVENT_ALLOCATION_FAILED, failureMessage(res.failure))
    }
    return done()
  }
  waiting.clear(key)
  const { texts, pool } = res.assignment
  if (!sameIPs(svc, texts)) {
    const outcome = await writer.updateIngress(svc, texts)
    if (outcome === 'notFound') {
      allocator.release(key)
      return done()
    }
    if (outcome !== 'ok') return 'retry'
    await writer.recordEvent(svc, 'Normal', EVENT_IP_ALLOCATED, `Assigned IP ${JSON.stringify(texts)}`)
  }
  if (svc.annotations[ALLOCATED_FROM_POOL] !== pool) {
    const outcome = await writer.setAllocatedPool(svc, pool)
    if (outcome === 'notFound') {
      allocator.release(key)
      return done()
    }
    if (outcome !== 'ok') return 'retry'
  }
  return done()
}

function failureMessage(f: AllocationFailure): string {
  return `Failed to allocate IP for Service: ${f.message}`
}

export type ConfigOutcome =
  | {
      readonly accepted: true
      /** Assignments dropped (IP left the config, or lost a restore conflict); each gets ClearAssignment. */
      readonly cleared: readonly ClearedAssignment[]
      /** Always true when accepted: every Service is looked at again under the new pools. */
      readonly reprocessAll: true
    }
  | {
      readonly accepted: false
      readonly errors: readonly ConfigError[]
      /** A last good config stays in force (metric k8s_client_config_stale_bool = 1). */
      readonly stale: boolean
    }

/**
 * The ConfigMap changed; `text` is its `config` key (null: ConfigMap or key missing). An invalid config is
 * refused as a whole and the last good one stays; a missing one is treated the same way, so deleting the
 * ConfigMap by mistake never strips every Service of its IP (write `address-pools: []` to remove all pools).
 * `services` is the informer's current list: on the first accepted config, existing assignments are claimed
 * back from it before anything else (see restore).
 */
export function applyConfig(
  allocator: Allocator,
  text: string | null,
  services: readonly ServiceView[],
  loadBalancerClass: string | null,
): ConfigOutcome {
  if (text === null) {
    return {
      accepted: false,
      errors: [{ path: 'config', message: 'the pool ConfigMap, or its key "config", is missing', fix: 'create it (config/samples/pool-configmap.yaml); see the Configuration section of the README' }],
      stale: allocator.hasConfig(),
    }
  }
  const parsed = parsePoolConfig(text)
  if (!parsed.ok) return { accepted: false, errors: parsed.errors, stale: allocator.hasConfig() }
  const cleared = allocator.setConfig(parsed.config)
  const losers = allocator.isRestored() ? [] : restoreClaims(allocator, services, loadBalancerClass)
  return { accepted: true, cleared: [...cleared, ...losers], reprocessAll: true }
}

export type RestoreOutcome =
  | { readonly restored: true; readonly cleared: readonly ClearedAssignment[]; readonly reprocessAll: true }
  /** No valid config yet: applyConfig will claim the assignments back when the first one arrives. */
  | { readonly restored: false }

/**
 * Start-up: claim back every IP the Services' status shows, before anything new is allocated. Claims go
 * oldest Service first (creationTimestamp, then key), so when two Services show one IP without the right
 * to share it, the older keeps it and the newer is re-assigned (MetalLB #1774 #2443 #2479).
 */
export function restore(allocator: Allocator, services: readonly ServiceView[], loadBalancerClass: string | null): RestoreOutcome {
  if (!allocator.hasConfig()) return { restored: false }
  if (allocator.isRestored()) return { restored: true, cleared: [], reprocessAll: true }
  return { restored: true, cleared: restoreClaims(allocator, services, loadBalancerClass), reprocessAll: true }
}

function restoreClaims(allocator: Allocator, services: readonly ServiceView[], loadBalancerClass: string | null): ClearedAssignment[] {
  if (!allocator.hasConfig()) return []
  const claims = services
    .filter(s => isOurs(s, loadBalancerClass) && s.ingressIPs.length > 0)
    .sort((a, b) => {
      // '' (unknown) sorts last: a Service whose age is unknown never displaces one whose age is known.
      const ta = a.creationTimestamp === '' ? '\uffff' : a.creationTimestamp
      const tb = b.creationTimestamp === '' ? '\uffff' : b.creationTimestamp
      if (ta !== tb) return ta < tb ? -1 : 1
      return a.key < b.key ? -1 : a.key > b.key ? 1 : 0
    })
  const requests: AllocationRequest[] = []
  for (const s of claims) {
    const r = requestFromService(s)
    if (r.ok) requests.push(r.request)
  }
  return allocator.restore(requests)
}
