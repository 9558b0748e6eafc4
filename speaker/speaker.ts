// The speaker's shell: watches Services, Nodes and EndpointSlices, asks the pure election which IPs this node
// wins, and hands that set to the ARP responders. It records `nodeAssigned` only when this node takes a
// Service over (MetalLB emits it on every reconcile, and users complain: MetalLB #978, #2387).
import {
  CoordinationV1Api, CoreV1Api, DiscoveryV1Api,
  type KubeConfig, type V1Service, type V1Node, type V1EndpointSlice, type V1ConfigMap, type V1Lease,
} from '@kubernetes/client-node'
import type { Logger } from 'pino'
import { Informer } from '../internal/kube/informer.js'
import { EventRecorder } from '../internal/kube/event-recorder.js'
import type { MetricsRegistry, MetricFamily } from '../internal/observe/metrics.js'
import {
  toServiceView, toNodeView, toEndpointSliceView, toConfigMapView, toLeaseView,
  type ServiceView, type NodeView, type EndpointSliceView, type ConfigMapView, type LeaseView,
} from '../internal/core/views.js'
import { formatConfigError } from '../internal/core/pool-config.js'
import { ConfigParser } from './config-parser.js'
import { planAnnouncements } from './core/announcement-plan.js'
import {
  HEARTBEATS_MISSED, declaredHeartbeatInterval, liveMembers, observeHeartbeat, observeLease,
  type HeartbeatObservation, type LeaseObservation, type Membership, type SelfVerdict,
} from './core/membership.js'
import type { OwnStatus, PeerHeartbeatSource } from './peer-heartbeat.js'
import type { ReceivedHeartbeat } from './core/peer-heartbeat.js'
import { LeaseHeartbeat, SPEAKER_LEASE_LABELS } from './lease-heartbeat.js'
import type { PoolIndex } from './core/advertisement.js'
import type { ProbeOutcome } from './core/claims.js'
import type { CanonicalIP } from '../internal/core/ip.js'
import { ClaimRecorder } from './claim-recorder.js'
import type { Clock, TimerHandle } from './core/clock.js'
import { systemClock } from './system-clock.js'

/**
 * What the speaker needs of a responder: the set of IPs (both families) to answer for on one interface.
 * main.ts puts an ARP and an NDP responder behind each; each takes the addresses of its own family.
 */
export interface Announcer {
  readonly interfaceName: string
  start(): void | Promise<void>
  /** `fresh`: IPs no node of this cluster announced before, probed before they are announced (core/claims.ts). */
  setAnnounced(ips: Iterable<CanonicalIP>, fresh?: ReadonlySet<CanonicalIP>): void
  /** Where the outcome of each probe goes. */
  onProbe?(listener: (o: ProbeOutcome) => void): void
  close(): void | Promise<void>
}

export interface SpeakerOptions {
  readonly nodeName: string
  readonly kubeConfig: KubeConfig
  readonly log: Logger
  readonly metrics: MetricsRegistry
  readonly announcers: readonly Announcer[]
  /** spec.loadBalancerClass served; null = Services without a class. */
  readonly loadBalancerClass: string | null
  /**
   * The pool ConfigMap (docs/reference.md, "Pool ConfigMap"): only IPs inside a pool are announced, as its
   * advertisements say.
   */
  readonly configNamespace: string
  readonly configName: string
  /**
   * Per-node Lease (in configNamespace) that says this speaker is alive. A node counts as a candidate only
   * while it is Ready and its speaker's Lease is fresh; a speaker that cannot renew its own Lease stops
   * announcing (it fences itself before peers take over). Default 3 s, renewed every 0.75 s.
   */
  readonly leaseDurationSeconds?: number
  /**
   * Heartbeats with the other speakers on the LAN (peer-heartbeat.ts): a peer that falls silent is passed
   * over after a few intervals, long before its Lease runs out, and the speakers keep announcing through an
   * API server outage (core/membership.ts). Without it, the Leases alone decide.
   */
  readonly peerHeartbeats?: PeerHeartbeatSource
  /**
   * Time for the membership: when Leases and heartbeats were seen, the recheck when one goes stale, the
   * listening before the join; handed on to the Lease renewals. peerHeartbeats must report lastSentMs() on the
   * same clock (main.ts gives both systemClock). Default: systemClock.
   */
  readonly clock?: Clock
}

export class Speaker {
  readonly #o: SpeakerOptions
  readonly #clock: Clock
  #services: Informer<V1Service, ServiceView> | null = null
  #nodes: Informer<V1Node, NodeView> | null = null
  #slices: Informer<V1EndpointSlice, EndpointSliceView> | null = null
  #configMaps: Informer<V1ConfigMap, ConfigMapView> | null = null
  #leases: Informer<V1Lease, LeaseView> | null = null
  #heartbeat: LeaseHeartbeat | null = null
  /** When our own last successful renewal was sent (monotonic ms); null until the first one. */
  #ownRenewSentMs: number | null = null
  /** Since when our renewals have been failing without a break; null: the last one succeeded. */
  #renewalsFailingSinceMs: number | null = null
  /** When we started listening for heartbeats (monotonic ms). */
  #listeningSinceMs = 0
  /** We have joined: our heartbeats go out and we count ourselves. */
  #joined = false
  #self: SelfVerdict = { state: 'standby', reason: 'not joined yet' }
  /** When we last became serving (monotonic ms). */
  #servingSinceMs = -Infinity
  /** We stopped serving: the next recompute withdraws, then says so in a heartbeat out of turn. */
  #tellPeersAfterWithdrawal = false
  #observations = new Map<string, LeaseObservation>()
  /** The last heartbeat heard from each other node of this cluster. */
  #heard = new Map<string, HeartbeatObservation>()
  /** When we last started hearing peers after hearing none (see core/membership.ts). */
  #hearingSinceMs = -Infinity
  /** Until when the freshest alive heartbeat heard so far stays fresh. */
  #hearingUntilMs = -Infinity
  #heartbeatsReceived: MetricFamily | null = null
  /** Our own Lease as the watch shows it: proof that our view of the cluster is current (see #checkMembership). */
  #selfSeen: LeaseObservation | undefined = undefined
  #live: ReadonlySet<string> = new Set()
  #expiryTimer: TimerHandle | undefined = undefined
  /** The last valid pool config; an invalid edit keeps it (nothing announced is lost). */
  #config: PoolIndex | null = null
  #configText: string | null = null
  readonly #configParser = new ConfigParser()
  #events: EventRecorder | null = null
  #announcedGauge: MetricFamily | null = null
  #selfStateGauge: MetricFamily | null = null
  #synced = false
  #scheduled = false
  #closed = false
  /** Service key -> IPs this node announces for it, as of the last recompute. */
  #mine: ReadonlyMap<string, ReadonlySet<string>> = new Map()

  constructor(opts: SpeakerOptions) {
    this.#o = opts
    this.#clock = opts.clock ?? systemClock
  }

  get ready(): boolean {
    return this.#synced && !this.#closed
  }

  async start(): Promise<void> {
    if (this.#closed) return
    const { kubeConfig, log } = this.#o
    const core = kubeConfig.makeApiClient(CoreV1Api)
    const discovery = kubeConfig.makeApiClient(DiscoveryV1Api)
    this.#events = new EventRecorder({ api: core, component: 'l2lb-speaker', instance: this.#o.nodeName, log })
    this.#announcedGauge = this.#o.metrics.gauge('l2lb_speaker_announced', 'IPs this speaker announces (1 = announcing)')
    this.#selfStateGauge = this.#o.metrics.gauge('l2lb_speaker_serving_bool', '1 while this node may announce; 0 while it stands by or has fenced itself (the log says why)')
    this.#selfStateGauge.set({}, 0)
    // Probe outcomes go on the Service (annotations, and an Event for a refused IP): the IP's owner, found
    // through what this node last won.
    const claims = new ClaimRecorder({
      api: core, events: this.#events, log, nodeName: this.#o.nodeName,
      serviceOf: ip => {
        for (const [key, ips] of this.#mine) if (ips.has(ip)) return this.#services?.get(key) ?? null
        return null
      },
    })
    for (const a of this.#o.announcers) a.onProbe?.(o => void claims.record(o))
    const onChange = (): void => this.#schedule()
    this.#services = new Informer({
      kubeConfig, log, path: '/api/v1/services', list: () => core.listServiceForAllNamespaces(),
      toView: toServiceView, onChange,
    })
    this.#nodes = new Informer({ kubeConfig, log, path: '/api/v1/nodes', list: () => core.listNode(), toView: toNodeView, onChange })
    this.#slices = new Informer({
      kubeConfig, log, path: '/apis/discovery.k8s.io/v1/endpointslices',
      list: () => discovery.listEndpointSliceForAllNamespaces(), toView: toEndpointSliceView, onChange,
    })
    const { configNamespace: ns, configName: name } = this.#o
    this.#configMaps = new Informer({
      kubeConfig, log, path: `/api/v1/namespaces/${ns}/configmaps`, fieldSelector: `metadata.name=${name}`,
      list: () => core.listNamespacedConfigMap({ namespace: ns, fieldSelector: `metadata.name=${name}` }),
      toView: toConfigMapView, onChange,
    })
    this.#leases = new Informer({
      kubeConfig, log, path: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
      labelSelector: `app.kubernetes.io/component=${SPEAKER_LEASE_LABELS['app.kubernetes.io/component']}`,
      list: () => kubeConfig.makeApiClient(CoordinationV1Api).listNamespacedLease({
        namespace: ns, labelSelector: `app.kubernetes.io/component=${SPEAKER_LEASE_LABELS['app.kubernetes.io/component']}`,
      }),
      toView: toLeaseView,
      onChange: () => this.#checkMembership(),
    })
    const durationSeconds = this.#o.leaseDurationSeconds ?? 3
    const hb = this.#o.peerHeartbeats
    this.#heartbeat = new LeaseHeartbeat({
      api: kubeConfig.makeApiClient(CoordinationV1Api), namespace: ns, node: this.#o.nodeName, durationSeconds, log,
      heartbeatIntervalMs: hb?.intervalMs ?? 0, clock: this.#clock,
      onRenewed: sentAt => { this.#ownRenewSentMs = sentAt; this.#renewalsFailingSinceMs = null; this.#checkMembership() },
      onFailed: since => { this.#renewalsFailingSinceMs = since; this.#checkMembership() },
    })
    await Promise.all([
      this.#services.start(), this.#nodes.start(), this.#slices.start(), this.#configMaps.start(), this.#leases.start(),
    ])
    // The pool config before anything is announced: a speaker that joined without it would let peers hand it
    // IPs it cannot place yet.
    await this.#refreshConfig()
    // Sockets first: a speaker that cannot answer (EPERM, ENODEV) must never take a Lease and be elected.
    for (const a of this.#o.announcers) await a.start()
    if (hb !== undefined) await this.#join(hb)
    else await this.#heartbeat.start()
    if (this.#closed) return
    this.#synced = true
    log.info({ node: this.#o.nodeName, interfaces: this.#o.announcers.map(a => a.interfaceName) }, 'speaker synced')
    this.#recompute()
  }

  /**
   * A new speaker counts for the election only once it answers for what it wins (core/membership.ts): it
   * listens for HEARTBEATS_MISSED + 1 intervals first, so that it knows which peers are alive (a node that
   * died a moment ago is not heard, whatever its Lease says); then it joins, and its first heartbeat tells
   * peers to hand over the IPs it wins. It starts announcing one interval later, once they have let go
   * (#membership: a gap of one interval for those IPs rather than two MACs answering). Its Lease is taken at
   * the join: a peer that hears nobody counts it only from a renewal seen after that.
   */
  async #join(hb: PeerHeartbeatSource): Promise<void> {
    this.#heartbeatsReceived = this.#o.metrics.counter('l2lb_speaker_heartbeats_received_total', 'Peer heartbeats heard, per sending node of this cluster')
    this.#listeningSinceMs = this.#clock.now()
    hb.listen(h => this.#onHeartbeat(h))
    await this.#sleep((HEARTBEATS_MISSED + 1) * hb.intervalMs)
    if (this.#closed) return
    this.#joined = true
    this.#checkMembership()
    hb.join(() => this.#ownStatus())
    await this.#heartbeat?.start()
  }

  #sleep(ms: number): Promise<void> {
    return ms <= 0 ? Promise.resolve() : new Promise(resolve => { this.#clock.setTimeout(resolve, ms) })
  }

  /** What our heartbeats say: alive while we serve; whether our last renewal succeeded, less than a Lease ago. */
  #ownStatus(): OwnStatus {
    const ok = this.#ownRenewSentMs
    return {
      // Until our withdrawal has happened we still answer: say so, or a peer would answer beside us.
      kind: this.#self.state === 'serving' || this.#tellPeersAfterWithdrawal ? 'alive' : 'standby',
      reachesApi: ok !== null && this.#renewalsFailingSinceMs === null && this.#clock.now() - ok < (this.#o.leaseDurationSeconds ?? 3) * 1000,
    }
  }

  #schedule(): void {
    if (!this.#synced || this.#scheduled || this.#closed) return
    this.#scheduled = true
    // Coalesce a burst of watch events (a relist delivers hundreds at once) into one recompute.
    setImmediate(() => { this.#scheduled = false; this.#recompute() })
  }

  /**
   * Updates what we have seen of every speaker's Lease and recomputes the live set; a full recompute runs only
   * when the live set changed, so routine renewals (every node, several times a second) cost next to nothing.
   */
  #checkMembership(): void {
    if (this.#closed || !this.#nodes || !this.#leases) return
    const now = this.#clock.now()
    const seen = new Map<string, LeaseObservation>()
    let selfSeen: LeaseObservation | undefined
    for (const l of this.#leases.list()) {
      const node = l.holderIdentity ?? l.labels['l2lb.dev/node'] ?? null
      if (!node || l.leaseDurationSeconds === null) continue
      const sighting = {
        renewTime: l.renewTime, durationMs: l.leaseDurationSeconds * 1000, heartbeatIntervalMs: declaredHeartbeatInterval(l.annotations),
      }
      if (node === this.#o.nodeName) selfSeen = observeLease(this.#selfSeen, sighting, now)
      else seen.set(node, observeLease(this.#observations.get(node), sighting, now))
    }
    this.#selfSeen = selfSeen
    this.#observations = seen
    const m = this.#membership(now)
    this.#clock.clearTimeout(this.#expiryTimer)
    this.#expiryTimer = m.recheckAtMs === null ? undefined
      : this.#clock.setTimeout(() => this.#checkMembership(), Math.max(1, m.recheckAtMs - now + 1))
    const changed = m.live.size !== this.#live.size || [...m.live].some(n => !this.#live.has(n))
    if (changed) {
      this.#o.log.info({ live: [...m.live].sort() }, 'membership changed')
      this.#live = m.live
      this.#schedule()
    }
  }

  /**
   * The membership as of now. We count our own Lease as renewed only once both hold: the renewal was sent
   * (conservative: the send time), and our watch has shown it (else our view of the peers' Leases may be
   * stale). A change of our own state is logged and told to peers at once.
   */
  #membership(now: number): Membership {
    const selfSeen = this.#selfSeen
    const hb = this.#o.peerHeartbeats
    const m = liveMembers({
      nodes: this.#nodes?.list() ?? [],
      leases: this.#observations,
      heard: this.#heard,
      listening: hb === undefined ? null : { sinceMs: this.#listeningSinceMs, hearingSinceMs: this.#hearingSinceMs, ownIntervalMs: hb.intervalMs },
      self: {
        name: this.#o.nodeName,
        leaseRenewedAtMs: this.#ownRenewSentMs !== null && selfSeen !== undefined ? Math.min(this.#ownRenewSentMs, selfSeen.observedAtMs) : null,
        leaseDurationMs: (this.#o.leaseDurationSeconds ?? 3) * 1000,
        renewalsFailingSinceMs: this.#renewalsFailingSinceMs,
        lastRenewalOkMs: this.#ownRenewSentMs,
        heartbeatSentAtMs: this.#joined ? (hb?.lastSentMs() ?? now) : null,
      },
      nowMs: now,
    })
    if (m.self.state !== this.#self.state) {
      const level = m.self.state === 'serving' ? 'info' : 'warn'
      this.#o.log[level]({ state: m.self.state, was: this.#self.state, reason: m.self.reason }, `this node is now ${m.self.state}`)
      this.#self = m.self
      if (m.self.state === 'serving') this.#servingSinceMs = now
      this.#selfStateGauge?.set({}, m.self.state === 'serving' ? 1 : 0)
      // Serving again: tell peers at once (they let go; we take our IPs one interval later). Leaving serving:
      // withdraw first, then tell them (#recompute sends it), so that a peer taking over never answers
      // beside us.
      if (m.self.state === 'serving' || !this.#synced) {
        if (this.#joined) hb?.sendNow()
      } else {
        this.#tellPeersAfterWithdrawal = true
        this.#schedule()
      }
    }
    // Once we serve again (joined, back from standby or fenced), peers hear it at once and let go of the IPs
    // we win; we take them one heartbeat interval later, so that a handover back to us is a short gap
    // rather than two MACs answering while the news travels.
    const takeFrom = this.#servingSinceMs + (hb?.intervalMs ?? 0)
    if (m.self.state === 'serving' && now < takeFrom) {
      const live = new Set(m.live)
      live.delete(this.#o.nodeName)
      return { ...m, live, recheckAtMs: m.recheckAtMs === null ? takeFrom : Math.min(m.recheckAtMs, takeFrom) }
    }
    return m
  }

  /**
   * Records a peer's heartbeat. Membership is re-checked only when it can change because of this one: the
   * node was unheard, silent or leaving before, or says something new (its kind, whether it reaches the API
   * server, its interval). Routine heartbeats (every node, several times a second) cost a map write; the
   * recheck timer catches a node falling silent.
   */
  #onHeartbeat(h: ReceivedHeartbeat): void {
    if (this.#closed) return
    // Only the nodes of this cluster: another cluster on the segment, or a stray sender, neither counts nor
    // grows the map and the metric's labels.
    if (!this.#nodes || this.#nodes.get(h.node) === null) return
    this.#heartbeatsReceived?.inc({ node: h.node })
    const now = this.#clock.now()
    // O(1) per heartbeat (every node sends several a second): whether any heartbeat is still fresh, kept as
    // the latest deadline of them all (a node's later `leaving` does not shorten it).
    if (h.kind !== 'leaving' && now >= this.#hearingUntilMs) this.#hearingSinceMs = now
    const before = this.#heard.get(h.node)
    const obs = observeHeartbeat(before, h, now)
    if (obs.kind !== 'leaving') this.#hearingUntilMs = Math.max(this.#hearingUntilMs, now + obs.deadlineMs)
    this.#heard.set(h.node, obs)
    const wasFresh = before !== undefined && before.kind !== 'leaving' && before.heardAtMs + before.deadlineMs > now
    const same = wasFresh && before.kind === obs.kind && before.deadlineMs === obs.deadlineMs
      && (before.reachesApiSinceMs === null) === (obs.reachesApiSinceMs === null)
    if (!same) this.#checkMembership()
  }

  /**
   * Hands a changed pool ConfigMap to the parsing thread (config-parser.ts); the result lands in #config
   * (valid) or the log (invalid: the last good config is kept), and a recompute follows. Returns the parse,
   * for start() to wait for.
   */
  #refreshConfig(): Promise<void> {
    const view = this.#configMaps?.get(`${this.#o.configNamespace}/${this.#o.configName}`) ?? null
    const text = view?.data.config ?? null
    if (text === this.#configText) return Promise.resolve()
    this.#configText = text
    if (text === null) {
      this.#o.log.warn('pool ConfigMap missing; keeping the last good config')
      return Promise.resolve()
    }
    return this.#configParser.parse(text).then(parsed => {
      if (parsed === null || this.#closed || text !== this.#configText) return
      if (parsed.ok) {
        this.#config = parsed.index
        this.#schedule()
      } else {
        this.#o.log.error({ errors: parsed.errors.map(formatConfigError) }, 'pool config invalid; keeping the last good config')
      }
    })
  }

  #recompute(): void {
    if (this.#closed || !this.#services || !this.#nodes || !this.#slices) return
    void this.#refreshConfig()
    // Node readiness may have changed too: refresh the membership without re-entering #schedule.
    const live = this.#membership(this.#clock.now()).live
    this.#live = live
    const plan = planAnnouncements({
      me: this.#o.nodeName, services: this.#services.list(), slices: this.#slices.list(), nodes: this.#nodes.list(), live,
      pools: this.#config, loadBalancerClass: this.#o.loadBalancerClass, interfaces: this.#o.announcers.map(a => a.interfaceName),
    })
    for (const a of this.#o.announcers) a.setAnnounced(plan.perInterface.get(a.interfaceName) ?? [], plan.fresh)
    if (this.#tellPeersAfterWithdrawal) {
      this.#tellPeersAfterWithdrawal = false
      if (this.#joined) this.#o.peerHeartbeats?.sendNow()
    }
    this.#reportChanges(plan.mine)
    this.#mine = plan.mine
  }

  #reportChanges(next: ReadonlyMap<string, ReadonlySet<string>>): void {
    const me = this.#o.nodeName
    const gauge = this.#announcedGauge
    for (const [key, ips] of next) {
      const before = this.#mine.get(key)
      const svc = this.#services?.get(key)
      for (const ip of ips) gauge?.set({ service: key, node: me, ip }, 1)
      if (before && [...ips].every(ip => before.has(ip))) continue
      this.#o.log.info({ service: key, ips: [...ips] }, 'announcing')
      if (svc) {
        void this.#events?.record(
          { kind: 'Service', apiVersion: 'v1', namespace: svc.namespace, name: svc.name, uid: svc.uid },
          'Normal', 'nodeAssigned', `announcing from node ${me}`,
        )
      }
    }
    for (const [key, ips] of this.#mine) {
      const now = next.get(key)
      for (const ip of ips) {
        if (now?.has(ip)) continue
        gauge?.remove({ service: key, ip })
        this.#o.log.info({ service: key, ip }, 'withdrawing')
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#clock.clearTimeout(this.#expiryTimer)
    this.#expiryTimer = undefined
    // Stop answering first, then give the Lease up: peers see the deletion and the next winner's gratuitous
    // ARP takes each IP over without waiting for the Lease to expire (SIGTERM handover, docs/architecture.md).
    for (const a of this.#o.announcers) a.setAnnounced([])
    // Peers hear `leaving` on the LAN within a millisecond; the Lease deletion reaches them through the API.
    this.#o.peerHeartbeats?.close()
    await this.#heartbeat?.close()
    await Promise.all([
      this.#services?.close(), this.#nodes?.close(), this.#slices?.close(), this.#configMaps?.close(), this.#leases?.close(),
    ])
    for (const a of this.#o.announcers) await a.close()
    await this.#configParser.close()
  }
}
