// `kubectl l2lb import-metallb`, the decision: MetalLB's configuration as the cluster holds it (the CRDs
// IPAddressPool and L2Advertisement of metallb.io/v1beta1, the BGP objects, or the legacy ConfigMap of MetalLB
// up to v0.12) in, the equivalent l2lb pool ConfigMap text and one note per thing not carried over out. Pure:
// the shell (controller/kube/read-metallb.ts) reads the objects and applies the result.
//
// MetalLB's rules followed here are those of internal/config/config.go (addressPoolFromCR,
// addressPoolServiceAllocationsFromCR, setL2AdvertisementsToPools, ParseCIDR) and internal/allocator/allocator.go
// (Allocate, pinnedPoolsForService, sortPools) of MetalLB v0.14/v0.15.
import { dump, load } from 'js-yaml'
import { formatValue, parseAddressBlock, parseIP } from '../../internal/core/ip.js'
import { parsePoolConfig, selectorMatches, type ConfigError, type LabelSelector, type LabelSelectorRequirement } from '../../internal/core/pool-config.js'

/** A Kubernetes object as read from the API (JSON), unchecked. */
export interface MetalLBObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly labels?: Readonly<Record<string, string>> }
  readonly spec?: unknown
}

export interface MetalLBInput {
  readonly ipAddressPools: readonly MetalLBObject[]
  readonly l2Advertisements: readonly MetalLBObject[]
  /** BGPAdvertisement, BGPPeer, BFDProfile, Community objects: reported as not carried over. */
  readonly bgpObjects: readonly { readonly kind: string; readonly name: string }[]
  /** The cluster's namespaces with their labels, to resolve serviceAllocation.namespaceSelectors. */
  readonly namespaces: readonly { readonly name: string; readonly labels: Readonly<Record<string, string>> }[]
  /** The `config` key of MetalLB's legacy ConfigMap (metallb-system/config), or null when there is none. */
  readonly legacyConfig: string | null
}

export interface ImportResult {
  /** The text for the `config` key of l2lb's pool ConfigMap. */
  readonly configText: string
  /** One line per thing not carried over (or carried over differently), saying why. */
  readonly notes: readonly string[]
  /** parsePoolConfig's errors for configText: empty when l2lb accepts it. */
  readonly errors: readonly ConfigError[]
  /** Where the pools came from. */
  readonly source: 'crds' | 'configmap' | 'none'
}

type Obj = Record<string, unknown>
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v)
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

/** A label selector as the API returns it, in the pool ConfigMap's shape (fields left out when empty). */
function selectorOut(v: unknown): Obj {
  const out: Obj = {}
  if (!isObj(v)) return out
  if (isObj(v.matchLabels) && Object.keys(v.matchLabels).length > 0) out.matchLabels = { ...v.matchLabels }
  if (Array.isArray(v.matchExpressions) && v.matchExpressions.length > 0) {
    out.matchExpressions = v.matchExpressions.filter(isObj).map(e => {
      const values = strings(e.values)
      return values.length > 0 ? { key: e.key, operator: e.operator, values } : { key: e.key, operator: e.operator }
    })
  }
  return out
}

/** The same selector as a value selectorMatches takes. */
function selectorValue(v: unknown): LabelSelector {
  const o = selectorOut(v)
  const matchLabels = isObj(o.matchLabels) ? (o.matchLabels as Record<string, string>) : {}
  const matchExpressions = (Array.isArray(o.matchExpressions) ? o.matchExpressions : []).filter(isObj)
    .map(e => ({ key: String(e.key), operator: e.operator, values: strings(e.values) }) as LabelSelectorRequirement)
  return { matchLabels, matchExpressions }
}

/**
 * An `addresses` entry as l2lb writes it. MetalLB reads a CIDR with net.ParseCIDR, which drops host bits
 * (`192.0.2.5/24` is `192.0.2.0/24`); l2lb refuses host bits, so the entry is written as the block MetalLB
 * used. Anything else is copied as it is and left to the parser's message.
 */
function addressOut(entry: string, where: string, notes: string[]): string {
  const s = entry.trim()
  const r = parseAddressBlock(s)
  if (r.ok || !s.includes('/') || s.includes('-')) return s
  const slash = s.indexOf('/')
  const ip = parseIP(s.slice(0, slash))
  const len = Number(s.slice(slash + 1))
  if (!ip.ok || !/^\d{1,3}$/.test(s.slice(slash + 1))) return s
  const bits = ip.value.family === 'IPv4' ? 32 : 128
  if (len > bits) return s
  const host = (1n << BigInt(bits - len)) - 1n
  const net = `${formatValue(ip.value.family, ip.value.value & ~host)}/${len}`
  notes.push(`${where}: ${s} has host bits set; MetalLB uses the whole block ${net}, and so does the import (l2lb wants it written so)`)
  return net
}

interface PoolOut extends Obj {
  name: string
}

function poolFromCR(o: MetalLBObject, input: MetalLBInput, notes: string[]): PoolOut | null {
  const name = o.metadata?.name ?? ''
  const where = `IPAddressPool ${name}`
  const spec = isObj(o.spec) ? o.spec : {}
  const addresses = strings(spec.addresses)
  if (name === '' || addresses.length === 0) {
    notes.push(`${where || 'an IPAddressPool without a name'}: not carried over: it has no addresses (MetalLB refuses it too: "pool has no prefixes defined")`)
    return null
  }
  const pool: PoolOut = { name, protocol: 'layer2', addresses: addresses.map(a => addressOut(a, where, notes)) }
  if (spec.autoAssign === false) pool['auto-assign'] = false
  if (spec.avoidBuggyIPs === true) pool['avoid-buggy-ips'] = true
  const sa = spec.serviceAllocation
  if (isObj(sa)) {
    const namespaces = new Set(strings(sa.namespaces))
    const nsSelectors = Array.isArray(sa.namespaceSelectors) ? sa.namespaceSelectors : []
    if (nsSelectors.length > 0) {
      // MetalLB resolves namespaceSelectors against the namespaces that exist (addressPoolServiceAllocationsFromCR)
      // and again whenever a Namespace changes; l2lb's pools list namespaces by name, resolved here, once.
      const matched: string[] = []
      for (const ns of input.namespaces) {
        if (nsSelectors.some(sel => selectorMatches(selectorValue(sel), ns.labels))) {
          namespaces.add(ns.name)
          matched.push(ns.name)
        }
      }
      notes.push(`${where}: serviceAllocation.namespaceSelectors resolved to the namespaces that match today (${matched.length > 0 ? matched.sort().join(', ') : 'none'}); l2lb lists namespaces by name, so a namespace labelled later is not added: run the import again or add it to namespaces`)
    }
    const serviceSelectors = (Array.isArray(sa.serviceSelectors) ? sa.serviceSelectors : []).map(selectorOut)
    if (namespaces.size > 0) pool.namespaces = [...namespaces].sort()
    if (serviceSelectors.length > 0) pool['service-selectors'] = serviceSelectors
    const priority = sa.priority
    if (typeof priority === 'number' && Number.isInteger(priority)) {
      if (priority > 0) pool.priority = priority
      else if (priority < 0) notes.push(`${where}: serviceAllocation.priority ${priority} not carried over: MetalLB gives a negative priority no defined place (sortPools), l2lb refuses it; the pool has no priority, as with 0`)
    }
    // MetalLB's Allocate tries the pinned pools (those whose serviceAllocation names namespaces or service
    // selectors) and then only pools without any serviceAllocation: a pool with a serviceAllocation that
    // restricts nothing (only a priority, or namespaceSelectors matching no namespace) is never chosen
    // automatically. l2lb says the same with auto-assign: false.
    if (namespaces.size === 0 && serviceSelectors.length === 0 && pool['auto-assign'] !== false) {
      pool['auto-assign'] = false
      notes.push(`${where}: written with auto-assign: false: its serviceAllocation restricts it to no namespace and no Service labels, and MetalLB then never picks it automatically (Allocate skips pools with a serviceAllocation outside the pinned ones); Services that ask for it by name or address still get it`)
    }
  }
  return pool
}

function advertisementFromCR(o: MetalLBObject, pools: readonly MetalLBObject[], kept: ReadonlySet<string>, notes: string[]): Obj | null {
  const where = `L2Advertisement ${o.metadata?.name ?? ''}`
  const spec = isObj(o.spec) ? o.spec : {}
  const named = strings(spec.ipAddressPools)
  const poolSelectors = Array.isArray(spec.ipAddressPoolSelectors) ? spec.ipAddressPoolSelectors : []
  const adv: Obj = {}
  // No pool named or selected: every pool (setL2AdvertisementsToPools: "No pool selector means select all pools").
  if (named.length > 0 || poolSelectors.length > 0) {
    const names = new Set<string>()
    for (const n of named) {
      if (kept.has(n)) names.add(n)
      else notes.push(`${where}: ipAddressPools names ${n}, which is no imported pool: left out (MetalLB ignores unknown names too)`)
    }
    if (poolSelectors.length > 0) {
      const selected = pools.filter(p => poolSelectors.some(sel => selectorMatches(selectorValue(sel), p.metadata?.labels ?? {})))
        .map(p => p.metadata?.name ?? '').filter(n => kept.has(n))
      for (const n of selected) names.add(n)
      notes.push(`${where}: ipAddressPoolSelectors resolved to the pools they select today (${selected.length > 0 ? selected.sort().join(', ') : 'none'}); l2lb names pools, so a pool labelled later is not added`)
    }
    if (names.size === 0) {
      notes.push(`${where}: not carried over: it names or selects no imported pool, so it announces nothing (as in MetalLB)`)
      return null
    }
    adv['ip-address-pools'] = [...names].sort()
  }
  const nodeSelectors = (Array.isArray(spec.nodeSelectors) ? spec.nodeSelectors : []).map(selectorOut)
  if (nodeSelectors.length > 0) adv['node-selectors'] = nodeSelectors
  const interfaces = strings(spec.interfaces)
  if (interfaces.length > 0) adv.interfaces = interfaces
  return adv
}

function fromCRDs(input: MetalLBInput, notes: string[]): Obj {
  const byName = [...input.ipAddressPools].sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1))
  const pools = byName.map(p => poolFromCR(p, input, notes)).filter((p): p is PoolOut => p !== null)
  const kept = new Set(pools.map(p => p.name))
  const adverts = [...input.l2Advertisements]
    .sort((a, b) => ((a.metadata?.name ?? '') < (b.metadata?.name ?? '') ? -1 : 1))
    .map(a => advertisementFromCR(a, byName, kept, notes)).filter((a): a is Obj => a !== null)
  // MetalLB with CRDs announces a pool only through an L2Advertisement; l2lb without an l2-advertisements list
  // (or with an empty one) announces every pool, and has no way to say "announce nothing".
  if (adverts.length === 0) {
    if (pools.length > 0) notes.push('no L2Advertisement: MetalLB announces none of these pools on layer 2, l2lb without l2-advertisements announces every pool; add l2-advertisements to the config if some pools must stay unannounced')
    if (input.legacyConfig !== null) notes.push('ConfigMap config (MetalLB up to v0.12): ignored, as MetalLB v0.13 and later ignore it: the IPAddressPools are the configuration')
    return { 'address-pools': pools }
  }
  const covered = new Set<string>()
  for (const a of adverts) {
    const names = a['ip-address-pools']
    for (const n of Array.isArray(names) ? strings(names) : [...kept]) covered.add(n)
  }
  for (const p of pools) {
    if (!covered.has(p.name)) notes.push(`IPAddressPool ${p.name}: no L2Advertisement covers it, so MetalLB does not announce it on layer 2 (a BGPAdvertisement may); l2lb keeps it, assigns from it and announces nothing, until you add it to l2-advertisements`)
  }
  if (input.legacyConfig !== null) notes.push('ConfigMap config (MetalLB up to v0.12): ignored, as MetalLB v0.13 and later ignore it: the IPAddressPools are the configuration')
  return { 'address-pools': pools, 'l2-advertisements': adverts }
}

function fromLegacy(text: string, notes: string[]): Obj {
  let doc: unknown
  try {
    doc = load(text)
  } catch (e) {
    notes.push(`ConfigMap config: not valid YAML (${e instanceof Error ? e.message.split('\n')[0] ?? '' : String(e)}): nothing carried over`)
    return { 'address-pools': [] }
  }
  if (!isObj(doc)) {
    notes.push('ConfigMap config: not a mapping: nothing carried over')
    return { 'address-pools': [] }
  }
  for (const k of Object.keys(doc)) {
    if (k === 'address-pools') continue
    notes.push(k === 'peers' || k.startsWith('bgp')
      ? `ConfigMap config: ${k} not carried over: a BGP setting, and l2lb is layer-2 only`
      : `ConfigMap config: ${k} not carried over: not a key MetalLB's layer-2 configuration has`)
  }
  const pools: PoolOut[] = []
  for (const p of Array.isArray(doc['address-pools']) ? doc['address-pools'] : []) {
    if (!isObj(p)) continue
    const name = typeof p.name === 'string' ? p.name : ''
    const where = `ConfigMap config, address-pools[${name}]`
    if (p.protocol !== 'layer2') {
      notes.push(`${where}: not carried over: protocol ${String(p.protocol)}, and l2lb is layer-2 only; Services holding its addresses get new ones from l2lb`)
      continue
    }
    const pool: PoolOut = { name, protocol: 'layer2', addresses: strings(p.addresses).map(a => addressOut(a, where, notes)) }
    if (p['auto-assign'] === false) pool['auto-assign'] = false
    if (p['avoid-buggy-ips'] === true) pool['avoid-buggy-ips'] = true
    for (const k of Object.keys(p)) {
      if (!['name', 'protocol', 'addresses', 'auto-assign', 'avoid-buggy-ips'].includes(k)) notes.push(`${where}: ${k} not carried over: ${k.startsWith('bgp') ? 'a BGP setting' : 'not a layer-2 pool setting'}`)
    }
    pools.push(pool)
  }
  return { 'address-pools': pools }
}

/** MetalLB's configuration in, l2lb's pool config text and the notes out. */
export function importMetalLB(input: MetalLBInput): ImportResult {
  const notes: string[] = []
  let doc: Obj
  let source: ImportResult['source']
  if (input.ipAddressPools.length > 0 || input.l2Advertisements.length > 0) {
    doc = fromCRDs(input, notes)
    source = 'crds'
  } else if (input.legacyConfig !== null) {
    doc = fromLegacy(input.legacyConfig, notes)
    source = 'configmap'
  } else {
    doc = { 'address-pools': [] }
    source = 'none'
    notes.push('no MetalLB configuration found (no IPAddressPool, no L2Advertisement, no legacy ConfigMap): the pool config is empty')
  }
  for (const b of input.bgpObjects) notes.push(`${b.kind} ${b.name}: not carried over: BGP, and l2lb is layer-2 only (ARP/NDP)`)
  const configText = dump(doc, { lineWidth: -1, noRefs: true, flowLevel: -1 })
  const parsed = parsePoolConfig(configText)
  return { configText, notes, errors: parsed.ok ? [] : parsed.errors, source }
}

/** The whole ConfigMap manifest, for `kubectl apply -f -`. */
export function poolConfigMapManifest(configText: string, namespace: string, name: string): string {
  return dump({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { namespace, name }, data: { config: configText } }, { lineWidth: -1 })
}
