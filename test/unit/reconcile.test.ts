import t from 'tap'
import { Allocator } from '../../controller/core/allocator.js'
import { WaitingServices } from '../../controller/core/waiting-services.js'
import {
  applyConfig,
  reconcileService,
  restore,
  type ReconcileContext,
  type ServiceWriter,
  type WriteOutcome,
} from '../../controller/core/reconcile.js'
import type { ServiceView } from '../../internal/core/views.js'
import { svc } from './allocator-fixtures.js'
import { ips as canonicalIPs } from '../lib/canonical-ip.js'

const POOL = `
address-pools:
- name: default
  protocol: layer2
  addresses: [192.0.2.240-192.0.2.241]
`

/** Records every call; answers from a queue of outcomes (default ok). */
class FakeWriter implements ServiceWriter {
  calls: string[] = []
  outcomes: WriteOutcome[] = []
  async updateIngress(s: ServiceView, ips: readonly string[]): Promise<WriteOutcome> {
    this.calls.push(`ingress ${s.key} [${ips.join(',')}]`)
    return this.outcomes.shift() ?? 'ok'
  }
  async setAllocatedPool(s: ServiceView, pool: string | null): Promise<WriteOutcome> {
    this.calls.push(`pool ${s.key} ${pool}`)
    return this.outcomes.shift() ?? 'ok'
  }
  async recordEvent(s: ServiceView, type: string, reason: string, message: string): Promise<void> {
    this.calls.push(`event ${s.key} ${type} ${reason}: ${message}`)
  }
  take(): string[] {
    const c = this.calls
    this.calls = []
    return c
  }
}

function setup(services: ServiceView[] = [], loadBalancerClass: string | null = null): { ctx: ReconcileContext; w: FakeWriter } {
  const allocator = new Allocator()
  const w = new FakeWriter()
  const out = applyConfig(allocator, POOL, services, loadBalancerClass)
  if (!out.accepted) throw new Error('pool fixture refused')
  return { ctx: { allocator, waiting: new WaitingServices(), writer: w, loadBalancerClass }, w }
}

/** The view after the writer's changes, as the next informer event would show it. */
const written = (s: ServiceView, ips: string[], pool: string | null): ServiceView => ({
  ...s,
  ingressIPs: canonicalIPs(...ips), // as views.ts reads the status back
  annotations: pool === null ? {} : { ...s.annotations, 'l2lb.dev/ip-allocated-from-pool': pool },
})

t.test('allocates, writes status and annotation, records IPAllocated once', async t => {
  const { ctx, w } = setup()
  const a = svc('a')
  t.equal(await reconcileService(a.key, a, ctx), 'ok')
  t.same(w.take(), [
    'ingress default/a [192.0.2.240]',
    'event default/a Normal IPAllocated: Assigned IP ["192.0.2.240"]',
    'pool default/a default',
  ])
  t.equal(await reconcileService(a.key, written(a, ['192.0.2.240'], 'default'), ctx), 'ok')
  t.same(w.take(), [], 'nothing written when status already matches')
})

t.test('a status holding something that is not an address is rewritten', async t => {
  const { ctx, w } = setup()
  const a = svc('a')
  await reconcileService(a.key, a, ctx)
  w.take()
  const junk = { ...written(a, ['192.0.2.240'], 'default'), badIngressIPs: ['192.0.2.999'] }
  t.equal(await reconcileService(a.key, junk, ctx), 'ok')
  t.same(w.take(), ['ingress default/a [192.0.2.240]', 'event default/a Normal IPAllocated: Assigned IP ["192.0.2.240"]'])
})

t.test('failure: Warning with the reason, once per distinct reason; reprocessAll when an IP frees', async t => {
  const { ctx, w } = setup()
  await reconcileService('default/a', svc('a'), ctx)
  await reconcileService('default/b', svc('b'), ctx)
  w.take()
  const c = svc('c')
  t.equal(await reconcileService(c.key, c, ctx), 'ok')
  t.same(w.take(), ['event default/c Warning AllocationFailed: Failed to allocate IP for Service: no free address in pool default'])
  await reconcileService(c.key, c, ctx)
  t.same(w.take(), [], 'the same failure is not repeated')
  t.equal(await reconcileService('default/a', null, ctx), 'reprocessAll', 'a release while c waits')
  t.equal(await reconcileService(c.key, c, ctx), 'ok')
  t.same(w.take(), ['ingress default/c [192.0.2.240]', 'event default/c Normal IPAllocated: Assigned IP ["192.0.2.240"]', 'pool default/c default'])
  t.equal(await reconcileService('default/b', null, ctx), 'ok', 'nobody waits any more')
})

t.test('a failed Service that had an IP is cleared', async t => {
  const { ctx, w } = setup()
  const a = svc('a')
  await reconcileService(a.key, a, ctx)
  w.take()
  const bad = { ...written(a, ['192.0.2.240'], 'default'), loadBalancerIP: '203.0.113.5' }
  t.equal(await reconcileService(a.key, bad, ctx), 'ok')
  t.same(w.take(), [
    'ingress default/a []',
    'pool default/a null',
    'event default/a Warning AllocationFailed: Failed to allocate IP for Service: 203.0.113.5 is outside every pool',
  ])
  t.equal(ctx.allocator.assignment(a.key), null)
})

t.test('not a LoadBalancer any more, or another class: release and clear only what we wrote', async t => {
  const { ctx, w } = setup()
  const a = svc('a')
  await reconcileService(a.key, a, ctx)
  w.take()
  const clusterIP = { ...written(a, ['192.0.2.240'], 'default'), type: 'ClusterIP', isLoadBalancer: false }
  t.equal(await reconcileService(a.key, clusterIP, ctx), 'ok')
  t.same(w.take(), ['ingress default/a []', 'pool default/a null'])
  t.equal(ctx.allocator.assignment(a.key), null)
  const foreign = svc('f', { loadBalancerClass: 'other.example/lb', ingressIPs: ['203.0.113.7'] })
  t.equal(await reconcileService(foreign.key, foreign, ctx), 'ok')
  t.same(w.take(), [], "another controller's Service is left alone")
})

t.test('with a class, only that class is served: class-less Services are left to the default installation', async t => {
  // MetalLB internal/k8s/controllers/service_controller.go, filterByLoadBalancerClass: a Service without a
  // class is filtered out when a class is configured. This is what lets l2lb run beside MetalLB.
  const { ctx, w } = setup([], 'l2lb.dev/l2')
  await reconcileService('default/x', svc('x', { loadBalancerClass: 'l2lb.dev/l2' }), ctx)
  await reconcileService('default/y', svc('y', { ingressIPs: ['192.0.2.241'] }), ctx)
  t.same(w.take().filter(c => c.startsWith('ingress')), ['ingress default/x [192.0.2.240]'], 'x served; y neither served nor cleared')
})

t.test('write outcomes: conflict and failure retry, notFound releases', async t => {
  const { ctx, w } = setup()
  const a = svc('a')
  w.outcomes = ['conflict']
  t.equal(await reconcileService(a.key, a, ctx), 'retry')
  t.same(ctx.allocator.assignment(a.key)?.texts, ['192.0.2.240'], 'the IP stays reserved for the retry')
  w.take()
  t.equal(await reconcileService(a.key, a, ctx), 'ok')
  t.same(w.take()[1], 'event default/a Normal IPAllocated: Assigned IP ["192.0.2.240"]', 'the event follows the write that succeeded')
  const b = svc('b')
  w.outcomes = ['ok', 'failed']
  t.equal(await reconcileService(b.key, b, ctx), 'retry', 'annotation write failed')
  const c = svc('c')
  await reconcileService('default/b', null, ctx)
  w.outcomes = ['notFound']
  t.equal(await reconcileService(c.key, c, ctx), 'ok')
  t.equal(ctx.allocator.assignment(c.key), null, 'deleted meanwhile: released')
})

t.test('no config: nothing is done and nothing is cleared', async t => {
  const allocator = new Allocator()
  const w = new FakeWriter()
  const ctx = { allocator, waiting: new WaitingServices(), writer: w, loadBalancerClass: null }
  const had = svc('a', { ingressIPs: ['192.0.2.241'], annotations: { 'l2lb.dev/ip-allocated-from-pool': 'default' } })
  t.equal(await reconcileService(had.key, had, ctx), 'ok')
  t.same(w.calls, [])
  t.same(restore(allocator, [had], null), { restored: false })
  const bad = applyConfig(allocator, 'address-pools: [{name: x}]', [had], null)
  t.ok(!bad.accepted && !bad.stale, 'refused, and there is no last good config')
  const missing = applyConfig(allocator, null, [had], null)
  t.notOk(missing.accepted)
  const ok = applyConfig(allocator, POOL, [had], null)
  t.ok(ok.accepted && ok.reprocessAll)
  t.same(allocator.assignment(had.key)?.texts, ['192.0.2.241'], 'the first config claims status back')
  await reconcileService('default/new', svc('new'), ctx)
  t.same(w.take()[0], 'ingress default/new [192.0.2.240]')
  t.equal(await reconcileService(had.key, had, ctx), 'ok')
  t.same(w.take(), [], 'the restored Service needs no write')
})

t.test('an invalid config keeps the last good one (stale)', async t => {
  const { ctx } = setup()
  await reconcileService('default/a', svc('a'), ctx)
  const out = applyConfig(ctx.allocator, 'address-pools: [{name: default, protocol: bgp, addresses: [192.0.2.240/32]}]', [], null)
  t.ok(!out.accepted && out.stale)
  if (!out.accepted) t.match(out.errors[0]?.message ?? '', /layer-2 only/)
  t.same(ctx.allocator.assignment('default/a')?.texts, ['192.0.2.240'])
  t.same(applyConfig(ctx.allocator, null, [], null).accepted, false, 'a deleted ConfigMap is refused too')
})

t.test('restart: restore before reconcile, older keeps a contested IP, the loser is reported for ClearAssignment', async t => {
  const older = svc('older', { ingressIPs: ['192.0.2.241'], annotations: { 'l2lb.dev/ip-allocated-from-pool': 'default' }, creationTimestamp: '2026-01-01T00:00:00.000Z' })
  const newer = svc('newer', { ingressIPs: ['192.0.2.241'], annotations: { 'l2lb.dev/ip-allocated-from-pool': 'default' }, creationTimestamp: '2026-02-01T00:00:00.000Z' })
  const allocator = new Allocator()
  const w = new FakeWriter()
  const ctx = { allocator, waiting: new WaitingServices(), writer: w, loadBalancerClass: null }
  t.equal(await reconcileService(newer.key, newer, ctx), 'ok')
  t.same(w.take(), [], 'nothing happens before restore')
  t.same(restore(allocator, [newer, older], null), { restored: false }, 'no config yet: restore waits for it')
  const out = applyConfig(allocator, POOL, [newer, older], null)
  t.ok(out.accepted)
  if (out.accepted) {
    t.same(out.cleared.map(c => c.key), ['default/newer'], 'the first config claims status back')
    t.match(out.cleared[0]?.message ?? '', /^IP 192\.0\.2\.241 could not be kept: .*taken by Service default\/older/)
  }
  const again = restore(allocator, [newer, older], null)
  t.ok(again.restored && again.cleared.length === 0, 'restore runs once')
  await reconcileService(older.key, older, ctx)
  t.same(w.take(), [], 'the older one keeps its IP, untouched')
  await reconcileService(newer.key, newer, ctx)
  t.equal(w.take()[0], 'ingress default/newer [192.0.2.240]', 'the loser is re-assigned')
})

t.test('config edit: the dropped assignment is reported, then re-assigned; kept IPs are not rewritten', async t => {
  const { ctx, w } = setup()
  const a = svc('a')
  const b = svc('b')
  await reconcileService(a.key, a, ctx)
  await reconcileService(b.key, b, ctx)
  w.take()
  const out = applyConfig(ctx.allocator, 'address-pools: [{name: default, protocol: layer2, addresses: [192.0.2.240/32, 192.0.2.250/32]}]', [], null)
  t.ok(out.accepted)
  if (out.accepted) {
    t.same(out.cleared.map(c => c.key), ['default/b'])
    t.match(out.cleared[0]?.message ?? '', /IP 192\.0\.2\.241 is no longer usable/)
    t.same(out.cleared[0]?.ips, ['192.0.2.241'])
  }
  await reconcileService(a.key, written(a, ['192.0.2.240'], 'default'), ctx)
  t.same(w.take(), [])
  await reconcileService(b.key, written(b, ['192.0.2.241'], 'default'), ctx)
  t.equal(w.take()[0], 'ingress default/b [192.0.2.250]')
})
